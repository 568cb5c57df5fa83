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
