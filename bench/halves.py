"""Split a labelled JSONL file in two halves, label by label, to train on one and measure on the other.

EmbeddingGemma's topic matcher (service/matcher_multilingual/) read one half of MasakhaNEWS
French dev; the other half is where its French figures are measured (docs/benchmarks.md,
"French news in EmbeddingGemma's matcher"):

    python -m bench.halves ../shared/data/masakhanews-fra-dev.jsonl /tmp/frA.jsonl /tmp/frB.jsonl

Each label's rows (by their first label) are shuffled with the seed and cut in two, the
first half (the smaller, for an odd count) to the first file; rows keep their fields, with
`split` set to "train" so that training.matcher reads every row of either file.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

from service.interrupts import run_command


def halves(rows: list[dict], seed: int) -> tuple[list[dict], list[dict]]:
    by_label: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_label[row["labels"][0]].append(row)
    rng = random.Random(seed)
    first: list[dict] = []
    second: list[dict] = []
    for label in sorted(by_label):
        shuffled = by_label[label][:]
        rng.shuffle(shuffled)
        cut = len(shuffled) // 2
        first += shuffled[:cut]
        second += shuffled[cut:]
    return first, second


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.halves", description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path, help="a labelled JSONL file (text, labels)")
    parser.add_argument("first", type=Path, help="where to write the first half")
    parser.add_argument("second", type=Path, help="where to write the second half")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    for path, part in zip((args.first, args.second), halves(rows, args.seed), strict=True):
        path.write_text("".join(json.dumps({**row, "split": "train"}, ensure_ascii=False) + "\n" for row in part),
                        encoding="utf-8")
        print(f"{path}: {len(part)} rows")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.halves"))
