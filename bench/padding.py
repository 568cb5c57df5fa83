"""Batch widths in steps of PAD_TO against exact widths: speed, side by side in one run.

Usage:
    python -m bench.padding [--articles 200] [--rounds 2] [--quick]

The engine pads every batch to a multiple of ``PAD_TO`` tokens so the CPU kernels meet
few distinct shapes (worker memory stayed flat under load: docs/reliability.md). This
measures what the padding costs in time: the same articles, tagged in-process one at a
time and in groups of 16, alternating exact widths and padded widths.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.throughput import load_articles
from service.config import Settings
from service.engine import Tagger, encoder
from service.engine.precision import Precision


def articles_per_second(tagger: Tagger, texts: list[str], group: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(texts), group):
        tagger.tag(texts[i:i + group])
    return len(texts) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.padding", description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.articles, args.rounds = 8, 1
    texts = load_articles(None, args.articles)
    settings = Settings.from_env(document_cache=0, batching=False)
    tagger = Tagger.load(settings.engine_options())
    name = Precision(settings.precision).name
    padded = encoder.PAD_TO
    tagger.tag(texts[:4])
    print(f"{len(texts)} articles, precision {name}; articles/s (higher is better)")
    print(f"{'round':<7}{'widths':<10}{'one at a time':>15}{'groups of 16':>14}")
    for round_ in range(args.rounds):
        for label, step in (("exact", 1), (f"step {padded}", padded)):
            encoder.PAD_TO = step
            try:
                single, grouped = articles_per_second(tagger, texts, 1), articles_per_second(tagger, texts, 16)
            finally:
                encoder.PAD_TO = padded
            print(f"{round_ + 1:<7}{label:<10}{single:>15.2f}{grouped:>14.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
