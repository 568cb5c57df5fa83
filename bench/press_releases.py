"""Press releases: is a release's trailer (About the company, contacts, legal text) left out, and only it?

Usage:
    python -m bench.press_releases [--set bench|dev] [--data ../shared/data/bbc-news-train.jsonl]

The trailers and near misses are newstag's own (seeds/press-releases/, written for this by
helpers that never saw the rules in service/engine/press_release.py; ``dev`` is the set the rules
were revised on, ``bench`` one written after, held out). Each trailer is appended to a BBC News
article (seeded draw) and each near miss (the ending of a news article that looks like a trailer
but is news) to another. Reported: the trailers found from their first line, the near misses
taken for a trailer, and, tagged at default settings against the ``news`` taxonomy (the default
model, multilingual routing off), the topics the articles with their trailers get beyond or
short of the article alone, and the evidence sentences quoting the trailer, read whole
(``NEWSTAG_PAGES=whole``) and as shipped.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import replace
from pathlib import Path

from service.config import Settings
from service.engine import Tagger, TagResult
from service.engine.press_release import trailer_start
from service.interrupts import run_command
from training.data import read_labeled

SEEDS = Path(__file__).resolve().parent.parent / "seeds" / "press-releases"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _differences(results: list[TagResult], alone: list[TagResult], bodies: list[str]) -> str:
    pairs = [({t.label for t in r.topics}, {t.label for t in a.topics}) for r, a in zip(results, alone, strict=True)]
    more, fewer = sum(len(got - ref) for got, ref in pairs), sum(len(ref - got) for got, ref in pairs)
    quoting = sum(1 for r, body in zip(results, bodies, strict=True) for t in r.topics for e in t.evidence
                  if e.end > len(body))
    return f"{more} more, {fewer} fewer; {quoting} evidence sentences in the trailer"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.press_releases", description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=["bench", "dev", "dev2", "dev3"], default="bench")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/bbc-news-train.jsonl"))
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    trailers = [row["trailer"] for row in _rows(SEEDS / f"trailers-{args.set}.jsonl")]
    endings = [row["ending"] for row in _rows(SEEDS / f"near-misses-{args.set}.jsonl")]
    articles = [e.text for e in read_labeled(args.data)]
    random.Random(args.seed).shuffle(articles)
    bodies = articles[:len(trailers)]
    with_trailer = [body + "\n\n" + trailer for body, trailer in zip(bodies, trailers, strict=True)]
    found = sum(trailer_start(text) == len(body) + 2 for text, body in zip(with_trailer, bodies, strict=True))
    others = articles[len(trailers):len(trailers) + len(endings)]
    cut = sum(trailer_start(body + "\n\n" + ending) is not None for body, ending in zip(others, endings, strict=True))
    print(f"{args.set}: {found} of {len(trailers)} trailers found from their first line; "
          f"{cut} of {len(endings)} near misses taken for a trailer", flush=True)
    tagger = Tagger.load(Settings.from_env({"NEWSTAG_MULTILINGUAL_MODEL": "off"}).engine_options())
    whole = Tagger(tagger.backend, tagger.taxonomies, replace(tagger.options, pages="whole"))
    alone = tagger.tag(bodies)
    print(f"read whole: {_differences(whole.tag(with_trailer), alone, bodies)}", flush=True)
    print(f"as shipped: {_differences(tagger.tag(with_trailer), alone, bodies)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.press_releases"))
