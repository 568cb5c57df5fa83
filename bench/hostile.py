"""Hostile requests against two checkouts, side by side: what does a bad request cost a worker?

Usage:
    python -m bench.hostile --before DIR [--after DIR] [--rounds 2]

Starts the production server of each checkout (``git worktree add DIR COMMIT`` makes one)
on 127.0.0.1 with the same settings (one worker, the default request timeout of 30 s, the
multilingual model off), then sends each request below to one server and the other in turn
(ABBA over ``--rounds``), one at a time, and prints its status and seconds:

- caller keywords: 9 texts of 100,000 characters, 100 labels of ten accented vowels each
  (single-label, so evidence is read too);
- validation: a 30 KB body of 10,000 labels of the wrong type, and 20,000 unknown fields;
- slow headers: 12 connections that send half a request's headers and stop, then how long
  /healthz takes to answer (at most 40 s are waited for).

Found by helpers probing the service in session 28; docs/benchmarks.md has the figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import sys
import time
from pathlib import Path

from bench.checkouts import alternate
from bench.server import ROOT, Server
from service.interrupts import run_command

ACCENTED = ["á", "é", "í", "ó", "ú", "à", "è", "ì", "ò"]


def bodies() -> dict[str, bytes]:
    labels = [{"name": f"L{i}", "keywords": ACCENTED + [f"zq{i}"]} for i in range(100)]
    texts = [{"id": str(k), "text": "á" + "a" * 99_990 + str(k)} for k in range(9)]
    return {
        "caller keywords (9 x 100,000 chars, 100 labels x 10 keywords)":
            json.dumps({"documents": texts, "labels": labels, "multi_label": False}).encode(),
        "10,000 labels of the wrong type (30 KB)": json.dumps({"text": "x", "labels": [1] * 10_000}).encode(),
        "20,000 unknown fields": json.dumps({"text": "x", **{f"f{i}": 1 for i in range(20_000)}}).encode(),
    }


def timed_post(port: int, body: bytes) -> tuple[int, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    start = time.perf_counter()
    try:
        conn.request("POST", "/v1/classify", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - start
    finally:
        conn.close()


def healthz_behind_stalled_headers(port: int, connections: int = 12, wait: float = 40.0) -> tuple[int, float]:
    """(status, seconds) of /healthz while ``connections`` clients hold half-sent headers; 0 if none came."""
    stalled = []
    try:
        for _ in range(connections):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
            stalled.append(sock)
        start = time.perf_counter()
        while time.perf_counter() - start < wait:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
            try:
                conn.request("GET", "/healthz")
                response = conn.getresponse()
                response.read()
                return response.status, time.perf_counter() - start
            except OSError:
                pass
            finally:
                conn.close()
        return 0, time.perf_counter() - start
    finally:
        for sock in stalled:
            sock.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout (e.g. a git worktree)")
    parser.add_argument("--after", type=Path, default=ROOT, help="default: this checkout")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    env = {"NEWSTAG_WORKERS": "1", "NEWSTAG_THREADS": "4", "NEWSTAG_MAX_QUEUE": "2",
           "NEWSTAG_MULTILINGUAL_MODEL": "off"}
    roots = {"before": args.before.resolve(), "after": args.after.resolve()}
    servers = {name: Server(env, root) for name, root in roots.items()}
    rows: dict[str, dict[str, list[str]]] = {}
    try:
        for server in servers.values():
            server.wait_ready(600)
        for round_ in range(args.rounds):
            for name in alternate(list(servers), round_):
                port = servers[name].port
                for what, body in bodies().items():
                    status, seconds = timed_post(port, body)
                    rows.setdefault(what, {}).setdefault(name, []).append(f"{status} in {seconds:.2f} s")
                    print(f"{name} {what}: {status} in {seconds:.2f} s", file=sys.stderr)
                status, seconds = healthz_behind_stalled_headers(port)
                what = "/healthz behind 12 half-sent headers"
                rows.setdefault(what, {}).setdefault(name, []).append(
                    f"{status} in {seconds:.1f} s" if status else f"no answer in {seconds:.0f} s")
                print(f"{name} {what}: {rows[what][name][-1]}", file=sys.stderr)
                time.sleep(2)
    finally:
        for server in servers.values():
            server.stop()
    print(f"\nbefore {roots['before']}, after {roots['after']}; one worker, 4 threads, requests one at a time")
    print("| request | before | after |\n|---|---|---|")
    for what, by_name in rows.items():
        print(f"| {what} | {'; '.join(by_name.get('before', []))} | {'; '.join(by_name.get('after', []))} |")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.hostile"))
