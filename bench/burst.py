"""A burst of requests at once, two checkouts side by side: how many are answered in time?

Usage:
    python -m bench.burst --before DIR [--after DIR] [--requests 16] [--documents 16]
                          [--timeout 30] [--rounds 2] [--data FILE.jsonl]

Starts the production server of each checkout (``git worktree add DIR COMMIT`` makes one)
on 127.0.0.1 with the same settings (``NEWSTAG_REQUEST_TIMEOUT`` as given, the document
cache off, the multilingual model off), then sends each, in turn (ABBA), ``--requests``
requests at the same moment, each of ``--documents`` articles no other request carries.
It counts the answers by status (200; 503: out of time behind others; 413: out of time
with nothing ahead) and gives the answered requests' latencies. A burst whose work takes
longer than the time limit is where one round of everything queued failed every request
together (session 27); rounds by deadline answer the first ones.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from bench.checkouts import alternate
from bench.server import ROOT, Client, Server
from bench.throughput import SHARED_DATA, load_articles
from service.interrupts import run_command


def burst(port: int, bodies: list[bytes]) -> list[tuple[int, float]]:
    """Send every body at once, one connection each; (status, seconds) per request."""
    clients = [Client(port) for _ in bodies]
    out: list[tuple[int, float]] = [(0, 0.0)] * len(bodies)
    start = threading.Barrier(len(bodies))

    def send(i: int) -> None:
        start.wait()
        began = time.perf_counter()
        status = clients[i].classify(bodies[i])
        out[i] = (status, time.perf_counter() - began)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    return out


def summary(answers: list[tuple[int, float]]) -> str:
    counts = Counter(status for status, _ in answers)
    answered = sorted(seconds for status, seconds in answers if status == 200)
    times = (f"{statistics.median(answered):.2f} / {answered[-1]:.2f}" if answered else "-")
    return f"{counts.get(200, 0):>3} {counts.get(503, 0):>3} {counts.get(413, 0):>3}   {times}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.burst", description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout (e.g. a git worktree)")
    parser.add_argument("--after", type=Path, default=ROOT, help="default: this checkout")
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--documents", type=int, default=16, help="articles per request")
    parser.add_argument("--timeout", type=float, default=30.0, help="NEWSTAG_REQUEST_TIMEOUT of both servers")
    parser.add_argument("--rounds", type=int, default=2, help="bursts per server, in ABBA order")
    parser.add_argument("--data", type=Path, help="JSONL with a text field (default: BBC News train)")
    args = parser.parse_args(argv)
    needed = args.requests * args.documents * 2 * args.rounds
    texts = load_articles(args.data or SHARED_DATA, needed)
    if len(texts) < needed:
        print(f"bench.burst: {needed} articles needed, {len(texts)} found", file=sys.stderr)
        return 2
    env = {"NEWSTAG_REQUEST_TIMEOUT": str(args.timeout), "NEWSTAG_DOCUMENT_CACHE": "0",
           "NEWSTAG_MULTILINGUAL_MODEL": "off"}
    roots = {"before": args.before.resolve(), "after": args.after.resolve()}
    servers = {name: Server(env, root) for name, root in roots.items()}
    fresh = iter(texts)  # every request its own articles: nothing is answered from a cache
    results: dict[str, list[str]] = {name: [] for name in servers}
    try:
        for server in servers.values():
            server.wait_ready(600)
        for round_ in range(args.rounds):
            for name in alternate(list(servers), round_):
                bodies = [json.dumps({"documents": [{"id": str(d), "text": next(fresh)}
                                                    for d in range(args.documents)]}).encode()
                          for _ in range(args.requests)]
                results[name].append(summary(burst(servers[name].port, bodies)))
                print(f"{name} burst {round_ + 1}: {results[name][-1]}", file=sys.stderr)
    finally:
        for server in servers.values():
            server.stop()
    print(f"\n{args.requests} requests of {args.documents} articles at once, NEWSTAG_REQUEST_TIMEOUT "
          f"{args.timeout:g} s; before {roots['before']}, after {roots['after']}")
    print("          200 503 413   answered: p50 / slowest s")
    for name, lines in results.items():
        for line in lines:
            print(f"{name:<8}  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.burst"))
