"""Can a newsroom trust the tags? Junk, unrelated labels, precision and recall, calibration, evidence.

Usage:
    python -m bench.trust [--data-dir ../shared/data] [--per-set 300] [--seed 0]
                          [--keywords on|off] [--plot docs/trust-reliability.png]

Everything runs through the Tagger at the service's default settings (what POST
/v1/classify does), on articles that the calibration fit did not see (its sample is
left out; AG News is not in the fit at all):

1. non-news: newstag's own held-out non-news texts (seeds/trust/non-news-bench.jsonl,
   written apart from the fit's) against the ``news`` taxonomy: share with no topic; the
   same with ``iptc-top``, and for its non-news texts in other languages
   (seeds/trust/non-news-multilingual.jsonl); and the navigation, captions and calls to action
   of news sites that say nothing but "news" ("Top news", "Back to news";
   seeds/trust/news-boilerplate-bench.jsonl, written apart from the -dev file looked at when
   genre.BARE_NEWS_COSINE was chosen);
2. unrelated labels: each article asked about six labels from UNRELATED (none of them
   in the fit's list): share with no topic;
3. own labels, multi-label: each set's own section names at the default threshold,
   micro precision, recall and F1, topics per article, and the expected calibration
   error of every (article, label) score (10 bins), with a reliability plot;
4. evidence alone: every evidence sentence of step 3 sent alone with the same labels:
   share that gets its topic back;
5. the ``news`` and ``iptc-top`` taxonomies on section-labelled articles: share with a
   topic that belongs to the article's section (SECTION_TOPICS, IPTC_SECTION_TOPICS),
   topics per article (and per article of 400 words or more: long articles get more topics from
   their sentences), and the best topics given under the threshold (at_least_one_topic).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from service.config import Settings
from service.engine import Tagger
from service.engine.taxonomy import TaxonomyRegistry
from service.engine.types import TagResult
from service.interrupts import run_command
from service.progress import progress_bar
from training.calibration_requests import UNRELATED_FIT, read_texts, sample
from training.data import Example, read_labeled
from training.fit_calibration import NON_NEWS_FIT

NON_NEWS_BENCH = NON_NEWS_FIT.with_name("non-news-bench.jsonl")
# The same kinds of junk in 17 other languages (cookie banners, chat, placeholders, ...).
NON_NEWS_OTHER_LANGUAGES = NON_NEWS_FIT.with_name("non-news-multilingual.jsonl")
NEWS_BOILERPLATE = NON_NEWS_FIT.with_name("news-boilerplate-bench.jsonl")
UNRELATED = ["religion", "cooking", "astronomy", "mythology", "dinosaurs", "poetry", "fashion", "pets",
             "archaeology", "opera", "chess", "mountaineering"]
SETS = ["ag-news-test", "bbc-news-train", "inshorts-news", "bbc-sport"]
FIT_SAMPLE = (400, 1)  # training.fit_calibration's defaults: its articles are left out here

_NEWS = TaxonomyRegistry([]).get("news")
# Every topic filed under economy, business and finance (mining came in session 21), and labour.
_ECONOMY = {lab.name for lab in _NEWS.labels if lab.parent == "economy, business and finance"} | {"labour"}
# "World" is where, not what: any topic of the news taxonomy but sport, technology and science
# (which have sections of their own) is right for it.
_WORLD = {lab.name for lab in _NEWS.labels} - {"sports", "technology", "science"}
# Which `news` topics are right for an article of each section (sets named in SECTION_SETS).
# AG News and Inshorts file the technology industry's business (a chipmaker's takeover,
# a tech listing) under both business and technology sections, so both topics count there.
# Culture and the topics filed under it (film and television, music, literature: session 38).
_CULTURE = {lab.name for lab in _NEWS.labels if lab.parent == "culture"} | {"culture"}
SECTION_TOPICS = {
    "business": _ECONOMY, "Business": _ECONOMY | {"technology"},
    "entertainment": _CULTURE,
    "politics": {"politics", "elections", "international relations", "bilateral relations", "human rights",
                 "migration", "justice", "civil unrest"},
    "sport": {"sports"}, "sports": {"sports"}, "Sports": {"sports"},
    "tech": {"technology", "science"}, "technology": {"technology", "science", "business"},
    "Sci/Tech": {"technology", "science", "health", "environment", "climate change", "business"},
    "science": {"science", "technology", "health", "environment", "climate change"},
    "World": _WORLD, "world": _WORLD,
    "automobile": {"transport", "business", "technology"},
}
SECTION_SETS = ["ag-news-test", "bbc-news-train", "inshorts-news"]
# The same for the 17 top-level IPTC Media Topics (the `iptc-top` taxonomy).
_IPTC = {lab.name for lab in TaxonomyRegistry([]).get("iptc-top").labels}
_IPTC_ECONOMY = {"economy, business and finance", "labour"}
_IPTC_SCIENCE = {"science and technology", "health", "environment"}
IPTC_SECTION_TOPICS = {
    "business": _IPTC_ECONOMY, "Business": _IPTC_ECONOMY | {"science and technology"},
    "entertainment": {"arts, culture, entertainment and media", "lifestyle and leisure"},
    "politics": {"politics", "society", "crime, law and justice", "conflict, war and peace"},
    "sport": {"sport"}, "sports": {"sport"}, "Sports": {"sport"},
    "tech": {"science and technology"}, "technology": {"science and technology", "economy, business and finance"},
    "Sci/Tech": _IPTC_SCIENCE | {"economy, business and finance"}, "science": _IPTC_SCIENCE,
    "World": _IPTC - {"sport", "science and technology"}, "world": _IPTC - {"sport", "science and technology"},
    "automobile": {"economy, business and finance", "science and technology", "lifestyle and leisure"},
}


@dataclass
class Tally:
    hits: int = 0
    total: int = 0

    def add(self, hit: bool) -> None:
        self.hits += int(hit)
        self.total += 1

    @property
    def share(self) -> float:
        return self.hits / max(self.total, 1)


def no_topic(results: list[TagResult]) -> Tally:
    """How many of the results have no topic."""
    tally = Tally()
    for result in results:
        tally.add(not result.topics)
    return tally


def batched(tagger: Tagger, texts: Sequence[str], desc: str, **options) -> list[TagResult]:
    out: list[TagResult] = []
    size = tagger.options.max_documents
    for start in progress_bar(range(0, len(texts), size), desc=desc, file=sys.stderr, leave=False):
        out += tagger.tag(list(texts[start:start + size]), **options)
    return out


def held_out_arguments(parser: argparse.ArgumentParser, sets: list[str], per_set: int) -> None:
    """The options of a benchmark on held-out articles of the shared sets (bench.section_leads, bench.short_news)."""
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sets", nargs="*", default=sets)
    parser.add_argument("--per-set", type=int, default=per_set)
    parser.add_argument("--fit-per-corpus", type=int, default=FIT_SAMPLE[0],
                        help="articles per set the calibration fit sampled, left out (fit_calibration's default)")


def held_out(data_dir: Path, name: str, n: int, seed: int, fit_per_corpus: int = FIT_SAMPLE[0]) -> list[Example]:
    """``n`` articles of a set, none of them in the calibration fit's sample."""
    path = data_dir / f"{name}.jsonl"
    fitted = {e.text for e in sample(path, fit_per_corpus, FIT_SAMPLE[1])}
    examples = [e for e in read_labeled(path) if e.text not in fitted]
    return random.Random(seed).sample(examples, min(n, len(examples)))


