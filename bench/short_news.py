"""Short news items alone: headlines and first sentences, are they read as news and tagged?

Usage:
    python -m bench.short_news [--sets bbc-news-train ag-news-test inshorts-news reuters-r90-train] [--per-set 300]

A monitoring team often sends headlines or ledes, not whole articles. For each set, the
articles the calibration fit did not use (bench.trust.held_out, seed 1) give two texts each:
the headline alone (the first paragraph, when one short line stands before the body) and
the body's first sentence; newstag's own short news items (seeds/trust/short-news-bench.jsonl,
local news and headlines, and tech-news-bench.jsonl, technology, science and offbeat news and
columns, written for this, none of them in any fit) are a set of their own, a row per kind.
Each is tagged alone at default settings against the `news` taxonomy, and the table gives the
share the genre check calls non-news (a `not-news` warning), the share with no topic at all,
and topics per item.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from service.config import Settings
from service.engine import Tagger, TagResult
from service.engine.sentences import split_sentences
from service.interrupts import run_command
from training.calibration_requests import headline

from .trust import batched, held_out, held_out_arguments

DEFAULT_SETS = ["bbc-news-train", "ag-news-test", "inshorts-news", "reuters-r90-train"]
TRUST = Path(__file__).resolve().parent.parent / "seeds" / "trust"
# Local news and headlines (session 39); technology, science and offbeat news items and columns
# (session 49), written apart from the genre check's fit (news-fit-short.jsonl, news-fit-tech.jsonl).
OWN_ITEMS = [TRUST / "short-news-bench.jsonl", TRUST / "tech-news-bench.jsonl"]


def first_sentence(text: str) -> str | None:
    """The first sentence of an article's body (after its headline, when it has one)."""
    body = text.strip().partition("\n\n")[2].strip() if headline(text) else text.strip()
    spans = split_sentences(body)
    return body[spans[0].start:spans[0].end] if spans else None


def row(name: str, kind: str, results: list[TagResult]) -> str:
    n = len(results)
    non_news = sum(any(w.code == "not-news" for w in r.warnings) for r in results)
    none = sum(not r.topics for r in results)
    topics = sum(len(r.topics) for r in results)
    return f"| {name} | {kind} | {n} | {non_news / n:.3f} | {none / n:.3f} | {topics / n:.2f} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.short_news", description=__doc__.split("\n")[0])
    held_out_arguments(parser, DEFAULT_SETS, per_set=300)
    args = parser.parse_args(argv)
    tagger = Tagger.load(Settings.from_env(None).engine_options())
    print("| set | text | items | called non-news | no topic | topics/item |")
    print("|---|---|---:|---:|---:|---:|")
    own = [json.loads(line) for path in OWN_ITEMS for line in path.read_text(encoding="utf-8").splitlines()
           if line.strip()]
    for kind in sorted({item["kind"] for item in own}):
        texts = [item["text"] for item in own if item["kind"] == kind]
        print(row("newstag's own", kind, batched(tagger, texts, kind)), flush=True)
    for name in args.sets:
        examples = held_out(args.data_dir, name, args.per_set, 1, args.fit_per_corpus)
        for kind, cut in (("headline", headline), ("first sentence", first_sentence)):
            texts = [t for e in examples if (t := cut(e.text))]
            if texts:
                print(row(name, kind, batched(tagger, texts, f"{name} {kind}")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.short_news"))
