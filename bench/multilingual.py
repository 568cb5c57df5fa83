"""Zero-shot topics by language: the default model and EmbeddingGemma side by side, Gemma's prompts, speed.

Usage:
    python -m bench.multilingual [--data-dir ../shared/data] [--gemma base-models/embeddinggemma-300m]
        [--per-language 200] [--news 211] [--speed 100] [--seed 1]
        [--prompt-sentences 30] [--prompt-news 40] [--no-prompts]
        [--sib-descriptions FILE] [--news-descriptions FILE]
        [--templates "news about {}" "This text is about {}." "news about {} + This text is about {}." ...]
        [--only-templates] [--no-gemma-quality]
        [--gemma-runtimes torch:auto,onnx:fp32,onnx:int8 --onnx-dir DIR] [--only-gemma]
        [--sib-splits train,validation] [--gemma-matcher on,off]

Label names stay English, as in ``python -m training.evaluate --labels-from-data`` (whose
``evaluate`` scores every run here): top-1 macro-F1 in single-label mode, no threshold.

1. SIB-200 sentences: a seeded sample of ``--per-language`` sentence numbers, the same
   sentences in every language of sib200-multi-train.jsonl and in English
   (sib200-eng.jsonl, its train and validation rows only, whose numbers are the same);
   ``--sib-splits validation`` keeps to the 99 sentences a topic matcher trained on the
   train split has not read (EmbeddingGemma's; the default model's read English sentences
   of every split);
2. French news: the first ``--news`` MasakhaNEWS French dev articles, whole;
3. each model scores both through the Tagger the service uses, at the service's
   settings (the default model with its matcher, as shipped; without it; EmbeddingGemma
   with the prompts, windows and calibration newstag pins for it);
4. speed: articles per second over the first ``--speed`` French articles of step 2, in
   this process, each model at the service's precision (``auto``);
5. Gemma's prompts: every (text prompt, label prompt) pair on a smaller sample
   (``--prompt-sentences`` per language, and the first window of ``--prompt-news`` articles);
6. Gemma's label templates (``--templates``, skipped when none is given): each one's SIB-200
   macro-F1 per language and French news macro-F1 on the samples of steps 1 and 2, at
   Gemma's pinned prompts and calibration. "A + B" averages the name's phrasings by both.

``--gemma-runtimes`` runs steps 3 and 4 for EmbeddingGemma once per ``runtime:precision``
(NEWSTAG_RUNTIME, NEWSTAG_PRECISION; ONNX graphs from ``--onnx-dir``, exported first by
``newstag export-onnx --model``), a column each, in the same run. ``--gemma-matcher on,off``
gives EmbeddingGemma a column with its topic matcher merged (the service's default) and one
without (NEWSTAG_MATCHER=off).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from service.config import Settings
from service.engine import Label, Tagger
from service.engine.embedding_backend import EmbeddingBackend
from service.engine.model_profiles import PromptNames
from service.engine.taxonomy import load_taxonomy_file
from service.interrupts import run_command
from training.data import Example
from training.evaluate import evaluate

ROOT = Path(__file__).resolve().parents[1]
GEMMA = ROOT / "base-models" / "embeddinggemma-300m"
TEXT_PROMPTS = (None, "Classification", "document")
LABEL_PROMPTS = (None, "query", "Classification")


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def sib_sample(data_dir: Path, per_language: int, seed: int,
               splits: tuple[str, ...] = ("train", "validation")) -> dict[str, list[Example]]:
    """The same seeded sentences in every language: {language: examples}, English first."""
    assert "test" not in splits  # SIB-200's test split stays unseen
    by_language: dict[str, dict[str, dict]] = defaultdict(dict)
    for row in _rows(data_dir / "sib200-multi-train.jsonl"):
        if row.get("split") in splits:
            by_language[row["lang"]][row["id"].rsplit("-", 1)[1]] = row
    for row in _rows(data_dir / "sib200-eng.jsonl"):
        if row.get("split") in splits:
            by_language["eng_Latn"][row["id"].rsplit("-", 1)[1]] = row
    shared = sorted(set.intersection(*(set(rows) for rows in by_language.values())), key=int)
    picked = random.Random(seed).sample(shared, min(per_language, len(shared)))
    order = ["eng_Latn"] + sorted(lang for lang in by_language if lang != "eng_Latn")
    return {lang: [Example(by_language[lang][n]["text"], tuple(by_language[lang][n]["labels"])) for n in picked]
            for lang in order}


def news_sample(path: Path, n: int) -> list[Example]:
    return [Example(r["text"], tuple(r["labels"])) for r in _rows(path)[:n]]


def label_set(examples: list[Example], descriptions: Path | None) -> list[Label]:
    if descriptions is not None:
        return list(load_taxonomy_file(descriptions).labels)
    return [Label(name) for name in sorted({x for e in examples for x in e.labels})]


def macro_f1(tagger: Tagger, examples: list[Example], labels: list[Label]) -> float:
    return float(evaluate(tagger, examples, labels, None, batch_size=32)["macro_f1"])


def speed(tagger: Tagger, examples: list[Example], labels: list[Label]) -> tuple[float, float]:
    """(articles/s, tokens read/s) tagging ``examples`` in batches of 32, after one warm-up batch."""
    tagger.tag([e.text for e in examples[:4]], labels, multi_label=False, evidence=False)
    start, tokens = time.perf_counter(), 0
    for i in range(0, len(examples), 32):
        results = tagger.tag([e.text for e in examples[i:i + 32]], labels, multi_label=False, evidence=False)
        tokens += sum(r.tokens for r in results)
    seconds = time.perf_counter() - start
    return len(examples) / seconds, tokens / seconds


def first_windows(tagger: Tagger, examples: list[Example]) -> list[Example]:
    """Each article cut after its first window (the prompt comparison's cheaper French news)."""
    out = []
    for e in examples:
        doc = tagger.backend.prepare(e.text)
        end = doc.window_text_span(doc.windows[0]).end if doc.windows else len(e.text)
        out.append(Example(e.text[:end], e.labels))
    return out


def models(gemma: Path, runtimes: str = "", onnx_dir: Path | None = None,
           only_gemma: bool = False, gemma_matcher: tuple[bool, ...] = (True,)) -> dict[str, Settings]:
    """The settings of each column; ``runtimes`` ("onnx:int8,torch:fp32"): Gemma once per runtime and precision."""
    # Each model alone: no routing by language (the service's default model routes to Gemma when installed).
    common: dict[str, Any] = {"document_cache": 0, "max_documents": 64, "multilingual_model": "off"}
    out = {} if only_gemma else {
        "all-MiniLM-L6-v2 + matcher (default)": Settings.from_env(model=None, matcher=True, **common),
        "all-MiniLM-L6-v2": Settings.from_env(model=None, matcher=False, **common)}
    if not runtimes:
        return {**out, **{gemma.name + ("" if on else " (no matcher)"):
                          Settings.from_env(model=gemma, matcher=on, **common) for on in gemma_matcher}}
    for spec in runtimes.split(","):
        runtime, _, precision = spec.strip().partition(":")
        out[f"{gemma.name} ({runtime} {precision or 'auto'})"] = Settings.from_env(
            model=gemma, runtime=runtime, precision=precision or "auto", onnx_dir=onnx_dir, **common)
    return out


def compare_prompts(tagger: Tagger, sib: dict[str, list[Example]], news: list[Example], sib_labels: list[Label],
                    news_labels: list[Label]) -> list[tuple[str, str, float, float]]:
    """Mean SIB macro-F1 over the languages and French first-window macro-F1, per prompt pair."""
    backend = tagger.backend
    assert isinstance(backend, EmbeddingBackend)
    encoder = backend.encoder
    chosen = (encoder.text_prompt, encoder.label_prompt)
    names = {v: k for k, v in encoder.pipeline.prompts.items() if k in TEXT_PROMPTS + LABEL_PROMPTS}
    rows = []
    for text in TEXT_PROMPTS:
        for label in LABEL_PROMPTS:
            encoder.use_prompts(PromptNames(text, label))
            article = backend.article_vectors.template if backend.article_vectors is not None else None
            fresh = backend.rephrased(backend.label_vectors.template, article)  # label vectors under these prompts
            variant = Tagger(fresh, tagger.taxonomies, tagger.options)
            sib_f1 = sum(macro_f1(variant, ex, sib_labels) for ex in sib.values()) / len(sib)
            rows.append((text or "none", label or "none", sib_f1, macro_f1(variant, news, news_labels)))
    encoder.use_prompts(PromptNames(names.get(chosen[0]), names.get(chosen[1])))
    return rows


def parse_template(spec: str) -> str | tuple[str, ...]:
    parts = tuple(part.strip() for part in spec.split(" + "))
    return parts[0] if len(parts) == 1 else parts


def parse_templates(spec: str) -> tuple[str | tuple[str, ...], str | tuple[str, ...] | None]:
    """"S | A": texts read labels by template S, articles (model_profiles.ModelProfile.article_min_sentences
    sentences or more) by A; "S": every text by S."""
    sentence, _, article = spec.partition(" | ")
    return parse_template(sentence), parse_template(article) if article.strip() else None


def compare_templates(tagger: Tagger, specs: list[str], sib: dict[str, list[Example]], news: list[Example],
                      sib_labels: list[Label], news_labels: list[Label]) -> dict[str, dict[str, float]]:
    """{template: {language: SIB macro-F1, ..., "news": French macro-F1}} at the pinned prompts and calibration."""
    backend = tagger.backend
    assert isinstance(backend, EmbeddingBackend)
    out = {}
    for spec in specs:
        print(f"-- template {spec!r}", file=sys.stderr)
        sentence, article = parse_templates(spec)
        variant = Tagger(backend.rephrased(sentence, article), tagger.taxonomies, tagger.options)
        out[spec] = {lang: macro_f1(variant, examples, sib_labels) for lang, examples in sib.items()}
        out[spec]["news"] = macro_f1(variant, news, news_labels)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.multilingual", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--gemma", type=Path, default=GEMMA, help="the EmbeddingGemma model directory")
    parser.add_argument("--per-language", type=int, default=200)
    parser.add_argument("--news", type=int, default=211, help="French news articles scored (the dev split has 211)")
    parser.add_argument("--news-data", type=Path,
                        help="French news articles to score instead of MasakhaNEWS French dev (e.g. a half of it "
                             "written by bench.halves, the half EmbeddingGemma's matcher did not read)")
    parser.add_argument("--speed", type=int, default=100, help="French articles timed")
    parser.add_argument("--prompt-sentences", type=int, default=30, help="per language, for the prompt comparison")
    parser.add_argument("--prompt-news", type=int, default=40, help="first windows, for the prompt comparison")
    parser.add_argument("--no-prompts", action="store_true", help="skip the prompt comparison")
    parser.add_argument("--only-prompts", action="store_true", help="only the prompt comparison")
    parser.add_argument("--templates", nargs="+", default=[],
                        help="Gemma label templates to compare ('A + B' averages both phrasings; "
                             "'S | A': texts by S, articles of 3 sentences or more by A)")
    parser.add_argument("--only-templates", action="store_true", help="only the template comparison")
    parser.add_argument("--no-gemma-quality", action="store_true",
                        help="time Gemma but skip its macro-F1 (its template comparison has the figures)")
    parser.add_argument("--sib-descriptions", type=Path, help="taxonomy-format YAML for the 7 SIB labels")
    parser.add_argument("--news-descriptions", type=Path, help="taxonomy-format YAML for the 5 MasakhaNEWS labels")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--gemma-runtimes", default="",
                        help="runtime:precision for Gemma, comma-separated (torch:auto,onnx:fp32,onnx:int8): "
                             "a column each")
    parser.add_argument("--onnx-dir", type=Path, help="NEWSTAG_ONNX_DIR for the onnx runtimes")
    parser.add_argument("--only-gemma", action="store_true", help="leave out the default model's columns")
    parser.add_argument("--sib-splits", default="train,validation",
                        help="SIB-200 splits sampled (validation: sentences no matcher trained on)")
    parser.add_argument("--gemma-matcher", default="on", help="on, off or on,off: Gemma with its topic matcher")
    args = parser.parse_args(argv)
    splits = tuple(s.strip() for s in args.sib_splits.split(","))
    if not set(splits) <= {"train", "validation"}:
        parser.error("--sib-splits: train and/or validation (the test split stays unseen)")

    sib = sib_sample(args.data_dir, args.per_language, args.seed, splits)
    news_data = args.news_data or args.data_dir / "masakhanews-fra-dev.jsonl"
    news = news_sample(news_data, max(args.news, args.speed, args.prompt_news))
    args.news = min(args.news, len(news))
    sib_labels = label_set(sib["eng_Latn"], args.sib_descriptions)
    news_labels = label_set(news, args.news_descriptions)
    gemma_matcher = tuple(dict.fromkeys(v.strip() == "on" for v in args.gemma_matcher.split(",")))
    settings = models(args.gemma, args.gemma_runtimes, args.onnx_dir, args.only_gemma, gemma_matcher)
    if args.only_prompts or args.only_templates:
        settings = {k: v for k, v in settings.items() if v.model is not None}
    figures: dict[str, dict[str, float]] = {}
    speeds: dict[str, tuple[str, float, float, float]] = {}
    prompt_rows: list[tuple[str, str, float, float]] = []
    templates: dict[str, dict[str, float]] = {}
    for name, model_settings in settings.items():
        print(f"== {name}", file=sys.stderr)
        tagger = Tagger.load(model_settings.engine_options())
        if not (args.only_prompts or args.only_templates):
            if model_settings.model is None or not args.no_gemma_quality:
                figures[name] = {lang: macro_f1(tagger, examples, sib_labels) for lang, examples in sib.items()}
                figures[name]["news"] = macro_f1(tagger, news[:args.news], news_labels)
            timed = news[:args.speed]
            per_second, tokens = speed(tagger, timed, news_labels)
            windows = sum(len(tagger.backend.prepare(e.text).windows) for e in timed) / len(timed)
            speeds[name] = (tagger.backend.encoder.precision.name, per_second, tokens, windows)  # type: ignore[attr-defined]
        if model_settings.model is not None and args.templates:
            # Only the label vectors change: each text is read once, the rest from the document cache.
            cache_size = len(news) + 10 * len(sib["eng_Latn"])
            cached = Tagger.load(replace(model_settings, document_cache=cache_size).engine_options())
            templates = compare_templates(cached, args.templates, sib, news[:args.news], sib_labels, news_labels)
        if model_settings.model is not None and not (args.no_prompts or args.only_templates):
            sentences = {lang: examples[:args.prompt_sentences] for lang, examples in sib.items()}
            prompt_rows = compare_prompts(tagger, sentences, first_windows(tagger, news[:args.prompt_news]),
                                          sib_labels, news_labels)
    report(args, sib, figures, speeds, prompt_rows)
    report_templates(args, sib, templates)
    return 0


