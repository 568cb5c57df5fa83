"""What tagging costs in process, per article: the news taxonomy and caller labels, evidence on and off.

Usage:
    python -m bench.tag_cost [--data ../shared/data/bbc-news-train.jsonl] [--articles 200] [--rounds 3]

Runs the Tagger in this process (no HTTP), in calls of 16 articles, and reports articles
per second, best of ``--rounds`` passes, for each setting. Run it in two checkouts one
after the other to compare them; the ratio between settings of one run is what to read.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

from service.config import Settings
from service.engine import Tagger
from service.interrupts import run_command
from training.data import read_labeled

SETTINGS: dict[str, dict[str, Any]] = {
    "news taxonomy, evidence": {},
    "news taxonomy, no evidence": {"evidence": False},
    "5 caller labels, evidence": {"labels": ["business", "entertainment", "politics", "sport", "tech"]},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tag_cost", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/bbc-news-train.jsonl"))
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"bench.tag_cost: {args.data} not found", file=sys.stderr)
        return 2
    texts = [e.text for e in read_labeled(args.data)]
    texts = random.Random(0).sample(texts, min(args.articles, len(texts)))
    tagger = Tagger.load(Settings.from_env(document_cache=0).engine_options())
    tagger.tag(texts[:4])  # warm up
    print("| setting | articles/s (best of rounds) |\n|---|---|")
    for name, options in SETTINGS.items():
        best = 0.0
        for _ in range(args.rounds):
            start = time.perf_counter()
            for i in range(0, len(texts), 16):
                tagger.tag(texts[i:i + 16], **options)
            best = max(best, len(texts) / (time.perf_counter() - start))
        print(f"| {name} | {best:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.tag_cost"))
