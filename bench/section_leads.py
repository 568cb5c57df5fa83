"""The `news` taxonomy on short news items: a right section topic for each article's title and lead.

Usage:
    python -m bench.section_leads [--sets bbc-news-train inshorts-news ag-news-test] [--per-set 2000]

Each set's articles that the calibration fit did not use (bench.trust.held_out, seed 0), cut to
their first two paragraphs (a BBC article's title and lead; AG News and Inshorts items are
that short already), are tagged at default settings, and counted per section: the share with a
topic of the article's section (bench.trust.SECTION_TOPICS), the share the genre check calls
non-news, and topics per item. Short items are where a broad topic ("culture") is hardest to
reach; the trust benchmark's 300 whole articles a set move these figures by a point or two.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from service.config import Settings
from service.engine import Tagger
from service.interrupts import run_command

from .trust import SECTION_TOPICS, batched, held_out, held_out_arguments

DEFAULT_SETS = ["bbc-news-train", "inshorts-news", "ag-news-test"]


def lead(text: str) -> str:
    """The first two paragraphs (title and lead) of an article."""
    return "\n\n".join([p for p in text.split("\n\n") if p.strip()][:2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.section_leads", description=__doc__.split("\n")[0])
    held_out_arguments(parser, DEFAULT_SETS, per_set=2000)
    args = parser.parse_args(argv)
    tagger = Tagger.load(Settings.from_env(None).engine_options())
    print("| set | section | items | a right section topic | called non-news | topics/item |")
    print("|---|---|---:|---:|---:|---:|")
    for name in args.sets:
        examples = held_out(args.data_dir, name, args.per_set, 0, args.fit_per_corpus)
        results = batched(tagger, [lead(e.text) for e in examples], name)
        items: Counter[str] = Counter()
        right: Counter[str] = Counter()
        non_news: Counter[str] = Counter()
        topics: Counter[str] = Counter()
        for example, result in zip(examples, results, strict=True):
            section = example.labels[0]
            items[section] += 1
            right[section] += bool({t.label for t in result.topics} & SECTION_TOPICS[section])
            non_news[section] += any(w.code == "not-news" for w in result.warnings)
            topics[section] += len(result.topics)
        rows: list[tuple[str, list[str]]] = [(s, [s]) for s in sorted(items)] + [("**all**", list(items))]
        for row, keys in rows:
            n = sum(items[k] for k in keys)
            print(f"| {name if keys != [row] else ''} | {row} | {n} | "
                  f"{sum(right[k] for k in keys) / n:.3f} | {sum(non_news[k] for k in keys) / n:.3f} | "
                  f"{sum(topics[k] for k in keys) / n:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.section_leads"))
