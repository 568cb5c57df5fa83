"""Where one request's time goes, inside the model and around it (issue #17).

Usage:
    python -m bench.profile_path [--runtime onnx] [--precision int8] [--articles 40] [--top 15] [--data F]

Tags BBC News articles one call at a time in this process (no HTTP, batching and the
document cache off) under cProfile, and prints the time per article, the share spent in
the model's forward pass (ONNX Runtime's run, or the torch module's call) and the
functions that took the most time of their own: what runs around the model (sentence
splitting, tokenising, pooling, scoring, evidence) is everything else.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

from bench.throughput import load_articles
from service.config import Settings
from service.engine import Tagger
from service.interrupts import run_command

# The encoder's forward pass over one padded batch (padding, the model, its output).
FORWARD = ("encoder.py", "_run_batch")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_path", description=__doc__.split("\n")[0])
    parser.add_argument("--runtime", default="onnx")
    parser.add_argument("--precision", default="int8")
    parser.add_argument("--articles", type=int, default=40)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--data", type=Path, help="JSONL with a text field (default: BBC News train, else seeds/)")
    args = parser.parse_args(argv)
    texts = load_articles(args.data, max(args.articles, 3))
    settings = Settings.from_env(runtime=args.runtime, precision=args.precision, batching=False, document_cache=0)
    tagger = Tagger.load(settings.engine_options())
    backend = tagger.backend
    for text in texts[:3]:  # warm-up: label vectors, first shapes
        tagger.tag([text])
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    for text in texts[: args.articles]:
        tagger.tag([text])
    profile.disable()
    wall = time.perf_counter() - start
    stats = pstats.Stats(profile)
    model = sum(row[3] for (path, _, name), row in stats.stats.items()  # type: ignore[attr-defined]
                if path.endswith(FORWARD[0]) and name == FORWARD[1])
    print(f"{getattr(backend, 'runtime', 'torch')} {backend.precision}: {args.articles} articles, "
          f"{wall / args.articles * 1000:.1f} ms each; in the model's forward pass "
          f"{model / args.articles * 1000:.1f} ms, around it {(wall - model) / args.articles * 1000:.1f} ms "
          f"(profiler overhead included); load average {os.getloadavg()[0]:.2f}")
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.profile_path"))
