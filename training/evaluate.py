"""Evaluate the Tagger on a labeled JSONL or CSV file.

Usage:
    python -m training.evaluate --data FILE [--model DIR|default]
        [--labels-from-data | --descriptions FILE | --taxonomy NAME]
        [--limit N] [--report OUT.json] [--plots DIR]

``--model`` is ``default`` (the zero-shot engine the settings give), a directory written
by ``training.finetune``, or another local sentence-embedding model. Single-label data
(one label per row) is scored with the Tagger's single-label mode (the best label, as a
``multi_label: false`` call gets it), and also tagged as a default call (multi-label: how
many articles get no label, precision and recall); multi-label data with its thresholds
(the API's default).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from service.config import Settings
from service.engine import Label, ModelLoadError, NewstagError, Tagger, TaxonomyRegistry
from service.engine.classifier import ClassifierBackend
from service.engine.classifier_dir import MANIFEST_FILE, is_classifier_dir
from service.engine.routing import base_search_path
from service.engine.taxonomy import load_taxonomy_file
from service.engine.validation import text_problem
from service.interrupts import run_command, sigterm_interrupts
from service.progress import progress_bar

from .data import DataFileError, Example, is_single_label, read_labeled
from .metrics import classification_report, default_call_summary, format_report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="labeled JSONL or CSV")
    parser.add_argument("--model", default="default",
                        help="'default', a fine-tuned model directory, or a local embedding model directory")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--labels-from-data", action="store_true",
                        help="use the data's label names as the label set (zero-shot on names alone)")
    source.add_argument("--descriptions", type=Path,
                        help="a taxonomy-format YAML file giving each data label a description and keywords")
    source.add_argument("--taxonomy", help="score against an installed taxonomy (default: the settings')")
    parser.add_argument("--limit", type=int, help="only the first N examples")
    parser.add_argument("--batch-size", type=int, default=32, help="texts per Tagger call")
    parser.add_argument("--report", type=Path, help="write the full report as JSON here")
    parser.add_argument("--plots", type=Path, help="write PNG plots (F1 per label, PR curves, confusion) here")
    return parser


def _label_set(args: argparse.Namespace, examples: list[Example]) -> tuple[list[Label] | None, str | None]:
    if args.descriptions:
        return list(load_taxonomy_file(args.descriptions).labels), None
    if args.labels_from_data:
        return [Label(name) for name in sorted({x for e in examples for x in e.labels})], None
    return None, args.taxonomy


def _tag_all(tagger: Tagger, examples: list[Example], labels: list[Label] | None, taxonomy: str | None,
             batch_size: int, desc: str, **options) -> list:
    results = []
    with progress_bar(total=len(examples), desc=desc, unit="doc", file=sys.stderr) as bar:
        for start in range(0, len(examples), batch_size):
            batch = examples[start:start + batch_size]
            results.extend(tagger.tag([e.text for e in batch], labels, taxonomy=taxonomy, evidence=False, **options))
            bar.update(len(batch))
    return results


def evaluate(tagger: Tagger, examples: list[Example], labels: list[Label] | None, taxonomy: str | None,
             batch_size: int = 32, plots: Path | None = None, default_call: bool = False) -> dict:
    """Tag every example with the same Tagger the service uses and score the predictions.
    ``default_call``: single-label data is also tagged as the API's default call would tag it
    (multi-label), since that is what users run: the best label is always given in single-label
    mode, where a default call may give none (a desk model's rare label, a low score)."""
    single = is_single_label(examples)
    label_set = tagger.label_set(labels, taxonomy)
    label_names = [lab.name for lab in label_set.labels]
    unknown = sorted({x for e in examples for x in e.labels} - set(label_names))
    if unknown:
        hint = ("" if tagger.fixed_labels is not None or labels is not None
                else f" (taxonomy {label_set.name}'s topics; to score the data's own label names: "
                     "--labels-from-data, or --descriptions FILE)")
        raise DataFileError(f"the data has labels outside the label set{hint}: {', '.join(unknown[:10])}")
    results = _tag_all(tagger, examples, labels, taxonomy, batch_size, "tagging", multi_label=not single)
    predicted = [tuple(t.label for t in r.topics) for r in results]
    report = classification_report([e.labels for e in examples], predicted, label_names, single)
    report["mode"] = "single-label" if single else "multi-label"
    if single and default_call:
        as_called = _tag_all(tagger, examples, labels, taxonomy, batch_size, "tagging as a default call")
        report["default_call"] = default_call_summary([e.labels for e in examples],
                                                      [tuple(t.label for t in r.topics) for r in as_called])
    if plots is not None:
        from . import plots as draw

        # Every label's score, for the precision-recall curves: a second pass, threshold 0.
        scored = _tag_all(tagger, examples, labels, taxonomy, batch_size, "scoring", threshold=0.0)
        column = {name: j for j, name in enumerate(label_names)}
        scores = np.zeros((len(examples), len(label_names)))
        for i, result in enumerate(scored):
            for topic in result.topics:
                scores[i, column[topic.label]] = topic.score
        truth = np.array([[name in e.labels for name in label_names] for e in examples])
        plots.mkdir(parents=True, exist_ok=True)
        draw.per_label_f1(report, plots / "f1_per_label.png")
        draw.precision_recall(scores, truth, label_names, plots / "precision_recall.png")
        if single:
            draw.confusion(report, plots / "confusion_matrix.png")
    return report


def load_tagger(model: str, settings: Settings) -> Tagger:
    """The Tagger for --model: the settings' default, a fine-tuned directory, or an embedding model."""
    if model == "default":
        return Tagger.load(settings.engine_options())
    path = Path(model)
    try:
        if is_classifier_dir(path):  # ModelLoadError when the directory cannot be read
            taxonomies = TaxonomyRegistry.load(settings.taxonomies_dir)
            options = settings.engine_options()
            backend = ClassifierBackend.load(path, options.model.encoder,
                                             search=base_search_path(options.multilingual_model))
            return Tagger(backend, taxonomies, options.tagger)
        return Tagger.load(Settings.from_env(max_documents=settings.max_documents, model=path,
                                             batching=settings.batching).engine_options())
    except NewstagError:
        raise
    except Exception as exc:  # a directory of the user's that fails in a library (as newstag tag --model says it)
        raise ModelLoadError(f"--model {model} cannot be loaded: {type(exc).__name__}: {str(exc)[:200]}") from exc


def _check_args(args: argparse.Namespace) -> None:
    """What would fail only after every article was tagged (or silently drop one)."""
    if args.limit is not None and args.limit < 1:
        raise NewstagError(f"--limit must be at least 1, not {args.limit}")
    if args.batch_size < 1:
        raise NewstagError(f"--batch-size must be at least 1, not {args.batch_size}")
    if args.report is not None and args.report.is_dir():
        raise NewstagError(f"--report {args.report} is a directory: name a file")
    if args.plots is not None and args.plots.exists() and not args.plots.is_dir():
        raise NewstagError(f"--plots {args.plots} is a file: name a directory")
    for option, path in (("--report", args.report), ("--plots", args.plots)):
        blocked = next((p for p in (path.parents if path is not None else ()) if p.exists() and not p.is_dir()), None)
        if blocked is not None:  # made with mkdir after every article was tagged: a traceback then
            raise NewstagError(f"{option} {path}: {blocked} is a file, so nothing can be written under it")


def check_texts(path: Path, examples: list[Example], max_chars: int) -> None:
    """Refuse, by file:line, an article the Tagger would refuse: before anything is tagged
    (its own error came after the earlier batches, naming the text's index in its batch)."""
    bad = [(e, problem) for e in examples if (problem := text_problem(e.text, max_chars)) is not None]
    if not bad:
        return
    first, problem = bad[0]
    setting = " (NEWSTAG_MAX_TEXT_CHARS)" if len(first.text) > max_chars else ""
    more = f"; {len(bad) - 1} more article(s) too" if len(bad) > 1 else ""
    raise DataFileError(f"{path}:{first.line}: 'text' {problem}{setting}{more}")


def trained_on_warning(data: Path, model: str) -> str | None:
    """A warning when ``data`` is the very file a fine-tuned ``model`` was trained on (its SHA-256 is
    the one newstag.json records): a desk with 20 articles and no others scored its model on them,
    0.95, where 100 BBC News articles (3 of them its own) gave 0.78, without a word."""
    try:
        manifest = json.loads((Path(model) / MANIFEST_FILE).read_text())
        same = hashlib.sha256(data.read_bytes()).hexdigest() == manifest["training_data"]["sha256"]
        refit = bool(manifest.get("refit_rows"))
    except (OSError, ValueError, KeyError, TypeError):  # not a fine-tuned model, or none of this recorded
        return None
    if not same:
        return None
    trained = ("every one of its rows trained the model (refit on them all once its validation split was scored)"
               if refit else "all of its rows but the validation split trained the model")
    return (f"{data} is the file {model} was trained on (newstag.json records its SHA-256): {trained}, so these "
            "figures overstate how it reads new articles; evaluate on articles it was not trained on")


def check_model_labels(path: Path, examples: list[Example], own: list[str]) -> None:
    """Refuse, by file:line, a label a fine-tuned model does not have, naming the ones it has."""
    bad = [(e, x) for e in examples for x in e.labels if x not in own]
    if not bad:
        return
    first, label = bad[0]
    others = sorted({x for _, x in bad} - {label})
    more = f"; also {', '.join(map(repr, others[:10]))}" if others else ""
    raise DataFileError(f"{path}:{first.line}: {label!r} is not a label of the model (its labels: "
                        f"{', '.join(own)}){more}. It cannot predict them: leave such rows out, or retrain "
                        "the model with them")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with sigterm_interrupts():
        try:
            return _main(args)
        except KeyboardInterrupt:  # the report is written only at the end
            print("\nevaluate: interrupted; nothing was written", file=sys.stderr)
            return 130


def _main(args: argparse.Namespace) -> int:
    try:
        _check_args(args)
        examples = read_labeled(args.data, args.limit)
        labels, taxonomy = _label_set(args, examples)
        # One caller: the model runs in this thread (Ctrl-C stops it there), not a batching thread's,
        # which Ctrl-C left running: the process ended in "terminate called without an active exception".
        settings = Settings.from_env(max_documents=max(args.batch_size, 1), batching=False)
        check_texts(args.data, examples, settings.max_text_chars)
        tagger = load_tagger(args.model, settings)
        if tagger.fixed_labels is not None and labels is not None:
            # The model's labels narrowed to the data's (or a file's): its scores rose as its other labels
            # dropped out, and the report still said "model labels".
            option = "--labels-from-data" if args.labels_from_data else "--descriptions"
            raise NewstagError(f"{option} does not apply to a fine-tuned model: it scores its own labels "
                               f"({len(tagger.fixed_labels)}); leave {option} out")
        if tagger.fixed_labels is not None:
            check_model_labels(args.data, examples, [lab.name for lab in tagger.fixed_labels])
        if warning := trained_on_warning(args.data, args.model):
            print(f"evaluate: warning: {warning}", file=sys.stderr, flush=True)
        report = evaluate(tagger, examples, labels, taxonomy, args.batch_size, args.plots, default_call=True)
    except (NewstagError, DataFileError) as exc:
        print(f"evaluate: error: {exc}", file=sys.stderr)
        return 2
    report["data"] = str(args.data)
    report["model"] = tagger.backend.model_name
    report["label_source"] = ("model labels" if tagger.fixed_labels is not None
                              else "descriptions: " + str(args.descriptions) if args.descriptions
                              else "data label names" if args.labels_from_data
                              else "taxonomy: " + (taxonomy or settings.taxonomy))
    print(format_report(report))
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "evaluate"))
