"""Batch widths in steps of PAD_TO against exact widths, and one width per batch against
mixed widths: speed, side by side in one run.

Usage:
    python -m bench.padding [--articles 200] [--rounds 2] [--quick]

The engine pads every batch to a multiple of ``PAD_TO`` tokens so the CPU kernels meet
few distinct shapes (worker memory stayed flat under load: docs/reliability.md), and
puts sequences of one padded width in a batch (batching.ONE_WIDTH_PER_BATCH). This
measures what each costs or saves in time: the same articles, tagged in-process one at a
time and in groups of 16, alternating the settings. NEWSTAG_RUNTIME and
NEWSTAG_PRECISION choose what runs the model, as for the service.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.throughput import load_articles
from service.config import Settings
from service.engine import Tagger, batching, encoder
from service.interrupts import run_command


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
    name = tagger.backend.precision
    padded = encoder.PAD_TO
    tagger.tag(texts[:4])
    runtime = getattr(tagger.backend, "runtime", "torch")
    print(f"{len(texts)} articles, runtime {runtime}, precision {name}; articles/s (higher is better)")
    print(f"{'round':<7}{'widths':<34}{'one at a time':>15}{'groups of 16':>14}")
    one_width = batching.ONE_WIDTH_PER_BATCH
    settings_rows = (("exact", 1, True), (f"step {padded}, widths mixed", padded, False),
                     (f"step {padded}, one width a batch", padded, True))
    for round_ in range(args.rounds):
        for label, step, alone in settings_rows:
            encoder.PAD_TO, batching.ONE_WIDTH_PER_BATCH = step, alone
            try:
                single, grouped = articles_per_second(tagger, texts, 1), articles_per_second(tagger, texts, 16)
            finally:
                encoder.PAD_TO, batching.ONE_WIDTH_PER_BATCH = padded, one_width
            print(f"{round_ + 1:<7}{label:<34}{single:>15.2f}{grouped:>14.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.padding"))
