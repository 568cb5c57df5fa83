"""newstag's own texts: the calibration fit's and the benchmarks' are written apart."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

TRUST = Path(__file__).resolve().parent.parent / "seeds" / "trust"


def _texts(name: str) -> dict[str, dict]:
    rows = [json.loads(line) for line in (TRUST / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return {" ".join(unicodedata.normalize("NFKC", r["text"]).casefold().split()): r for r in rows}


def test_the_fit_reads_no_text_the_benchmark_scores():
    fit = (_texts("non-news-fit.jsonl") | _texts("non-news-fit-multilingual.jsonl") | _texts("news-fit-short.jsonl")
           | _texts("news-fit-tech.jsonl"))
    bench = (_texts("non-news-bench.jsonl") | _texts("non-news-multilingual.jsonl")
             | _texts("news-boilerplate-bench.jsonl") | _texts("short-news-bench.jsonl")
             | _texts("tech-news-bench.jsonl"))
    assert not fit.keys() & bench.keys()


def test_the_multilingual_fit_texts_name_their_language_and_kind():
    rows = list(_texts("non-news-fit-multilingual.jsonl").values())
    assert len(rows) >= 90 and all(r["kind"] and r["text"].strip() for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({r["lang"] for r in rows}) >= 20


def test_a_news_topics_dev_and_held_out_items_are_written_apart():
    """A topic's description, keywords and threshold are chosen on its dev items and measured on
    the held-out ones (bench.news_topic): a text in both would be measured where it was chosen."""
    for topic in ("cop29", "demining"):
        dev, held_out = _texts(f"{topic}-dev.jsonl"), _texts(f"{topic}-bench.jsonl")
        assert len(dev) >= 75 and len(held_out) >= 75
        assert not dev.keys() & held_out.keys()
        for items in (dev, held_out):  # the topic's own reports beside the news it is mistaken for
            kinds = [r["kind"] for r in items.values()]
            assert topic in kinds and len(set(kinds)) >= 3
