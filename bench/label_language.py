"""Labels named in the text's language: does EmbeddingGemma need a label template in that language too?

Usage:
    python -m bench.label_language [--data-dir ../shared/data] [--gemma base-models/embeddinggemma-300m]
        [--per-language 100] [--news 211] [--seed 1] [--languages deu_Latn,fra_Latn,...]

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

from bench.multilingual import GEMMA, ROOT, macro_f1, models, news_sample, sib_sample
from bench.trust import batched, expected_calibration_error
from service.engine import Label, Tagger
from service.engine.embedding_backend import EmbeddingBackend
from service.engine.label_vectors import Template
from training.data import Example

# Per SIB-200 language: the template, and its 7 labels' names in the same order as SIB_LABELS.
SIB_LABELS = ["science/technology", "travel", "politics", "sports", "health", "entertainment", "geography"]
TEMPLATES: dict[str, tuple[str, list[str]]] = {
    "deu_Latn": ("Dieser Nachrichtenartikel handelt von {}.",
                 ["Wissenschaft/Technologie", "Reisen", "Politik", "Sport", "Gesundheit", "Unterhaltung",
                  "Geografie"]),
    "fra_Latn": ("Cet article d'actualité porte sur {}.",
                 ["science/technologie", "voyages", "politique", "sport", "santé", "divertissement", "géographie"]),
    "rus_Cyrl": ("Тема этой новостной статьи: {}.",
                 ["наука/технологии", "путешествия", "политика", "спорт", "здоровье", "развлечения", "география"]),
    "spa_Latn": ("Este artículo de noticias trata sobre {}.",
                 ["ciencia/tecnología", "viajes", "política", "deportes", "salud", "entretenimiento", "geografía"]),
    "tur_Latn": ("Bu haber makalesi {} hakkındadır.",
                 ["bilim/teknoloji", "seyahat", "siyaset", "spor", "sağlık", "eğlence", "coğrafya"]),
    "arb_Arab": ("هذا المقال الإخباري يتحدث عن {}.",
                 ["العلوم/التكنولوجيا", "السفر", "السياسة", "الرياضة", "الصحة", "الترفيه", "الجغرافيا"]),
    "zho_Hans": ("这篇新闻文章是关于{}的。", ["科学/技术", "旅游", "政治", "体育", "健康", "娱乐", "地理"]),
}
# MasakhaNEWS French sections, named as a French newsroom would.
FRENCH_NEWS = ("Cet article d'actualité porte sur {}.",
               {"business": "économie", "health": "santé", "politics": "politique", "sports": "sport",
                "technology": "technologie"})


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


def four_ways(tagger: Tagger, pinned: Tagger, examples: list[Example], english: list[str], own: list[str],
              template: str, junk: list[str]) -> list[tuple[str, tuple[float, ...]]]:
    translated = renamed(examples, dict(zip(english, own, strict=True)))
    return [("English names, pinned", figures(pinned, examples, english, junk)),
            ("own names, pinned", figures(pinned, translated, own, junk)),
            ("own names, own template for every text", figures(with_templates(tagger, template, template),
                                                               translated, own, junk)),
            ("own names, as shipped", figures(tagger, translated, own, junk))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.label_language", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--gemma", type=Path, default=GEMMA)
    parser.add_argument("--per-language", type=int, default=100)
    parser.add_argument("--news", type=int, default=211, help="MasakhaNEWS French dev articles (0: none)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--languages", default=",".join(TEMPLATES), help="SIB-200 languages, comma-separated")
    args = parser.parse_args(argv)
    sib = sib_sample(args.data_dir, args.per_language, args.seed)
    news = news_sample(args.data_dir / "masakhanews-fra-dev.jsonl", args.news) if args.news else []
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
                                     [j["text"] for j in junk if j["lang"] == "fr"]):
            rows.append((f"MasakhaNEWS French ({len(news)} articles), {how}", values))
    for lang in (lang for lang in args.languages.split(",") if lang in sib):  # the languages the data has
        template, own = TEMPLATES[lang]
        print(f"-- {lang}", file=sys.stderr)
        for how, values in four_ways(tagger, pinned, sib[lang], SIB_LABELS, own, template,
                                     [j["text"] for j in junk if j["lang"] == CODES[lang]]):
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
    sys.exit(main())
