"""Fine-tune a topic classifier on labeled articles; the service then serves the result.

Usage:
    python -m training.finetune --train FILE [--validation FILE | --validation-split 0.1]
        --output DIR [--base DIR] [--mode hybrid|head|full] [--epochs N] [--batch-size N]
        [--max-length N] [--lr X] [--seed N] [--resume]

Modes: ``hybrid`` (the default) trains a class-balanced linear model over the frozen
encoder's article vector and TF-IDF features, with per-label thresholds from out-of-fold
scores (training/hybrid.py); ``head`` trains a linear head on frozen window vectors;
``full`` fine-tunes the encoder too (LP-FT). Measured side by side in docs/benchmarks.md.

    torchrun --nproc_per_node 2 -m training.finetune ...   # several processes (DDP)
"""

from __future__ import annotations

import shlex
import shutil
import sys
import time
from collections import Counter
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoModel

from service.drift.reference import label_shares
from service.engine import NewstagError
from service.engine.base_models import DEFAULT_BASE, base_reference
from service.engine.chunking import prepare_document
from service.engine.classifier import at_least_one as at_least_one_label
from service.engine.classifier_dir import HYBRID, MANIFEST_FILE
from service.engine.model_files import model_languages
from service.engine.st_modules import read_pipeline
from service.engine.tokenizer import load_tokenizer
from service.interrupts import run_command, sigterm_interrupts
from service.progress import progress_bar

from .classification import label_targets
from .config import TrainingConfig
from .data import (
    DataFileError,
    Example,
    fingerprint,
    is_single_label,
    label_names,
)
from .distributed import Distributed
from .domain_fit import EncodedArticles, fit_domain
from .export import check_destination, library_versions, write_model_dir
from .finetune_cli import argument_problem, config_from, parser, unused_options
from .languages import base_language_warning, installed_multilingual
from .metrics import classification_report
from .model import WindowClassifier, check_max_length, resolve_base
from .model_card import CardData, render
from .stages import Split, StageResult, frozen_stage, full_stage, tuned_encoder_dir
from .trainer import Interrupted, check_resumable, remove_checkpoint
from .training_split import read_training_data


def run(config: TrainingConfig, dist: Distributed) -> dict:
    try:
        return _train_and_write(config, dist)
    finally:  # success, failure or Ctrl-C: contrastive tuning's working copy (90 MB) is never left behind
        shutil.rmtree(tuned_encoder_dir(config.output, dist.rank), ignore_errors=True)


def _train_and_write(config: TrainingConfig, dist: Distributed) -> dict:
    started = time.monotonic()
    torch.manual_seed(config.seed)
    assert config.epochs is not None and config.lr is not None

    # 1. Load the data, and hold out a validation split when no file is given.
    examples, train, validation = read_training_data(config, dist, _warn, _note)
    labels = label_names(train + validation)
    multi_label = not is_single_label(train + validation)
    data_print = fingerprint(config.train, examples)

    # 2. Load the base model from a local directory (the default one is checksummed).
    base_dir, base_name = resolve_base(config.base)
    if dist.is_main and (warning := base_language_warning([e.text for e in train], base_dir, base_name,
                                                          installed_multilingual())):
        _warn(warning)
    tokenizer = load_tokenizer(base_dir)
    encoder = AutoModel.from_pretrained(base_dir, local_files_only=True, use_safetensors=True)

    # 3. Cut every article into sentence-aligned windows, as the engine does.
    def windows(items: list[Example], what: str) -> Split:
        return Split(items, [prepare_document(e.text, tokenizer, config.max_length)
                             for e in progress_bar(items, desc=f"windows ({what})", file=sys.stderr,
                                                   disable=not dist.is_main)])

    train_split, validation_split = windows(train, "train"), windows(validation, "validation")

    # 4-7. Build the classifier and train it (training/stages.py). Windows are embedded as the
    # engine embeds them: mean-pooled, then the base model's steps after pooling
    # (EmbeddingGemma's Dense layers; none for all-MiniLM-L6-v2).
    pipeline = read_pipeline(base_dir)
    model = WindowClassifier(encoder, pipeline.dim or int(encoder.config.hidden_size), len(labels), pipeline)
    targets = label_targets(train, labels, multi_label)
    stage = full_stage if config.mode == "full" else frozen_stage
    result = stage(model, tokenizer, base_dir, config, train_split, validation_split, labels, targets,
                   multi_label, data_print, dist)
    if result is None:
        return {}  # not the first process: it writes nothing
    if warning := result.fitted.warning(labels):
        _warn(warning)
    # Every training article has a label (training/data.py requires one): with the hybrid
    # recipe's setting, the model gives every article at least its best label, as served.
    at_least_one = config.mode == "hybrid" and multi_label and config.hybrid.at_least_one and all(
        e.labels for e in train + (validation if result.refit_rows else []))
    metrics = _validation_metrics(result, validation, labels, multi_label, at_least_one)

    # 8. Write the model directory atomically, with its model card.
    _write(config, model, tokenizer, base_dir, base_name, train_split, validation_split, labels, multi_label,
           data_print, result, metrics, at_least_one, time.monotonic() - started)
    remove_checkpoint(config.output)
    return metrics


