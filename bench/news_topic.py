"""Does the `news` taxonomy give one topic to news about it, and only to that?

Usage:
    python -m bench.news_topic COP29|demining [--taxonomies-dir DIR]

Some topics of the `news` taxonomy are narrow, and the model reads them close to their
neighbours: COP29 much as any UN climate conference, demining near mining, armed conflict and
anything metal or explosive. newstag's own short news items (written for this by helpers, none
taken from a corpus) measure each: reports about the topic, those that say it in the topic's
own words (its keywords, or "COP29") and those that say it otherwise, and news of the kinds it
is mistaken for. ``seeds/trust/<topic>-dev.jsonl`` is the set the topic's description, keywords
and threshold were chosen on; ``<topic>-bench.jsonl`` was written apart and read only to measure
them (docs/benchmarks.md, "Session 49: COP29", "Session 50: demining"). Each item is tagged
alone at default settings; the table gives the share of each kind that gets the topic.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from service.config import Settings
from service.engine import Tagger
from service.interrupts import run_command

from .trust import batched

TRUST = Path(__file__).resolve().parent.parent / "seeds" / "trust"


@dataclass(frozen=True)
class TopicSets:
    label: str  # the topic's name in news.yaml
    kind: str  # the items' kind that are about it
    own_words: tuple[str, ...]  # saying any of these (case-insensitive) is naming it "so"

    def files(self) -> dict[str, Path]:
        stem = self.label.lower()
        return {"dev (chosen on)": TRUST / f"{stem}-dev.jsonl", "held out": TRUST / f"{stem}-bench.jsonl"}

    def kind_of(self, item: dict) -> str:
        if item["kind"] != self.kind:
            return item["kind"]
        text = item["text"].lower()
        named = any(word in text for word in self.own_words)
        return f"{self.label}, named so" if named else f"{self.label}, named otherwise"


TOPICS = {topic.label: topic for topic in (
    TopicSets("COP29", "cop29", ("cop29", "cop 29")),
    # demining's keywords in news.yaml before session 50: the words a report of it most often uses
    TopicSets("demining", "demining", ("landmine", "land mine", "demining", "deminer", "minefield",
                                       "unexploded ordnance")),
)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.news_topic", description=__doc__.split("\n")[0])
    parser.add_argument("topic", choices=sorted(TOPICS))
    parser.add_argument("--taxonomies-dir", type=Path, help="a directory whose news.yaml replaces the built-in one")
    args = parser.parse_args(argv)
    topic = TOPICS[args.topic]
    overrides = {"taxonomies_dir": args.taxonomies_dir} if args.taxonomies_dir else {}
    tagger = Tagger.load(Settings.from_env(None, **overrides).engine_options())
    print(f"| items | kind | articles | given {topic.label} |")
    print("|---|---|---:|---:|")
    for name, path in topic.files().items():
        items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        results = batched(tagger, [item["text"] for item in items], name, taxonomy="news")
        total: Counter[str] = Counter()
        given: Counter[str] = Counter()
        for item, result in zip(items, results, strict=True):
            total[topic.kind_of(item)] += 1
            given[topic.kind_of(item)] += any(found.label == topic.label for found in result.topics)
        for kind in sorted(total):
            print(f"| {name} | {kind} | {total[kind]} | {given[kind]} ({given[kind] / total[kind]:.2f}) |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.news_topic"))