Speeds = dict[str, tuple[str, float, float, float]]  # model: precision, articles/s, tokens/s, windows per article
PromptRows = list[tuple[str, str, float, float]]  # text prompt, label prompt, SIB mean, French first windows


def report(args: argparse.Namespace, sib: dict[str, list[Example]], figures: dict[str, dict[str, float]],
           speeds: Speeds, prompt_rows: PromptRows) -> None:
    names = list(figures)
    if names:
        print(f"\nTop-1 macro-F1, English label names ({'descriptions' if args.sib_descriptions else 'names only'}); "
              f"SIB-200: the same {len(sib['eng_Latn'])} sentences in each language (seed {args.seed})\n")
        print("| language | " + " | ".join(names) + " |")
        print("|---|" + "---:|" * len(names))
        for lang in sib:
            print(f"| SIB-200 {lang} | " + " | ".join(f"{figures[n][lang]:.3f}" for n in names) + " |")
        means = [sum(figures[n][lang] for lang in sib) / len(sib) for n in names]
        print("| **SIB-200 mean** | " + " | ".join(f"**{m:.3f}**" for m in means) + " |")
        lowest = [min(figures[n][lang] for lang in sib) for n in names]
        print("| SIB-200 lowest language | " + " | ".join(f"{m:.3f}" for m in lowest) + " |")
        news_name = f"French news, {args.news_data.stem}" if args.news_data else "MasakhaNEWS French"
        print(f"| {news_name} ({args.news} articles) | " + " | ".join(f"{figures[n]['news']:.3f}"
                                                                            for n in names) + " |")
    if speeds:
        print(f"\nSpeed on the first {args.speed} French articles (in-process, batches of 32, no evidence)\n")
        print("| model | precision | articles/s | tokens/s | windows per article |")
        print("|---|---|---:|---:|---:|")
        for name, (precision, per_second, tokens, windows) in speeds.items():
            print(f"| {name} | {precision} | {per_second:.2f} | {tokens:.0f} | {windows:.1f} |")
    if prompt_rows:
        print(f"\nEmbeddingGemma prompts: mean SIB-200 macro-F1 over {len(sib)} languages "
              f"({args.prompt_sentences} sentences each), French news first windows ({args.prompt_news} articles)\n")
        print("| text prompt | label prompt | SIB-200 mean | French first windows |")
        print("|---|---|---:|---:|")
        for text, label, sib_f1, news_f1 in prompt_rows:
            print(f"| {text} | {label} | {sib_f1:.3f} | {news_f1:.3f} |")


def report_templates(args: argparse.Namespace, sib: dict[str, list[Example]],
                     templates: dict[str, dict[str, float]]) -> None:
    if not templates:
        return
    languages = list(sib)
    print(f"\nEmbeddingGemma label templates: top-1 macro-F1, SIB-200 the same {len(sib['eng_Latn'])} sentences "
          f"per language (seed {args.seed}), MasakhaNEWS French {args.news} articles\n")
    header = " | ".join(lang.split("_")[0] for lang in languages)
    print(f"| template | {header} | SIB mean | SIB lowest | French |")
    print("|---|" + "---:|" * (len(languages) + 3))
    for spec, f1 in templates.items():
        values = [f1[lang] for lang in languages]
        print(f"| `{spec}` | " + " | ".join(f"{v:.3f}" for v in values)
              + f" | **{sum(values) / len(values):.3f}** | {min(values):.3f} | **{f1['news']:.3f}** |")


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.multilingual"))
