"""Labels named in the text's language: does EmbeddingGemma need a label template in that language too?

Usage:
    python -m bench.label_language [--data-dir ../shared/data] [--gemma base-models/embeddinggemma-300m]
        [--per-language 100] [--news 211] [--seed 1] [--languages deu_Latn,fra_Latn,...]
        [--sib-splits train,validation] [--news-data FILE] [--ways english,own-pinned,own-template,shipped]

A newsroom names its sections in its own language ("Wirtschaft", "Politik"). The label
templates pinned for EmbeddingGemma (model_profiles.py) are English: "This news article is
about {}." for texts read as sentences, "news about {}" for articles. For each language of
the shared data (SIB-200 sentences, the same ones in each language, bench/multilingual.py's
sample; MasakhaNEWS French articles with French section names) this scores, through the
Tagger:

1. English label names, the pinned templates;
2. label names in the text's language, the pinned templates;
3. label names in the text's language, the template in that language (TEMPLATES) for
   every text, sentences and articles;
4. as shipped: the profile's templates in the labels' language (``own_language_templates``,
   for texts read as sentences) and the pinned article template.

Each with top-1 macro-F1 and, in multi-label mode at the default threshold, precision,
recall, F1, topics per text and expected calibration error over every (text, label) pair,
and the share of newstag's non-news texts in that language (seeds/trust/) that get no
topic with the same labels. There is no German news data in the shared data, so German is
only measured on SIB-200 sentences. The translations are newstag's own.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.label_names import FRENCH_NEWS, SIB_LABELS, TEMPLATES
from bench.multilingual import GEMMA, ROOT, macro_f1, models, news_sample, sib_sample
from bench.trust import batched, expected_calibration_error
from service.engine import Label, Tagger
from service.engine.embedding_backend import EmbeddingBackend
from service.engine.label_vectors import Template
from service.interrupts import run_command
from training.data import Example


def renamed(examples: list[Example], names: dict[str, str]) -> list[Example]:
    return [Example(e.text, tuple(names[x] for x in e.labels)) for e in examples]


JUNK = ROOT / "seeds" / "trust" / "non-news-multilingual.jsonl"
CODES = {"deu_Latn": "de", "fra_Latn": "fr", "spa_Latn": "es", "tur_Latn": "tr", "rus_Cyrl": "ru",
         "arb_Arab": "ar", "zho_Hans": "zh"}


def with_templates(tagger: Tagger, label_template: Template, article_template: Template | None) -> Tagger:
    """The same loaded model with these templates for every label set (no own-language ones)."""
    backend = tagger.backend
    assert isinstance(backend, EmbeddingBackend)
    return Tagger(backend.rephrased(label_template, article_template), tagger.taxonomies, tagger.options)


def figures(tagger: Tagger, examples: list[Example], names: list[str], junk: list[str]) -> tuple[float, ...]:
    """Top-1 macro-F1; multi-label precision, recall, F1, topics per text, ECE; junk with no topic."""
    top1 = macro_f1(tagger, examples, [Label(n) for n in names])
    texts = [e.text for e in examples]
    found = batched(tagger, texts, "multi-label", labels=names, evidence=False)
    tp = fp = fn = 0
    for example, result in zip(examples, found, strict=True):
        topics, truth = {t.label for t in result.topics}, set(example.labels)
        tp, fp, fn = tp + len(topics & truth), fp + len(topics - truth), fn + len(truth - topics)
    every = batched(tagger, texts, "all scores", labels=names, threshold=0.0, evidence=False)
    scores = np.array([{t.label: t.score for t in r.topics}.get(n, 0.0) for r in every for n in names])
    truth_matrix = np.array([n in e.labels for e in examples for n in names], dtype=float)
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    clear = (sum(not r.topics for r in batched(tagger, junk, "junk", labels=names, evidence=False)) / len(junk)
             if junk else float("nan"))
    return (top1, precision, recall, f1, (tp + fp) / len(examples),
            expected_calibration_error(scores, truth_matrix), clear)


WAYS = {"english": "English names, pinned", "own-pinned": "own names, pinned",
        "own-template": "own names, own template for every text", "shipped": "own names, as shipped"}


def four_ways(tagger: Tagger, pinned: Tagger, examples: list[Example], english: list[str], own: list[str],
              template: str, junk: list[str], ways: tuple[str, ...] = tuple(WAYS)
              ) -> list[tuple[str, tuple[float, ...]]]:
    translated = renamed(examples, dict(zip(english, own, strict=True)))
    runs = {"english": lambda: figures(pinned, examples, english, junk),
            "own-pinned": lambda: figures(pinned, translated, own, junk),
            "own-template": lambda: figures(with_templates(tagger, template, template), translated, own, junk),
            "shipped": lambda: figures(tagger, translated, own, junk)}
    return [(WAYS[way], runs[way]()) for way in ways]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.label_language", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--gemma", type=Path, default=GEMMA)
    parser.add_argument("--per-language", type=int, default=100)
    parser.add_argument("--news", type=int, default=211, help="MasakhaNEWS French dev articles (0: none)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--languages", default=",".join(TEMPLATES), help="SIB-200 languages, comma-separated")
    parser.add_argument("--sib-splits", default="train,validation",
                        help="SIB-200 splits sampled (validation: sentences no topic matcher trained on)")
    parser.add_argument("--news-data", type=Path,
                        help="French news articles instead of MasakhaNEWS French dev (e.g. the half written by "
                             "bench.halves that EmbeddingGemma's matcher did not read)")
    parser.add_argument("--ways", default=",".join(WAYS), help=f"which readings, comma-separated: {', '.join(WAYS)}")
    args = parser.parse_args(argv)
    splits = tuple(s.strip() for s in args.sib_splits.split(","))
    if not set(splits) <= {"train", "validation"}:
        parser.error("--sib-splits: train and/or validation (the test split stays unseen)")
    ways = tuple(w.strip() for w in args.ways.split(",") if w.strip())
    if not ways or not set(ways) <= set(WAYS):
        parser.error(f"--ways: one or more of {', '.join(WAYS)}")
    sib = sib_sample(args.data_dir, args.per_language, args.seed, splits)
    news_data = args.news_data or args.data_dir / "masakhanews-fra-dev.jsonl"
    news = news_sample(news_data, args.news) if args.news else []
    junk = [json.loads(line) for line in JUNK.read_text(encoding="utf-8").splitlines() if line.strip()]
    settings = models(args.gemma)[args.gemma.name]
    # Each text is read once: the label vectors change, the documents come from the cache.
    tagger = Tagger.load(replace(settings, document_cache=len(news) + 10 * len(sib["eng_Latn"])).engine_options())
    backend = tagger.backend
    assert isinstance(backend, EmbeddingBackend)
    article = backend.article_vectors.template if backend.article_vectors is not None else None
    pinned = with_templates(tagger, backend.label_vectors.template, article)
    rows = []
    if news:
        template, names = FRENCH_NEWS
        english = sorted(names)
        for how, values in four_ways(tagger, pinned, news, english, [names[n] for n in english], template,
                                     [j["text"] for j in junk if j["lang"] == "fr"], ways):
            rows.append((f"French news, {news_data.stem} ({len(news)} articles), {how}", values))
    for lang in (lang for lang in args.languages.split(",") if lang in sib):  # the languages the data has
        template, own = TEMPLATES[lang]
        print(f"-- {lang}", file=sys.stderr)
        for how, values in four_ways(tagger, pinned, sib[lang], SIB_LABELS, own, template,
                                     [j["text"] for j in junk if j["lang"] == CODES[lang]], ways):
            rows.append((f"SIB-200 {lang} ({len(sib[lang])} sentences), {how}", values))
    print(f"\nEmbeddingGemma, seed {args.seed}; multi-label at the default threshold\n")
    print("| texts, label names, templates | top-1 macro-F1 | precision | recall | F1 | topics/text | ECE "
          "| junk with no topic |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, values in rows:
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values[:4]) + f" | {values[4]:.2f} | {values[5]:.3f} "
              f"| {values[6]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.label_language"))