def _warn(message: str) -> None:
    print(f"finetune: warning: {message}", file=sys.stderr, flush=True)


def _note(message: str) -> None:
    print(f"finetune: note: {message}", file=sys.stderr, flush=True)


def _validation_metrics(result: StageResult, validation: list[Example], labels: list[str], multi_label: bool,
                        at_least_one: bool) -> dict[str, Any]:
    """The validation articles' figures, decided as the service will decide them."""
    probs, thresholds = result.probs, result.validation_thresholds
    if at_least_one:
        probs = at_least_one_label(probs, np.asarray(thresholds, dtype=np.float64))
    if multi_label:
        predicted = [tuple(x for j, x in enumerate(labels) if probs[i, j] >= thresholds[j])
                     for i in range(len(validation))]
    else:
        predicted = [(labels[int(np.argmax(row))],) for row in probs]
    metrics = classification_report([e.labels for e in validation], predicted, labels, not multi_label)
    metrics["mode"] = "multi-label" if multi_label else "single-label"
    return metrics


def _write(config: TrainingConfig, model: WindowClassifier, tokenizer: Any, base_dir: Path, base_name: str,
           train: Split, validation: Split, labels: list[str], multi_label: bool, data_print: dict[str, Any],
           result: StageResult, metrics: dict[str, Any], at_least_one: bool, train_seconds: float) -> None:
    """The model directory: weights, labels and thresholds, card, manifest, label shares, domain."""
    assert config.epochs is not None and config.lr is not None  # resolved() filled them
    hybrid, settings, tuning = result.hybrid, result.hybrid_settings, result.tuning
    # Head and hybrid modes leave the encoder as it was: on a pinned base (the embedded default,
    # the installed EmbeddingGemma) the directory references it by checksum instead of copying
    # it. Any other local --base is copied: its path may not exist where the model is served.
    reference = base_reference(base_dir) if config.mode != "full" and tuning is None else None
    # Under two articles a fold, the recipe scores nothing out of fold: it takes fixed settings (hybrid.py).
    scored = settings is not None and len(train.examples) >= 2 * settings.folds
    card = CardData(
        name=config.output.name, base_model=base_name, mode=config.mode, labels=labels, multi_label=multi_label,
        max_tokens=config.max_length, train_file=config.train.name, train_sha256=data_print["sha256"],
        train_rows=len(train.examples), validation_rows=len(validation.examples), refit_rows=result.refit_rows,
        validation_source=str(config.validation) if config.validation else
        f"{config.validation_split:.0%} of the training file, seed {config.seed}",
        command=" ".join(shlex.quote(a) for a in config.command), epochs=config.epochs,
        batch_size=config.batch_size, lr=config.lr, seed=config.seed, loss=config.loss, train_seconds=train_seconds,
        versions=library_versions(), metrics=metrics, thresholds=result.thresholds,
        threshold_fit=result.fitted.record(labels),
        hybrid={**asdict(settings), "embedding_weight": hybrid.article_weight,
                "embedding_weight_chosen": settings.embedding_weight is None and scored,
                "label_prior": hybrid.label_prior, "label_prior_chosen": settings.label_prior is None and scored,
                "nb_alpha": hybrid.nb_alpha, "nb_alpha_chosen": settings.nb_alpha is None and scored,
                "out_of_fold": scored, "train_rows": len(train.examples)}
        if hybrid and settings else None, contrastive=tuning,
        languages=sorted(model_languages(base_dir) or ()) or None,
        base_named=reference is not None and reference["base"] != DEFAULT_BASE)
    manifest = {"base_model": base_name, "mode": config.mode, "max_tokens": config.max_length,
                "multi_label": multi_label, "training_data": data_print, "config": config.to_dict(),
                "train_seconds": round(train_seconds, 1), "thresholds": result.fitted.record(labels),
                **({"head": HYBRID} if hybrid else {}),
                **({"refit_rows": result.refit_rows} if result.refit_rows else {}),
                **({"contrastive": tuning} if tuning else {})}
    labeled = train.examples + validation.examples
    shares = label_shares(len(labeled), Counter(x for e in labeled for x in e.labels), {
        "files": [config.train.name, *([config.validation.name] if config.validation else [])],
        "rows": "training and validation rows", "train_sha256": data_print["sha256"]})
    # A single-label model also keeps what its labels' articles look like, so it can say
    # "none of these" to a text unlike all of them (service/engine/domain.py).
    # The frozen encoder (head and hybrid modes) already read these articles: where the saved
    # model would cut the same windows, the domain reuses those vectors instead of a second pass.
    frozen = result.frozen
    known = None if frozen is None else (
        EncodedArticles(train.docs, [w.numpy() for w in frozen["train"]]),
        EncodedArticles(validation.docs, [w.numpy() for w in frozen["validation"]]))
    domain = None if multi_label else partial(
        fit_domain, max_tokens=config.max_length, train=train.examples, validation=validation.examples,
        labels=labels, seed=config.seed, known=known,
        # a fine-tuned or contrastively tuned encoder learnt the training articles: they would look closer
        unseen_train=config.mode != "full" and tuning is None)
    write_model_dir(config.output, model, tokenizer, labels, result.thresholds, multi_label, metrics, manifest,
                    render(card), shares, domain, base_reference=reference,
                    pipeline_from=base_dir, lexical=hybrid.lexical if hybrid else None, at_least_one=at_least_one)


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__.split("\n")[0]).parse_args(argv)
    config = config_from(args, argv)
    problem = argument_problem(args, config)
    if problem:
        print(f"finetune: error: {problem}", file=sys.stderr)
        return 2
    unused = unused_options(sys.argv[1:] if argv is None else argv, config.mode)
    if unused:
        print(f"finetune: note: --mode {config.mode} does not use {', '.join(unused)}: ignored", file=sys.stderr)
    dist = Distributed.from_env()
    started = time.time()
    try:
        with sigterm_interrupts():
            check_destination(config.output, [("--train", config.train), ("--validation", config.validation)])
            check_resumable(config)
            check_max_length(config.base, config.max_length)
            metrics = run(config, dist)
    except (DataFileError, NewstagError, ValueError) as exc:
        print(f"finetune: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. writing the model directory: one line, not a traceback
        print(f"finetune: error: {exc.filename or config.output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(f"finetune: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # outside the training loop (hybrid and head fits, reading, export): no checkpoint
        if _written_since(config.output, started):  # between the model's rename into place and the end
            remove_checkpoint(config.output)
            print(f"\nfinetune: interrupted after {config.output} was written: the model there is complete",
                  file=sys.stderr)
        else:
            print(f"\nfinetune: interrupted before {config.output} was written; nothing was saved", file=sys.stderr)
        return 130
    finally:
        dist.close()
    if dist.is_main:
        print(f"wrote {config.output}: micro-F1 {metrics['micro_f1']:.4f}, macro-F1 {metrics['macro_f1']:.4f} "
              f"(validation: {metrics['examples']} articles, covering {metrics['labels_with_examples']} of the "
              f"{len(metrics['per_label'])} labels; {metrics['mode']})")
    return 0


def _written_since(output: Path, started: float) -> bool:
    """Did this run put a complete model directory at ``output`` (its manifest is written last,
    then the directory renamed into place)?"""
    try:
        return (output / MANIFEST_FILE).stat().st_mtime >= started
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(run_command(main, "finetune"))
