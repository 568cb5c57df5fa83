"""Throughput and latency of the production server (gunicorn with gunicorn.conf.py) on loopback.

Usage:
    python -m bench.throughput [--seconds 10] [--concurrency 1,4,16] [--precision fp32,bf16,int8]
                               [--runtime torch,onnx] [--onnx-dir DIR]
                               [--batching on,off] [--matcher on] [--data FILE.jsonl] [--quick]

For each runtime, precision and batching setting it starts the server on 127.0.0.1, waits for
/readyz, then drives POST /v1/classify with a bounded number of client threads for a
bounded time per concurrency, with real articles (../shared/data/bbc-news-train.jsonl
when present, else seeds/). The document cache is off, so every request is computed.
It also times one 500-word article alone (p50 of --latency-runs requests).

Windows and tokens per article are counted with the engine's own chunking, and the
model FLOPs of each window with torch's FlopCounterMode, so the achieved GFLOP/s can be
set against this machine's fp32 matmul GFLOP/s (bench/ceiling.py), measured again before each
setting's rows (the GF/s column), since the host's load moves it: "% ceiling". A request
also reads candidate sentences alone (evidence), a second pass the windows do not count:
"% all" counts every pass (bench/request_costs.py: each article done is tagged once in
this process, after its row, to count them).
The clients run on the same cores as the server, so the figures include their cost.
With NEWSTAG_MODEL naming a local model (EmbeddingGemma), the servers run it and the
windows, tokens and FLOPs are that model's; precisions its profile refuses on torch are
skipped for torch.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.ceiling import matmul_gflops
from bench.request_costs import RequestCosts
from bench.server import Client, Server
from bench.window_costs import ArticleCost, article_costs
from service.config import Settings
from service.engine.model_files import WEIGHTS_FILE, sha256_of
from service.engine.model_profiles import profile_for
from service.interrupts import run_command
from service.options import ONNX_PRECISIONS

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data" / "bbc-news-train.jsonl"


def load_articles(path: Path | None, limit: int) -> list[str]:
    if path is None:
        path = SHARED_DATA if SHARED_DATA.is_file() else None
    if path is not None:
        with path.open(encoding="utf-8") as lines:
            return [json.loads(line)["text"] for line in itertools.islice(lines, limit) if line.strip()]
    texts = [(ROOT / "seeds" / "000_61fd793a4efa8984.txt").read_text(encoding="utf-8")]
    for line in (ROOT / "seeds" / "examples.jsonl").read_text(encoding="utf-8").splitlines():
        texts.append(json.loads(line)["text"])
    return texts


def five_hundred_words(texts: list[str]) -> str:
    """A real article of about 500 words: the first one long enough, cut at a sentence end."""
    words = next((t.split() for t in texts if len(t.split()) >= 500), " ".join(texts).split())
    cut = words[:500]
    while cut and not cut[-1].endswith((".", "!", "?", '"')) and len(cut) > 450:
        cut.pop()
    return " ".join(cut)


@dataclass
class Cell:
    requests: int
    failures: int
    seconds: float
    latencies: list[float]
    windows: int
    tokens: int
    flops: float
    done: list[int]  # the articles answered, by index

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def drive(port: int, bodies: list[bytes], costs: list[ArticleCost], concurrency: int, seconds: float) -> Cell:
    """``concurrency`` clients send articles in turn (each a fresh one) for ``seconds``."""
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    done: list[int] = []
    failures = [0]
    end = time.monotonic() + seconds

    def client() -> None:
        conn = Client(port)
        while time.monotonic() < end:
            with lock:
                k = next(counter) % len(bodies)
            start = time.perf_counter()
            status = conn.classify(bodies[k])
            elapsed = time.perf_counter() - start
            with lock:
                if status == 200:
                    latencies.append(elapsed)
                    done.append(k)
                else:
                    failures[0] += 1
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return Cell(len(done), failures[0], wall, latencies, sum(costs[k].windows for k in done),
                sum(costs[k].tokens for k in done), sum(costs[k].flops for k in done), done)


def body(text: str) -> bytes:
    return json.dumps({"text": text}).encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="time per concurrency level")
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--precision", default="fp32,bf16,int8")
    parser.add_argument("--runtime", default="torch", help="torch,onnx: NEWSTAG_RUNTIME of each server")
    parser.add_argument("--onnx-dir", type=Path, help="NEWSTAG_ONNX_DIR for runtime onnx (default: the user cache)")
    parser.add_argument("--batching", default="on,off")
    parser.add_argument("--matcher", default="on", help="on,off: with and without the matcher adapter, side by side")
    parser.add_argument("--data", type=Path, help="JSONL with a text field (default: BBC News train, else seeds/)")
    parser.add_argument("--articles", type=int, default=1500, help="at most this many articles")
    parser.add_argument("--latency-runs", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run (CI)")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.concurrency, args.precision, args.batching = 1.0, "1,2", "fp32", "on"
        args.matcher = "on"
        args.latency_runs = 3
        args.articles = min(args.articles, 20)
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    texts = load_articles(args.data, args.articles)
    long_text = five_hundred_words(texts)
    model_dir = Settings.from_env().model  # NEWSTAG_MODEL, which the servers read too
    costs = article_costs(texts, model_dir)
    every_pass = RequestCosts(model_dir)
    refused = profile_for(sha256_of(model_dir / WEIGHTS_FILE)).refused_precisions if model_dir else {}
    bodies = [body(t) for t in texts]
    def ceiling() -> float:
        return matmul_gflops(torch.float32, 256 if args.quick else 1024, 0.2 if args.quick else 3.0)

    ceilings = [ceiling()]
    print(f"{len(texts)} articles, {sum(c.windows for c in costs) / len(costs):.2f} windows and "
          f"{sum(c.tokens for c in costs) / len(costs):.0f} tokens each on average; fp32 matmul "
          f"{ceilings[0]:.1f} GFLOP/s ({os.cpu_count()} cores) at the start, and again before each setting's "
          f"rows (GF/s: the shares are of it); {args.seconds:g} s per row; document cache off")
    print(f"{'setting':<16}{'batching':<9}{'conc':>5}{'req':>6}{'fail':>5}{'art/s':>8}{'win/s':>8}"
          f"{'tok/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'GF/s':>6}{'%ceil':>7}{'%all':>6}")
    settings = [(r, p, b, m) for r in args.runtime.split(",") for p in args.precision.split(",")
                for b in args.batching.split(",") for m in args.matcher.split(",")]
    for runtime, precision, batching, matcher in settings:
        name = precision if matcher == "on" else f"{precision}-plain"  # plain: NEWSTAG_MATCHER=off
        name = name if runtime == "torch" else f"{runtime}-{name}"
        if runtime == "torch" and precision in refused:
            print(f"{name:<16}{batching:<9} skipped: refused for this model on torch ({refused[precision]})")
            continue
        if runtime == "onnx" and precision not in ONNX_PRECISIONS:
            print(f"{name:<16}{batching:<9} skipped: no ONNX graph for {precision}")
            continue
        env = {"NEWSTAG_PRECISION": precision, "NEWSTAG_BATCHING": batching, "NEWSTAG_MATCHER": matcher,
               "NEWSTAG_DOCUMENT_CACHE": "0", "NEWSTAG_RUNTIME": runtime}
        if args.onnx_dir is not None:
            env["NEWSTAG_ONNX_DIR"] = str(args.onnx_dir)
        server = Server(env)
        try:
            server.wait_ready()
            # The host's other tenants move the ceiling by a quarter within minutes (143-200
            # GFLOP/s in one afternoon here): each setting's shares are of the ceiling measured
            # just before its rows, with its server loaded and idle.
            fp32_gflops = ceiling()
            ceilings.append(fp32_gflops)
            drive(server.port, bodies[:4], costs[:4], 1, 1.0)  # warm-up
            for concurrency in concurrencies:
                cell = drive(server.port, bodies, costs, concurrency, args.seconds)
                share = cell.flops / cell.seconds / 1e9 / fp32_gflops * 100
                every = sum(every_pass(texts[k]).flops for k in cell.done) / cell.seconds / 1e9 / fp32_gflops * 100
                print(f"{name:<16}{batching:<9}{concurrency:>5}{cell.requests:>6}{cell.failures:>5}"
                      f"{cell.requests / cell.seconds:>8.1f}{cell.windows / cell.seconds:>8.1f}"
                      f"{cell.tokens / cell.seconds:>8.0f}{cell.percentile(50):>8.0f}"
                      f"{cell.percentile(95):>8.0f}{cell.percentile(99):>8.0f}{fp32_gflops:>6.0f}"
                      f"{share:>6.0f}%{every:>5.0f}%", flush=True)
            single = [body(long_text)] * args.latency_runs
            p50 = drive_sequential(server.port, single)
            print(f"{name:<16}{batching:<9}{'1':>5}{'':>6}{'':>5}  one 500-word article "
                  f"({len(long_text.split())} words): p50 {p50:.0f} ms", flush=True)
        finally:
            server.stop()
    print(f"fp32 matmul ceiling over the run: {min(ceilings):.1f}-{max(ceilings):.1f} GFLOP/s "
          f"({len(ceilings)} measurements)")
    counted = every_pass.counted()
    if counted:
        sequences = sum(c.sequences for c in counted) / len(counted)
        tokens = sum(c.tokens for c in counted) / len(counted)
        print(f"every pass, on the {len(counted)} articles answered: {sequences:.1f} sequences and {tokens:.0f} "
              "tokens each on average (windows and sentences read alone; counted in this process, torch fp32)")
    return 0


def drive_sequential(port: int, bodies: list[bytes]) -> float:
    """p50 latency in ms of the given requests sent one after another."""
    conn = Client(port)
    times = []
    for payload in bodies:
        start = time.perf_counter()
        status = conn.classify(payload)
        if status != 200:
            raise RuntimeError(f"the 500-word article got HTTP {status}")
        times.append(time.perf_counter() - start)
    conn.close()
    return statistics.median(times) * 1000


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.throughput"))
