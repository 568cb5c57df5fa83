"""Two checkouts of newstag through HTTP, side by side: did a change make the server faster?

Usage:
    python -m bench.checkouts --before DIR [--after DIR] [--runtime onnx] [--precision int8]
                              [--rounds 4] [--seconds 15] [--latency-runs 80] [--data FILE.jsonl]

Starts the production server of each checkout (``git worktree add DIR COMMIT`` makes one)
on 127.0.0.1 with the same settings, both at once, and alternates between them so that the
machine's drift (these VMs change speed by a tenth from minute to minute) falls on both
alike: one 500-word article at a time, requests alternating (p50, p25, p75), then
``--rounds`` blocks of 16 concurrent clients, in the order ABBA. The document cache is off.
Only one server works at a time; the idle one holds its memory, nothing more.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from bench.server import ROOT, Client, Server
from bench.throughput import SHARED_DATA, body, drive, five_hundred_words, load_articles
from bench.window_costs import ArticleCost
from service.interrupts import run_command


def alternate(names: list[str], round_: int) -> list[str]:
    """ABBA: the first of a round goes second in the next."""
    return names if round_ % 2 == 0 else names[::-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.checkouts", description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout (e.g. a git worktree)")
    parser.add_argument("--after", type=Path, default=ROOT, help="default: this checkout")
    parser.add_argument("--runtime", default="onnx")
    parser.add_argument("--precision", default="int8")
    parser.add_argument("--onnx-dir", type=Path, help="NEWSTAG_ONNX_DIR of both servers")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15.0, help="per block of 16 clients")
    parser.add_argument("--latency-runs", type=int, default=80, help="500-word requests per checkout")
    parser.add_argument("--data", type=Path, help="JSONL with a text field (default: BBC News train, else seeds/)")
    args = parser.parse_args(argv)
    # The multilingual model off on both: a git worktree has no base-models/ (untracked), so
    # with it on, only this checkout routed texts to EmbeddingGemma and ran slower for it.
    env = {"NEWSTAG_RUNTIME": args.runtime, "NEWSTAG_PRECISION": args.precision, "NEWSTAG_DOCUMENT_CACHE": "0",
           "NEWSTAG_MULTILINGUAL_MODEL": "off"}
    if args.onnx_dir is not None:
        env["NEWSTAG_ONNX_DIR"] = str(args.onnx_dir.resolve())
    texts = load_articles(args.data or SHARED_DATA, 1500)
    bodies = [body(t) for t in texts]
    costs = [ArticleCost(0, 0, 0.0)] * len(bodies)  # articles/s only: no FLOPs counted here
    five = body(five_hundred_words(texts))
    roots = {"before": args.before.resolve(), "after": args.after.resolve()}
    servers = {name: Server(env, root) for name, root in roots.items()}
    try:
        for server in servers.values():
            server.wait_ready()
        names = list(servers)
        clients = {name: Client(server.port) for name, server in servers.items()}
        latencies: dict[str, list[float]] = {name: [] for name in names}
        for name in names:  # warm-up: the shapes of this article
            for _ in range(5):
                clients[name].classify(five)
        for i in range(args.latency_runs):
            for name in alternate(names, i):
                start = time.perf_counter()
                if clients[name].classify(five) != 200:
                    raise RuntimeError(f"{name}: the 500-word article failed")
                latencies[name].append((time.perf_counter() - start) * 1000)
        rates: dict[str, list[float]] = {name: [] for name in names}
        for name in names:
            drive(servers[name].port, bodies, costs, 16, min(5.0, args.seconds))  # warm-up
        for r in range(args.rounds):
            for name in alternate(names, r):
                cell = drive(servers[name].port, bodies, costs, 16, args.seconds)
                if cell.failures:
                    raise RuntimeError(f"{name}: {cell.failures} requests failed")
                rates[name].append(cell.requests / cell.seconds)
    finally:
        for server in servers.values():
            server.stop()
    print(f"{args.runtime} {args.precision}, {len(texts)} articles; before {roots['before']}, after {roots['after']}")
    print(f"{'':8}{'500 words p50 ms':>18}{'p25':>7}{'p75':>7}   16 clients articles/s (each block; median)")
    for name in names:
        q1, q2, q3 = statistics.quantiles(latencies[name], n=4)
        blocks = " ".join(f"{x:.1f}" for x in rates[name])
        print(f"{name:8}{q2:>18.1f}{q1:>7.1f}{q3:>7.1f}   {blocks}; {statistics.median(rates[name]):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.checkouts"))
