"""Which sentence-support constants (model_profiles.SentenceRules) suit a model: junk against mission topics.

Usage:
    NEWSTAG_MODEL=base-models/embeddinggemma-300m python -m bench.sentence_rules \\
        [--rules 0.6,0.05,4 0.5,0.01,4 ...] [--news 20] [--data-dir ../shared/data]

Each text is read once against the ``news`` taxonomy (the one with sentence topics):
its article scores, each label's best window, its sentences in context, and every
sentence read alone. Then each candidate rule set (discount, window gate, minimum
words) is applied to those numbers as the Tagger applies it (sentence_support.py; a text
the model's genre check calls non-news gets no topic, as in a multi-label call), so a
grid costs one pass. Reported per rule set: junk with no topic (newstag's English junk,
seeds/trust/non-news-bench.jsonl, and its junk in other languages,
seeds/trust/non-news-multilingual.jsonl), which of the four mission topics each version
of the founding article gets, and, with ``--news``, topics per French news article
(MasakhaNEWS dev) and the share with a topic of its section. Rule sets are
``discount,window,words`` (route_min stays the model's).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from service.config import Settings
from service.engine import keywords
from service.engine.genre import called_non_news
from service.engine.model_profiles import SentenceRules
from service.engine.sentence_support import SentenceScores, sentence_text, support
from service.engine.tagger import Tagger
from service.engine.words import word_count
from service.interrupts import run_command
from training.calibration_requests import read_texts
from training.data import read_labeled
from training.fit_calibration import NON_NEWS_FIT

ROOT = Path(__file__).resolve().parent.parent
JUNK = {"junk (English)": NON_NEWS_FIT.with_name("non-news-bench.jsonl"),
        "junk (other languages)": NON_NEWS_FIT.with_name("non-news-multilingual.jsonl")}
FOUNDING = {lang: ROOT / "seeds" / f"000_61fd793a4efa8984{suffix}.txt"
            for lang, suffix in [("en", ""), ("ru", ".ru"), ("az", ".az")]}
MISSION = ["bilateral relations", "economy", "COP29", "demining"]
# MasakhaNEWS French sections: the `news` topics right for each (bench/trust.py's, plus health).
SECTIONS = {"business": {"economy", "business", "trade", "energy", "agriculture", "transport", "tourism", "labour"},
            "health": {"health"}, "sports": {"sports"}, "technology": {"technology", "science"},
            "politics": {"politics", "elections", "international relations", "bilateral relations", "human rights",
                         "migration", "justice", "civil unrest"}}


@dataclass
class Read:
    """One text's numbers: what any rule set needs to decide its topics."""

    text: str
    article: np.ndarray  # [n_labels] the article's scores
    best_window: np.ndarray  # [n_labels]
    ranked: list[list[int]]  # per label: its best sentences in context, best first (at most per_topic)
    in_context: np.ndarray  # [n_sentences, n_labels]
    words: list[float]  # per sentence
    alone: list[np.ndarray]  # per sentence: [n_labels] read alone
    hits: np.ndarray  # [n_labels] keyword hits in the whole text
    not_news: bool = False  # the genre check calls it non-news: no topic, as in the Tagger's multi-label calls


def read(tagger: Tagger, texts: list[str]) -> list[Read]:
    """Every text's numbers, in batches the tagger allows."""
    labels = list(tagger.label_set(taxonomy="news").labels)
    backend, per_topic = tagger.backend, tagger.options.evidence_per_topic
    out: list[Read] = []
    size = tagger.options.max_documents
    for start in range(0, len(texts), size):
        docs = [backend.prepare(t) for t in texts[start:start + size]]
        scored = backend.score(docs, labels)
        alone = SentenceScores(backend, labels)
        alone.compute({sentence_text(d, i): range(len(labels)) for d in docs for i in range(len(d.sentences))})
        for doc, s in zip(docs, scored, strict=True):
            n = len(doc.sentences)
            ctx = s.sentence_scores(list(range(len(labels)))) if n else np.zeros((0, len(labels)))
            best = s.best_window_scores
            out.append(Read(doc.text, s.label_scores, best if best is not None else np.zeros(len(labels)),
                            [[int(i) for i in np.argsort(-ctx[:, j], kind="stable")[:per_topic]]
                             for j in range(len(labels))],
                            ctx, [word_count(sentence_text(doc, i)) for i in range(n)],
                            [alone[sentence_text(doc, i)] for i in range(n)],
                            keywords.document_hits(doc.text, labels),
                            called_non_news(s.news_probability)))
        print(f"  read {len(out)}/{len(texts)}", file=sys.stderr)
    return out


def topics(r: Read, rules: SentenceRules, thresholds: np.ndarray, weight: float) -> set[int]:
    """The labels the Tagger returns for this text under ``rules`` (sentence_support.py's arithmetic)."""
    if r.not_news:
        return set()
    scores = r.article.copy()
    for j in range(len(scores)):
        if r.best_window[j] < rules.route_min_window:
            continue
        for i in r.ranked[j]:
            if r.in_context[i, j] >= rules.route_min and r.words[i] >= rules.min_words:
                scores[j] = max(scores[j], support(float(r.alone[i][j]), rules.discount))
    final = keywords.combine(scores, r.hits, weight)
    return {int(j) for j in np.flatnonzero(final >= thresholds)}


