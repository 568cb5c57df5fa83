"""Labels named in the text's language: does EmbeddingGemma need a label template in that language too?

Usage:
    python -m bench.label_language [--data-dir ../shared/data] [--gemma base-models/embeddinggemma-300m]
        [--per-language 100] [--news 60] [--seed 1]

A newsroom names its sections in its own language ("Wirtschaft", "Politik"). The label
template pinned for EmbeddingGemma (model_profiles.py) is English: "This news article is
about {}.". For each language of the shared data (SIB-200 sentences, the same ones in
each language, bench/multilingual.py's sample; MasakhaNEWS French articles) this scores,
top-1 macro-F1 through the Tagger:

1. English label names, the English template (as pinned);
2. label names in the text's language, the English template;
3. label names in the text's language, the template in that language (TEMPLATES).

There is no German news data in the shared data, so German is only measured on SIB-200
sentences. The translations are newstag's own.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from bench.multilingual import GEMMA, ROOT, macro_f1, models, news_sample, sib_sample
from service.engine import Label, Tagger
from service.engine.embedding_backend import EmbeddingBackend
from training.data import Example

ENGLISH_TEMPLATE = "This news article is about {}."
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


def with_template(tagger: Tagger, template: str) -> Tagger:
    backend = tagger.backend
    assert isinstance(backend, EmbeddingBackend)
    return Tagger(backend.rephrased(template, None), tagger.taxonomies, tagger.options)  # one template for every text


def three_ways(tagger: Tagger, examples: list[Example], english: list[str], own: list[str],
               template: str) -> tuple[float, float, float]:
    """Macro-F1: English names and template; own names, English template; own names and template."""
    names = dict(zip(english, own, strict=True))
    translated = renamed(examples, names)
    pinned = with_template(tagger, ENGLISH_TEMPLATE)
    return (macro_f1(pinned, examples, [Label(n) for n in english]),
            macro_f1(pinned, translated, [Label(n) for n in own]),
            macro_f1(with_template(tagger, template), translated, [Label(n) for n in own]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.label_language", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--gemma", type=Path, default=GEMMA)
    parser.add_argument("--per-language", type=int, default=100)
    parser.add_argument("--news", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sib = sib_sample(args.data_dir, args.per_language, args.seed)
    news = news_sample(args.data_dir, args.news)
    settings = models(args.gemma)[args.gemma.name]
    # Each text is read once: the label vectors change, the documents come from the cache.
    tagger = Tagger.load(replace(settings, document_cache=len(news) + 10 * len(sib["eng_Latn"])).engine_options())
    rows = []
    for lang in (lang for lang in sib if lang in TEMPLATES):  # the languages the data has
        template, own = TEMPLATES[lang]
        print(f"-- {lang}", file=sys.stderr)
        rows.append((f"SIB-200 {lang} ({len(sib[lang])} sentences)",
                     *three_ways(tagger, sib[lang], SIB_LABELS, own, template)))
    if news:
        template, names = FRENCH_NEWS
        english = sorted(names)
        rows.append((f"MasakhaNEWS French ({len(news)} articles)",
                     *three_ways(tagger, news, english, [names[n] for n in english], template)))
    print(f"\nEmbeddingGemma, top-1 macro-F1 (seed {args.seed})\n")
    print("| texts | English names, English template | own-language names, English template "
          "| own-language names and template |")
    print("|---|---:|---:|---:|")
    for name, *values in rows:
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