def expected_calibration_error(scores: np.ndarray, truth: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        inside = index == b
        if inside.any():
            error += inside.mean() * abs(scores[inside].mean() - truth[inside].mean())
    return float(error)


def reliability_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", label="perfect")
    edges = np.linspace(0, 1, 11)
    for name, (scores, truth) in curves.items():
        index = np.clip(np.digitize(scores, edges[1:-1]), 0, 9)
        xs = [scores[index == b].mean() for b in range(10) if (index == b).sum() >= 10]
        ys = [truth[index == b].mean() for b in range(10) if (index == b).sum() >= 10]
        ax.plot(xs, ys, marker="o", label=name)
    ax.set_xlabel("score (mean in bin)")
    ax.set_ylabel("share of right labels")
    ax.set_title("Reliability of scores, own labels, multi-label")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def own_labels(tagger: Tagger, name: str, examples: list[Example], rows: list[str]) -> tuple:
    names = sorted({x for e in examples for x in e.labels})
    texts = [e.text for e in examples]
    results = batched(tagger, texts, f"{name} own labels", labels=names)
    tp = fp = fn = 0
    for example, result in zip(examples, results, strict=True):
        found = {t.label for t in result.topics}
        tp += len(found & set(example.labels))
        fp += len(found - set(example.labels))
        fn += len(set(example.labels) - found)
    every = batched(tagger, texts, f"{name} all scores", labels=names, threshold=0.0, evidence=False)
    # A text the genre check calls non-news gets no topic at any threshold: its scores count as 0.
    scores = np.array([{t.label: t.score for t in r.topics}.get(n, 0.0) for r in every for n in names])
    truth = np.array([n in e.labels for e in examples for n in names], dtype=float)
    ece = expected_calibration_error(scores, truth)
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    per_article = (tp + fp) / len(examples)
    rows.append(f"| {name} | {len(examples)} | {precision:.3f} | {recall:.3f} | {f1:.3f} | {per_article:.2f} "
                f"| {ece:.3f} |")
    return names, results, (scores, truth)


def evidence_alone(tagger: Tagger, names: list[str], results: list[TagResult]) -> Tally:
    pairs = [(ev.text, topic.label) for r in results for topic in r.topics for ev in topic.evidence]
    alone = batched(tagger, [text for text, _ in pairs], "evidence alone", labels=names, evidence=False)
    tally = Tally()
    for (_, label), result in zip(pairs, alone, strict=True):
        tally.add(label in {t.label for t in result.topics})
    return tally


LONG_WORDS = 400  # articles this long get more topics from their sentences (docs/benchmarks.md, "Session 45")


def topics_per_long_article(examples: Sequence[Example], results: Sequence[TagResult],
                            words: int = LONG_WORDS) -> str:
    """Topics per article among the articles of at least ``words`` words, with their count:
    the at-most-3.0 target is at risk on long articles, which our short sets would hide."""
    counts = [len(r.topics) for e, r in zip(examples, results, strict=True) if len(e.text.split()) >= words]
    return f"{sum(counts) / len(counts):.2f} ({len(counts)})" if counts else "- (0)"


def taxonomy_rows(tagger: Tagger, data: dict[str, list[Example]], taxonomy: str,
                  mapping: dict[str, set[str]]) -> list[str]:
    """A taxonomy on section-labelled articles: a right section topic, topics per article (and per
    article of LONG_WORDS words or more), texts called non-news, best topics given under the
    threshold (and how many were right)."""
    rows = []
    for name in SECTION_SETS:
        results = batched(tagger, [e.text for e in data[name]], f"{name} {taxonomy}", taxonomy=taxonomy)
        right, topics, not_news, below = Tally(), 0, 0, Tally()
        for example, result in zip(data[name], results, strict=True):
            found = set().union(*(mapping[x] for x in example.labels)) & {t.label for t in result.topics}
            right.add(bool(found))
            topics += len(result.topics)
            not_news += any(w.code == "not-news" for w in result.warnings)
            if any(w.code == "below-threshold" for w in result.warnings):  # its best topic, under the threshold
                below.add(bool(found))
        rows.append(f"| {taxonomy}, {name} | {right.total} | {right.share:.3f} | {topics / max(right.total, 1):.2f} "
                    f"| {topics_per_long_article(data[name], results)} "
                    f"| {not_news / max(right.total, 1):.3f} | {below.total / max(right.total, 1):.3f} "
                    f"({below.hits} right of {below.total}) |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.trust", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--per-set", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keywords", choices=["on", "off"], default="on",
                        help="off: keyword evidence weighs nothing (the model alone)")
    parser.add_argument("--plot", type=Path, help="write the reliability plot here (PNG)")
    parser.add_argument("--fit-per-corpus", type=int, default=FIT_SAMPLE[0],
                        help="articles per corpus the calibration fit used (left out here)")
    args = parser.parse_args(argv)
    if not args.data_dir.is_dir():
        print(f"bench.trust: {args.data_dir} not found (the shared corpora)", file=sys.stderr)
        return 2
    assert not set(UNRELATED) & set(UNRELATED_FIT), "the benchmark's unrelated labels must be new to the fit"

    overrides: dict[str, Any] = {"keyword_weight": 0.0} if args.keywords == "off" else {}
    tagger = Tagger.load(Settings.from_env(None, **overrides).engine_options())
    rng = random.Random(args.seed)
    data = {name: held_out(args.data_dir, name, args.per_set, args.seed, args.fit_per_corpus) for name in SETS}

    junk_none = no_topic(batched(tagger, read_texts(NON_NEWS_BENCH), "non-news"))
    iptc_junk_none = no_topic(batched(tagger, read_texts(NON_NEWS_BENCH), "non-news, iptc-top", taxonomy="iptc-top"))
    other_junk_none = no_topic(batched(tagger, read_texts(NON_NEWS_OTHER_LANGUAGES), "non-news, other languages"))
    boilerplate_none = no_topic(batched(tagger, read_texts(NEWS_BOILERPLATE), "news boilerplate"))

    unrelated_none = Tally()
    for name in SETS:
        for example in data[name]:
            [result] = tagger.tag([example.text], rng.sample(UNRELATED, 6), evidence=False)
            unrelated_none.add(not result.topics)

    rows: list[str] = []
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    evidence = Tally()
    for name in SETS:
        names, results, curve = own_labels(tagger, name, data[name], rows)
        curves[name] = curve
        tally = evidence_alone(tagger, names, results)
        evidence.hits += tally.hits
        evidence.total += tally.total

    section_rows = [row for taxonomy, mapping in (("news", SECTION_TOPICS), ("iptc-top", IPTC_SECTION_TOPICS))
                    for row in taxonomy_rows(tagger, data, taxonomy, mapping)]

    print(f"keywords {args.keywords}; {args.per_set} articles per set (seed {args.seed})\n")
    print(f"- non-news texts with no topic (news taxonomy): **{junk_none.share:.3f}** "
          f"({junk_none.hits}/{junk_none.total})")
    print(f"- the same with the iptc-top taxonomy: **{iptc_junk_none.share:.3f}** "
          f"({iptc_junk_none.hits}/{iptc_junk_none.total})")
    print(f"- non-news texts in other languages with no topic (news taxonomy): **{other_junk_none.share:.3f}** "
          f"({other_junk_none.hits}/{other_junk_none.total})")
    print(f"- news sites' boilerplate (\"Top news\", \"Back to news\") with no topic: **{boilerplate_none.share:.3f}** "
          f"({boilerplate_none.hits}/{boilerplate_none.total})")
    print(f"- articles asked about six unrelated labels with no topic: **{unrelated_none.share:.3f}** "
          f"({unrelated_none.hits}/{unrelated_none.total})")
    print(f"- evidence sentences that get their topic back alone: **{evidence.share:.3f}** "
          f"({evidence.hits}/{evidence.total})\n")
    print("| own labels, multi-label | articles | precision | recall | F1 | topics/article | ECE |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\n| taxonomy, set | articles | a right section topic | topics/article "
          f"| topics/article, {LONG_WORDS}+ words (articles) | called non-news | best topic under the threshold |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(section_rows))
    if args.plot:
        reliability_plot(curves, args.plot)
        print(f"\nreliability plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.trust"))