def parse_rules(spec: str, base: SentenceRules) -> SentenceRules:
    """``discount,window,words[,route_min]``: the rest stays ``base``'s."""
    values = [float(x) for x in spec.split(",")]
    rules = replace(base, discount=values[0], route_min_window=values[1], min_words=values[2])
    return replace(rules, route_min=values[3]) if len(values) > 3 else rules


def save(reads: dict[str, list[Read]], path: Path) -> None:
    """Every set's numbers as JSON (reading them again with Gemma takes minutes)."""
    def row(r: Read) -> dict:
        return {"text": r.text, "article": r.article.tolist(), "best_window": r.best_window.tolist(),
                "ranked": r.ranked, "in_context": r.in_context.tolist(), "words": r.words,
                "alone": [a.tolist() for a in r.alone], "hits": r.hits.tolist(), "not_news": r.not_news}
    path.write_text(json.dumps({name: [row(r) for r in rs] for name, rs in reads.items()}), encoding="utf-8")


def load(path: Path) -> dict[str, list[Read]]:
    def read_row(d: dict) -> Read:
        n_labels = len(d["article"])
        return Read(d["text"], np.array(d["article"]), np.array(d["best_window"]), d["ranked"],
                    np.array(d["in_context"]).reshape(-1, n_labels), d["words"],
                    [np.array(a) for a in d["alone"]], np.array(d["hits"]), d.get("not_news", False))
    return {name: [read_row(d) for d in rows] for name, rows in json.loads(path.read_text(encoding="utf-8")).items()}


def explain(r: Read, names: list[str], wanted: list[str], rules: SentenceRules) -> None:
    """Why each wanted label comes or not: its article score, best window, candidates in context and alone."""
    for name in wanted:
        j = names.index(name)
        rows = [(i, round(float(r.in_context[i, j]), 3), round(float(r.alone[i][j]), 3), round(r.words[i], 1))
                for i in r.ranked[j]]
        print(f"  {name}: article {r.article[j]:.3f}, best window {r.best_window[j]:.3f}, "
              f"candidates (sentence, in context, alone, words) {rows}; support at {rules.discount}: "
              f"{[round(support(a, rules.discount), 3) for _, _, a, _ in rows]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sentence_rules", description=__doc__.split("\n")[0])
    parser.add_argument("--rules", nargs="+", default=None, help="discount,window,words (default: the model's)")
    parser.add_argument("--news", type=int, default=0, help="French news articles to read too (0: none)")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache", type=Path, help="JSON of the numbers read: written when absent, else read")
    args = parser.parse_args(argv)
    os.environ.setdefault("NEWSTAG_MULTILINGUAL_MODEL", "off")  # one model: the one NEWSTAG_MODEL names
    tagger = Tagger.load(Settings.from_env(None).engine_options())
    label_set = tagger.label_set(taxonomy="news")
    names = [lab.name for lab in label_set.labels]
    thresholds, weight = label_set.thresholds(None), tagger.options.keyword_weight
    base = tagger.backend.sentence_rules
    grid = [parse_rules(s, base) for s in args.rules] if args.rules else [base]

    news = []
    if args.news and (args.data_dir / "masakhanews-fra-dev.jsonl").is_file():
        news = read_labeled(args.data_dir / "masakhanews-fra-dev.jsonl")[:args.news]
    if args.cache and args.cache.is_file():
        cached = load(args.cache)
    else:
        cached = {name: read(tagger, read_texts(path)) for name, path in JUNK.items()}
        cached.update({f"founding {lang}": read(tagger, [path.read_text(encoding="utf-8")])
                       for lang, path in FOUNDING.items()})
        cached["news"] = read(tagger, [e.text for e in news]) if news else []
        if args.cache:
            save(cached, args.cache)
    sets = {name: cached[name] for name in JUNK}
    founding = {lang: cached[f"founding {lang}"][0] for lang in FOUNDING}
    news_reads = cached["news"][:len(news)]

    print(f"model {tagger.backend.model_name}; its rules: {base}\n")
    head = ["discount", "window", "words", *sets, *(f"founding {lang}" for lang in founding)]
    if news:
        head += [f"French news topics/article ({len(news)})", "a right section topic"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for rules in grid:
        cells = [f"{rules.discount:g}", f"{rules.route_min_window:g}", f"{rules.min_words:g}"]
        for reads in sets.values():
            none = sum(not topics(r, rules, thresholds, weight) for r in reads)
            cells.append(f"{none / len(reads):.3f} ({none}/{len(reads)})")
        for r in founding.values():
            got = {names[j] for j in topics(r, rules, thresholds, weight)}
            cells.append(", ".join(m for m in MISSION if m in got) + f" (+{len(got - set(MISSION))})")
        if news:
            found = [{names[j] for j in topics(r, rules, thresholds, weight)} for r in news_reads]
            right = sum(bool(f & set().union(*(SECTIONS.get(x, set()) for x in e.labels)))
                        for f, e in zip(found, news, strict=True))
            cells += [f"{sum(map(len, found)) / len(found):.2f}", f"{right / len(found):.3f}"]
        print("| " + " | ".join(cells) + " |")
    for lang, r in founding.items():
        print(f"\nfounding {lang}, under the first rule set:")
        explain(r, names, MISSION, grid[0])
    if os.environ.get("NEWSTAG_SHOW_JUNK"):  # which junk gets which topic, under the first rule set
        for name, reads in sets.items():
            for r in reads:
                chosen = topics(r, grid[0], thresholds, weight)
                if chosen:
                    print(f"{name}: {r.text[:70]!r} -> {[names[j] for j in chosen]}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.sentence_rules"))
