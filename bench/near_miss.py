"""Labels that nearly apply: each article asked its own set's labels with its right ones removed.

Usage:
    python -m bench.near_miss [--data-dir ../shared/data] [--per-set 200] [--seed 0]

The trust benchmark's unrelated labels are far from every article (religion, cooking,
astronomy); an editor's label set is mostly near ones: a football report asked about
athletics, cricket, rugby and tennis, a chipmaker's results asked about World, Sports and
Business. Every label left applies to none of the article, so the right answer is no
topic. Prints, per set, the share of articles with no topic, the mean best score, and the
commonest (right label, returned label) pairs, through the Tagger at default settings on
articles the calibration fit did not see (bench.trust's held-out samples).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from service.config import Settings
from service.engine import Tagger
from service.interrupts import run_command
from training.data import read_labeled

from .trust import SETS, held_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.near_miss", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--per-set", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.data_dir.is_dir():
        print(f"bench.near_miss: {args.data_dir} not found (the shared corpora)", file=sys.stderr)
        return 2
    tagger = Tagger.load(Settings.from_env(None).engine_options())
    print("| set | articles | no topic | mean best score | commonest (right, returned) |\n|---|---:|---:|---:|---|")
    for name in SETS:
        every = sorted({label for e in read_labeled(args.data_dir / f"{name}.jsonl") for label in e.labels})
        articles = held_out(args.data_dir, name, args.per_set, args.seed)
        best, wrong = [], Counter[tuple[str, str]]()
        for article in articles:  # one call each: the label set differs per article
            [result] = tagger.tag([article.text], [x for x in every if x not in article.labels], evidence=False)
            if result.topics:
                best.append(result.topics[0].score)
                wrong[(article.labels[0], result.topics[0].label)] += 1
        none = 1 - len(best) / len(articles)
        common = ", ".join(f"{right} -> {got} ({n})" for (right, got), n in wrong.most_common(3))
        print(f"| {name} | {len(articles)} | {none:.3f} | {sum(best) / max(len(best), 1):.2f} | {common} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.near_miss"))
