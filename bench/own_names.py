"""Write a labelled JSONL file with each row's labels named in the row's own language.

A newsroom names its sections in its own language ("Politik", "santé"); a topic matcher
that only ever read English names reads those worse (docs/benchmarks.md, "French news in
EmbeddingGemma's matcher"). This renames the labels of SIB-200's rows (by their `lang`) and
of MasakhaNEWS French's rows (`lang` "fra") with newstag's translations (bench/label_names.py),
so the matcher can train on the same texts under both namings:

    python -m bench.own_names ../shared/data/sib200-multi-train.jsonl /tmp/sib200-own-names.jsonl
    python -m bench.own_names /tmp/frA.jsonl /tmp/frA-french-names.jsonl

Every other field is kept (`split` among them: held-out rows stay held out). A row in a
language with no translations, or with a label the translations lack, is an error: the
output never mixes namings.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.label_names import FRENCH_NEWS, SIB_LABELS, TEMPLATES
from service.interrupts import run_command

# Language code (as the data files write it) -> {label: its name in that language}.
NAMES: dict[str, dict[str, str]] = {lang: dict(zip(SIB_LABELS, names, strict=True))
                                    for lang, (_, names) in TEMPLATES.items()}
NAMES["fra"] = FRENCH_NEWS[1]


def renamed(row: dict, number: int) -> dict:
    names = NAMES.get(row.get("lang", ""))
    if names is None:
        raise ValueError(f"line {number}: no translations for language {row.get('lang')!r} "
                         f"(known: {', '.join(sorted(NAMES))})")
    missing = [label for label in row["labels"] if label not in names]
    if missing:
        raise ValueError(f"line {number}: no {row['lang']} name for {', '.join(missing)}")
    return {**row, "labels": [names[label] for label in row["labels"]]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.own_names", description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("destination", type=Path)
    args = parser.parse_args(argv)
    lines = args.source.read_text(encoding="utf-8").splitlines()
    try:
        rows = [renamed(json.loads(line), number) for number, line in enumerate(lines, 1) if line.strip()]
    except ValueError as exc:
        print(f"{args.source}: {exc}", file=sys.stderr)
        return 2
    args.destination.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{args.destination}: {len(rows)} rows")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.own_names"))
