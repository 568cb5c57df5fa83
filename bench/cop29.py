"""Does the `news` taxonomy give COP29 to news about it, and only to that?

Usage:
    python -m bench.cop29 [--taxonomies-dir DIR]

COP29 is a named event, and the model reads it much as any UN climate conference. newstag's own
short news items (written for this by helpers, none taken from a corpus): reports about COP29
that name it "COP29" and reports that name it otherwise ("the UN climate summit in Baku"),
reports about other climate conferences and climate news, and other summits and diplomacy
(some in Baku). ``seeds/trust/cop29-dev.jsonl`` is the set COP29's description, keywords and
threshold were chosen on; ``cop29-bench.jsonl`` was written apart and read only to measure them
(docs/benchmarks.md, "Session 49: COP29"). Each item is tagged alone at default settings; the
table gives the share of each kind that gets COP29.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from service.config import Settings
from service.engine import Tagger
from service.interrupts import run_command

from .trust import batched

TRUST = Path(__file__).resolve().parent.parent / "seeds" / "trust"
SETS = {"dev (chosen on)": TRUST / "cop29-dev.jsonl", "held out": TRUST / "cop29-bench.jsonl"}


def kind_of(item: dict) -> str:
    if item["kind"] != "cop29":
        return item["kind"]
    named = "COP29" in item["text"] or "COP 29" in item["text"]
    return "COP29, named so" if named else "COP29, named otherwise"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cop29", description=__doc__.split("\n")[0])
    parser.add_argument("--taxonomies-dir", type=Path, help="a directory whose news.yaml replaces the built-in one")
    args = parser.parse_args(argv)
    overrides = {"taxonomies_dir": args.taxonomies_dir} if args.taxonomies_dir else {}
    tagger = Tagger.load(Settings.from_env(None, **overrides).engine_options())
    print("| items | kind | articles | given COP29 |")
    print("|---|---|---:|---:|")
    for name, path in SETS.items():
        items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        results = batched(tagger, [item["text"] for item in items], name, taxonomy="news")
        total: Counter[str] = Counter()
        given: Counter[str] = Counter()
        for item, result in zip(items, results, strict=True):
            total[kind_of(item)] += 1
            given[kind_of(item)] += any(topic.label == "COP29" for topic in result.topics)
        for kind in sorted(total):
            print(f"| {name} | {kind} | {total[kind]} | {given[kind]} ({given[kind] / total[kind]:.2f}) |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.cop29"))
