"""The hybrid recipe's settings, measured on a proxy test split it never sees.

Usage:
    python -m bench.hybrid_recipe --data ../shared/data/reuters-r90-train.jsonl
        [--settings 0.5:auto:auto 0.5:1:0 ...] [--proxy-test 0.2] [--seed 7 | --chronological]
        [--cross-validate 5 --repeats 3] [--cache /tmp/newstag-few-shot] [--base DIR] [--validation-split 0.1]

The corpora's own test splits are kept elsewhere, so a seeded share of the training file
(--proxy-test) stands in: the recipe (training/hybrid.py, as training.finetune runs it)
trains on the rest, fitting its thresholds out of fold, and is scored on the proxy test.
--chronological takes the file's last rows instead: Reuters' ModApte test is later news than
its training file, and a random draw from the same weeks flatters the recipe.
Each setting is C:embedding-weight[:label-prior[:nb-alpha]] (weight 0: TF-IDF alone; auto: the
recipe's own choice; label prior: the scale of each label's own-name feature, 0 off, auto (the
default) the recipe's own choice; nb-alpha: the smoothing of each label's log-count ratios that
weigh its TF-IDF columns, 0 off, auto (the default) the recipe's own choice).
For multi-label data the same model is scored three ways: with its per-label thresholds
alone; with them and "at least one label" (an article no label reaches gets its best one, as training.finetune's
model serves it: classifier.at_least_one); and with 0.5 for every label (the SVM's own
boundary), which shows what the per-label thresholds add. Article vectors are cached as
in bench.few_shot; --base reads them (and the label names) with another local model, as
training.finetune's --base does (the multilingual model: base-models/embeddinggemma-300m).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from service.engine.classifier import at_least_one, probabilities
from service.engine.model_files import default_model_dir
from service.interrupts import run_command
from training.data import Example, is_single_label, read_labeled, split_validation
from training.hybrid import HybridModel, HybridSettings, mix_of, targets_matrix, train_hybrid
from training.metrics import classification_report
from training.probe import label_name_vectors
from training.thresholds import Thresholds

from .few_shot import MAX_TOKENS, VectorCache


def predicted_labels(probs: np.ndarray, labels: list[str], thresholds: list[float] | np.ndarray,
               single: bool) -> list[tuple[str, ...]]:
    """Each row's labels: the best one (single-label), or those at their threshold; ``thresholds``
    is one per label, or one row of them per article (cross-validation: each fold its own)."""
    if single:
        return [(labels[int(j)],) for j in probs.argmax(axis=1)]
    cuts = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), probs.shape)
    return [tuple(x for x, keep in zip(labels, row, strict=True) if keep) for row in probs >= cuts]


def _figures(gold: list[Example], probs: np.ndarray, labels: list[str], thresholds: list[float],
             single: bool) -> dict:
    predicted = predicted_labels(probs, labels, thresholds, single)
    report = classification_report([e.labels for e in gold], predicted, labels, single)
    rare = report["rare_labels"]
    return {"micro_f1": round(report["micro_f1"], 4), "macro_f1": round(report["macro_f1"], 4),
            "rare_macro_f1": None if rare["macro_f1"] is None else round(rare["macro_f1"], 4),
            "rare_labels": rare["count"], "accuracy": round(report.get("accuracy", report["subset_accuracy"]), 4)}


def _settings(setting: str) -> HybridSettings:
    c_text, weight_text, *rest = setting.split(":")
    prior, nb_alpha = (rest + [None, None])[:2]
    return HybridSettings(c=float(c_text), embedding_weight=None if weight_text == "auto" else float(weight_text),
                          label_prior=float(prior) if prior and prior != "auto" else None,
                          nb_alpha=float(nb_alpha) if nb_alpha and nb_alpha != "auto" else None)


def served_models(rows: list[int] | np.ndarray, examples: list[Example], vectors: np.ndarray,
                  targets: np.ndarray, single: bool, settings: HybridSettings, names: np.ndarray | None,
                  validation_split: float | None) -> list[tuple[str, int, HybridModel, Thresholds, float]]:
    """The recipe fitted on ``rows``; with ``validation_split``, as training.finetune fits it: on the
    rows its split (seed 42) leaves for training (what ``--refit off`` serves), then again on all of
    ``rows`` at the mix that fit chose (what it serves by default). Each with its rows and seconds."""
    started = time.monotonic()
    fit_rows = list(rows)
    if validation_split:
        index = {id(examples[i]): int(i) for i in rows}
        kept, _ = split_validation([examples[i] for i in rows], validation_split, 42)
        fit_rows = sorted(index[id(e)] for e in kept)
    model, fitted = train_hybrid([examples[i].text for i in fit_rows], vectors[fit_rows], targets[fit_rows],
                                 not single, settings, seed=42, label_vectors=names)
    if not validation_split:
        return [("", len(fit_rows), model, fitted, time.monotonic() - started)]
    seconds, started = time.monotonic() - started, time.monotonic()
    refit, refitted = train_hybrid([examples[i].text for i in rows], vectors[rows], targets[rows], not single,
                                   mix_of(model, settings), seed=42, label_vectors=names)
    return [("--refit off", len(fit_rows), model, fitted, seconds),
            ("refit", len(rows), refit, refitted, time.monotonic() - started)]


def cross_validate(examples: list[Example], vectors: np.ndarray, labels: list[str], single: bool, setting: str,
                   folds: int, repeats: int, names: np.ndarray | None, validation_split: float | None = None) -> None:
    """Every article scored once by a model that did not see it, ``repeats`` times (seeds 0..):
    on a small file this says more than one proxy split (BBC News: 1,787 articles against 357)."""
    targets = targets_matrix(examples, labels)
    strata = targets.argmax(axis=1) if single else np.zeros(len(examples))
    for seed in range(repeats):
        probs: dict[str, np.ndarray] = {}
        thresholds: dict[str, np.ndarray] = {}
        chosen = []
        for rows, held in StratifiedKFold(folds, shuffle=True, random_state=seed).split(examples, strata):
            for kind, _, model, fitted, _ in served_models(rows, examples, vectors, targets, single,
                                                        _settings(setting), names, validation_split):
                logits = model.logits([examples[i].text for i in held], vectors[held])
                probs.setdefault(kind, np.zeros(targets.shape))[held] = probabilities(logits, not single)
                thresholds.setdefault(kind, np.zeros(targets.shape))[held] = fitted.values
            chosen.append(f"{model.article_weight:g}/{model.label_prior:g}/{model.nb_alpha:g}")
        for kind, scores in probs.items():
            if not single:
                scores = np.stack([at_least_one(p, t) for p, t in zip(scores, thresholds[kind], strict=True)])
            predicted = predicted_labels(scores, labels, thresholds[kind], single)
            report = classification_report([e.labels for e in examples], predicted, labels, single)
            wrong = sum(set(p) != set(e.labels) for p, e in zip(predicted, examples, strict=True))
            print(f"{setting} cross-validation seed {seed}{kind and ', ' + kind}: micro-F1 "
                  f"{report['micro_f1']:.4f}, macro-F1 {report['macro_f1']:.4f}, {wrong} of {len(examples)} "
                  f"articles wrong; weight/prior/nb_alpha {' '.join(chosen)}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hybrid_recipe", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--settings", nargs="+", default=["0.5:auto"],
                        help="C:embedding-weight[:label-prior[:nb-alpha]] (auto: the recipe chooses out of fold)")
    parser.add_argument("--proxy-test", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chronological", action="store_true",
                        help="the proxy test is the file's last rows (Reuters' ids follow the date), not a random draw")
    parser.add_argument("--cross-validate", type=int, metavar="K",
                        help="instead of one proxy split: K-fold cross-validation over the whole file")
    parser.add_argument("--repeats", type=int, default=1, help="with --cross-validate: seeds 0 to N-1")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/newstag-few-shot"))
    parser.add_argument("--base", type=Path, help="a local model directory (default: embedded all-MiniLM-L6-v2)")
    parser.add_argument("--validation-split", type=float, metavar="F",
                        help="fit as training.finetune does: on the training part less its validation split of this "
                             "share (seed 42), as --refit off serves, then again on every training row at the "
                             "mix chosen, as it serves by default; both are scored")
    parser.add_argument("--cached-only", action="store_true",
                        help="only the rows whose vectors are cached (a subset, when the encoder pass is too slow)")
    args = parser.parse_args(argv)
    examples = read_labeled(args.data)
    if args.cached_only:
        cached = VectorCache(args.cache, args.data, args.base).vectors
        keep = sorted(cached)
        examples, args.cached_vectors = [examples[i] for i in keep], np.stack([cached[i] for i in keep])
    labels = sorted({x for e in examples for x in e.labels})
    single = is_single_label(examples)
    order = list(range(len(examples)))
    cut = round(len(examples) * args.proxy_test)
    if args.chronological:  # the hidden test split is later news than the training file
        test, train = order[len(order) - cut:], order[:len(order) - cut]
    else:
        random.Random(args.seed).shuffle(order)
        test, train = sorted(order[:cut]), sorted(order[cut:])
    started = time.monotonic()
    if args.cached_only:
        vectors = args.cached_vectors
    elif all(s.split(":")[1] == "0" for s in args.settings):  # TF-IDF alone: no encoder pass
        vectors = np.zeros((len(examples), 384), dtype=np.float32)
    else:
        vectors = VectorCache(args.cache, args.data, args.base).get(examples, list(range(len(examples))))
    print(f"{args.data.name}: {len(train)} training rows, {len(test)} proxy-test rows, {len(labels)} labels; "
          f"article vectors {time.monotonic() - started:.0f} s (0 if cached)", flush=True)
    names = label_name_vectors(args.base or default_model_dir(), MAX_TOKENS, labels)
    if args.cross_validate:
        for setting in args.settings:
            cross_validate(examples, vectors, labels, single, setting, args.cross_validate, args.repeats, names,
                           args.validation_split)
        return 0
    gold = [examples[i] for i in test]
    targets = targets_matrix(examples, labels)
    for setting in args.settings:
        settings = _settings(setting)
        for kind, rows, model, fitted, seconds in served_models(train, examples, vectors, targets, single,
                                                                settings, names, args.validation_split):
            thresholds = fitted.values
            probs = probabilities(model.logits([e.text for e in gold], vectors[test]), not single)
            chosen = f"{model.article_weight:g}" + (" (chosen)" if settings.embedding_weight is None else "")
            prior = f"{model.label_prior:g}" + (" (chosen)" if settings.label_prior is None else "")
            alpha = f"{model.nb_alpha:g}" + (" (chosen)" if settings.nb_alpha is None else "")
            line = (f"C={settings.c}, {rows} rows{kind and ' (' + kind + ')'}, embedding weight {chosen}, "
                    f"label prior {prior}, nb_alpha {alpha}: "
                    f"{_figures(gold, probs, labels, thresholds, single)}")
            if not single:
                lifted = at_least_one(probs, np.asarray(thresholds, dtype=np.float64))
                line += f"; at least one label: {_figures(gold, lifted, labels, thresholds, single)}"
                line += f"; every threshold 0.5: {_figures(gold, probs, labels, [0.5] * len(labels), single)}"
            print(f"{line}; fit and thresholds {seconds:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.hybrid_recipe"))
