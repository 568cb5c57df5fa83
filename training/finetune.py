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

import argparse
import shlex
import shutil
import sys
import time
from collections import Counter
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from service.drift.reference import label_shares
from service.engine import NewstagError
from service.engine.chunking import PreparedDocument, prepare_document
from service.engine.classifier import HYBRID
from service.engine.classifier import at_least_one as at_least_one_label
from service.engine.encoder import special_tokens
from service.engine.st_modules import read_pipeline
from service.progress import progress_bar

from . import contrastive
from .classification import classifier_trainer, label_targets, predict
from .config import TrainingConfig
from .data import DataFileError, Example, fingerprint, is_single_label, label_names, read_labeled, split_validation
from .distributed import Distributed
from .domain_fit import EncodedArticles, fit_domain
from .export import library_versions, save_encoder, write_model_dir
from .hybrid import HybridSettings, hybrid_stage
from .languages import base_language_warning, installed_multilingual
from .metrics import classification_report
from .model import WindowClassifier, resolve_base, window_batch
from .model_card import CardData, render
from .probe import features_logits, frozen_windows, has_checkpoint, label_name_vectors, probe_head
from .thresholds import calibrate
from .trainer import Interrupted, remove_checkpoint


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.finetune", description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=Path, required=True, help="JSONL or CSV of labeled articles")
    held = parser.add_mutually_exclusive_group()
    held.add_argument("--validation", type=Path, help="a separate validation file")
    held.add_argument("--validation-split", type=float, default=0.1, help="hold out this share of --train")
    parser.add_argument("--output", type=Path, required=True, help="the model directory to write")
    parser.add_argument("--base", type=Path, help="a local model directory (default: embedded all-MiniLM-L6-v2)")
    parser.add_argument("--mode", choices=["hybrid", "head", "full"], default="hybrid")
    parser.add_argument("--epochs", type=int, help="default: 40 (head), 2 (full); hybrid has no epochs")
    parser.add_argument("--svm-c", type=float, default=HybridSettings.c, help="hybrid: the linear SVM's C")
    parser.add_argument("--embedding-weight", type=float, default=HybridSettings.embedding_weight,
                        help="hybrid: the article vector's scale beside the unit TF-IDF vector (0: TF-IDF only; "
                             "default: chosen out of fold among "
                             f"{', '.join(f'{w:g}' for w in HybridSettings.embedding_weights)})")
    parser.add_argument("--label-prior", type=float, default=HybridSettings.label_prior,
                        help="hybrid: the scale of each label's own feature, the article's similarity to the "
                             "label's name (0: off; default: chosen out of fold among "
                             f"{', '.join(f'{p:g}' for p in HybridSettings.label_priors)}, with the weight)")
    parser.add_argument("--contrastive", choices=list(contrastive.CHOICES), default=contrastive.OFF,
                        help="hybrid and head, single-label: tune the encoder on pairs of training articles first "
                             "(SetFit-style; measured to help at about 8 articles a label)")
    parser.add_argument("--contrastive-pairs", type=int, default=contrastive.ContrastiveSettings.pairs,
                        help="pairs of training articles the contrastive tuning reads")
    parser.add_argument("--batch-size", type=int, default=16, help="documents per step")
    parser.add_argument("--max-length", type=int, default=256, help="tokens per window")
    parser.add_argument("--lr", type=float, help="default: 1e-2 (head), 5e-5 (full)")
    parser.add_argument("--head-lr-multiplier", type=float, default=TrainingConfig.head_lr_multiplier,
                        help="full mode: the head's learning rate is --lr times this")
    parser.add_argument("--probe-epochs", type=int, default=TrainingConfig.probe_epochs,
                        help="full mode: first train the head alone on frozen features (LP-FT; 0: off)")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="bf16: train under CPU autocast (faster where the CPU has bf16 matmuls)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    return parser


def run(config: TrainingConfig, dist: Distributed) -> dict:
    started = time.monotonic()
    torch.manual_seed(config.seed)
    assert config.epochs is not None and config.lr is not None

    # 1. Load the data, and hold out a validation split when no file is given.
    examples = read_labeled(config.train)
    if config.validation:
        train, validation = examples, read_labeled(config.validation)
    else:
        train, validation = split_validation(examples, config.validation_split, config.seed)
    labels = label_names(train + validation)
    multi_label = not is_single_label(train + validation)
    data_print = fingerprint(config.train, examples)

    # 2. Load the base model from a local directory (the default one is checksummed).
    base_dir, base_name = resolve_base(config.base)
    if dist.is_main and (warning := base_language_warning([e.text for e in train], base_dir, base_name,
                                                          installed_multilingual())):
        print(f"finetune: warning: {warning}", file=sys.stderr, flush=True)
    tokenizer = AutoTokenizer.from_pretrained(base_dir, local_files_only=True)
    encoder = AutoModel.from_pretrained(base_dir, local_files_only=True, use_safetensors=True)

    # 3. Cut every article into sentence-aligned windows, as the engine does.
    def windows(items: list[Example], what: str) -> list[PreparedDocument]:
        return [prepare_document(e.text, tokenizer, config.max_length)
                for e in progress_bar(items, desc=f"windows ({what})", file=sys.stderr, disable=not dist.is_main)]

    train_docs, validation_docs = windows(train, "train"), windows(validation, "validation")

    # 4. Build the classifier; in head and hybrid modes the frozen encoder embeds each window once.
    # Windows are embedded as the engine embeds them: mean-pooled, then the base model's
    # steps after pooling (EmbeddingGemma's Dense layers; none for all-MiniLM-L6-v2).
    pipeline = read_pipeline(base_dir)
    model = WindowClassifier(encoder, pipeline.dim or int(encoder.config.hidden_size), len(labels), pipeline)
    ids = (*special_tokens(tokenizer), tokenizer.pad_token_id or 0)
    targets = label_targets(train, labels, multi_label)
    hybrid = None
    tuned = config.mode != "full" and contrastive.wanted(config.contrastive, multi_label)
    # The frozen encoder reads the windows: the base, or the base after contrastive tuning
    # (saved beside the output so that it reads them exactly as the service will).
    reader_dir, tuning = base_dir, None
    hybrid_settings = config.hybrid
    if tuned:
        reader_dir, tuning = tune_encoder(model, tokenizer, train, base_dir, config, dist.rank)
        # Out-of-fold choices would be scored on vectors tuned on those very articles: SetFit's own
        # mix instead (the tuned vector at weight 1, no label-name feature) unless the caller fixed them.
        weight, prior = config.hybrid.embedding_weight, config.hybrid.label_prior
        hybrid_settings = replace(config.hybrid, embedding_weight=1.0 if weight is None else weight,
                                  label_prior=0.0 if prior is None else prior)
    frozen = None if config.mode == "full" else frozen_windows(
        reader_dir, config.max_length, {"train": train_docs, "validation": validation_docs})
    if config.mode == "hybrid":
        # 5-7. A linear SVM per label over article vectors and TF-IDF, thresholds out of fold.
        assert frozen is not None
        names = None if hybrid_settings.label_prior == 0 else label_name_vectors(reader_dir, config.max_length,
                                                                                labels)
        hybrid, thresholds, probs = hybrid_stage(frozen, {"train": train, "validation": validation}, labels,
                                                 multi_label, hybrid_settings, config.seed, names)
        with torch.no_grad():  # the service reads the embedding half as head.safetensors
            model.head.weight.copy_(torch.from_numpy(hybrid.embedding_weight))
            model.head.bias.copy_(torch.from_numpy(hybrid.bias))
    elif config.mode == "head":
        assert frozen is not None
        model.encoder.requires_grad_(False)
        trained: torch.nn.Module = dist.wrap(model.head)
        train_logits = features_logits(frozen["train"], model.head, trained)
        validation_logits = features_logits(frozen["validation"], model.head, trained)
        groups = [{"params": list(model.head.parameters()), "lr": config.lr}]
    else:
        if config.probe_epochs and not has_checkpoint(config):
            # LP-FT: a head trained first on frozen features (cheap) keeps full fine-tuning
            # from distorting the encoder while the head is still random, and gives rare
            # labels the many passes that a few full epochs cannot.
            probe_head(model, config, frozen_windows(base_dir, config.max_length, {"train": train_docs})["train"],
                       targets, multi_label, data_print, dist.rank)
        # The pooler (if any) is not used (windows are mean-pooled): freeze it, or DDP waits for its gradients.
        for name, param in model.encoder.named_parameters():
            if name.startswith("pooler."):
                param.requires_grad_(False)
        trained = dist.wrap(model)

        def docs_logits(docs: list[PreparedDocument]):
            def logits(indices: list[int], training: bool) -> torch.Tensor:
                batch = window_batch([docs[i] for i in indices], *ids)
                return (trained if training else model)(batch)
            return logits

        train_logits, validation_logits = docs_logits(train_docs), docs_logits(validation_docs)
        groups = [{"params": list(model.head.parameters()), "lr": config.lr * config.head_lr_multiplier},
                  {"params": [p for p in model.encoder.parameters() if p.requires_grad], "lr": config.lr}]

    if config.mode == "hybrid" and not dist.is_main:
        return {}  # every process trained the same model; the first one writes it
    if config.mode != "hybrid":
        # 5-6. Train, with a checkpoint every epoch and on SIGINT or SIGTERM.
        lengths = [max((len(d.window_token_ids(w)) for w in d.windows), default=0) for d in train_docs]
        trainer = classifier_trainer(config, trained, train_logits, targets, multi_label, data_print, dist, groups,
                                     lengths if config.mode == "full" else None)
        trainer.fit()
        if not dist.is_main:
            return {}

        # 7. Score the validation split and choose each label's threshold to maximise its F1.
        probs = predict(model, validation_logits, len(validation), config.batch_size, multi_label, trainer.autocast)
        truth = np.array([[x in e.labels for x in labels] for e in validation])
        thresholds = calibrate(probs, truth)
    # Every training article has a label (training/data.py requires one): with the hybrid
    # recipe's setting, the model gives every article at least its best label, as served.
    at_least_one = config.mode == "hybrid" and multi_label and config.hybrid.at_least_one and all(
        e.labels for e in train)
    if at_least_one:
        probs = at_least_one_label(probs, np.asarray(thresholds, dtype=np.float64))
    if multi_label:
        predicted = [tuple(x for j, x in enumerate(labels) if probs[i, j] >= thresholds[j])
                     for i in range(len(validation))]
    else:
        predicted = [(labels[int(np.argmax(row))],) for row in probs]
    metrics = classification_report([e.labels for e in validation], predicted, labels, not multi_label)
    metrics["mode"] = "multi-label" if multi_label else "single-label"
    train_seconds = time.monotonic() - started

    # 8. Write the model directory atomically, with its model card.
    card = CardData(
        name=config.output.name, base_model=base_name, mode=config.mode, labels=labels, multi_label=multi_label,
        max_tokens=config.max_length, train_file=config.train.name, train_sha256=data_print["sha256"],
        train_rows=len(train), validation_rows=len(validation),
        validation_source=str(config.validation) if config.validation else
        f"{config.validation_split:.0%} of the training file, seed {config.seed}",
        command=" ".join(shlex.quote(a) for a in config.command), epochs=config.epochs,
        batch_size=config.batch_size, lr=config.lr, seed=config.seed, train_seconds=train_seconds,
        versions=library_versions(), metrics=metrics, thresholds=thresholds,
        hybrid={**asdict(hybrid_settings), "embedding_weight": hybrid.article_weight,
                "embedding_weight_chosen": hybrid_settings.embedding_weight is None,
                "label_prior": hybrid.label_prior, "label_prior_chosen": hybrid_settings.label_prior is None}
        if hybrid else None, contrastive=tuning)
    manifest = {"base_model": base_name, "mode": config.mode, "max_tokens": config.max_length,
                "multi_label": multi_label, "training_data": data_print, "config": config.to_dict(),
                "train_seconds": round(train_seconds, 1), **({"head": HYBRID} if hybrid else {}),
                **({"contrastive": tuning} if tuning else {})}
    labeled = train + validation
    shares = label_shares(len(labeled), Counter(x for e in labeled for x in e.labels), {
        "files": [config.train.name, *([config.validation.name] if config.validation else [])],
        "rows": "training and validation rows", "train_sha256": data_print["sha256"]})
    # A single-label model also keeps what its labels' articles look like, so it can say
    # "none of these" to a text unlike all of them (service/engine/domain.py).
    # The frozen encoder (head and hybrid modes) already read these articles: where the saved
    # model would cut the same windows, the domain reuses those vectors instead of a second pass.
    known = None if frozen is None else (
        EncodedArticles(train_docs, [w.numpy() for w in frozen["train"]]),
        EncodedArticles(validation_docs, [w.numpy() for w in frozen["validation"]]))
    domain = None if multi_label else partial(
        fit_domain, max_tokens=config.max_length, train=train, validation=validation, labels=labels, seed=config.seed,
        known=known)
    # Head mode on the embedded default model leaves the encoder as it was: the directory
    # references it by checksum instead of copying it. A local --base is copied: its path
    # may not exist where the model is served.
    write_model_dir(config.output, model, tokenizer, labels, thresholds, multi_label, metrics, manifest,
                    render(card), shares, domain,
                    encoder_is_base=config.mode != "full" and config.base is None and not tuned,
                    pipeline_from=base_dir, lexical=hybrid.lexical if hybrid else None, at_least_one=at_least_one)
    remove_checkpoint(config.output)
    if tuned:
        shutil.rmtree(reader_dir, ignore_errors=True)
    return metrics


def tune_encoder(model: WindowClassifier, tokenizer, train: list[Example], base_dir: Path, config: TrainingConfig,
                 rank: int) -> tuple[Path, dict[str, Any]]:
    """Tune ``model.encoder`` in place on pairs of training articles (training/contrastive.py) and
    save it, with the base's tokenizer and steps after pooling, where the frozen-encoder pass reads it."""
    settings = contrastive.ContrastiveSettings(pairs=config.contrastive_pairs)
    started = time.monotonic()
    loss = contrastive.contrastive_tune(model.encoder, tokenizer, [e.text for e in train], [e.labels[0] for e in train],
                                        settings, config.seed, model.pipeline, show_progress=rank == 0)
    tuning = {**asdict(settings), "final_loss": round(loss, 4), "seconds": round(time.monotonic() - started, 1)}
    target = config.output.with_name(f".{config.output.name}.contrastive-{rank}")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    save_encoder(model.encoder, tokenizer, target, base_dir)
    return target, tuning


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = TrainingConfig(
        train=args.train, output=args.output, validation=args.validation, validation_split=args.validation_split,
        base=args.base, mode=args.mode, max_length=args.max_length, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, seed=args.seed, resume=args.resume,
        head_lr_multiplier=args.head_lr_multiplier, precision=args.precision, contrastive=args.contrastive,
        contrastive_pairs=args.contrastive_pairs,
        probe_epochs=args.probe_epochs, hybrid=HybridSettings(c=args.svm_c, embedding_weight=args.embedding_weight,
                                                            label_prior=args.label_prior),
        command=["python", "-m", "training.finetune", *(sys.argv[1:] if argv is None else argv)],
    ).resolved()
    if args.label_prior is not None and args.label_prior < 0:
        print("finetune: error: --label-prior >= 0 (0: no label-name feature)", file=sys.stderr)
        return 2
    if config.contrastive == contrastive.ON and config.mode == "full":
        print("finetune: error: --contrastive on is for hybrid and head modes (full mode tunes the encoder itself)",
              file=sys.stderr)
        return 2
    if config.contrastive_pairs < 2:
        print("finetune: error: --contrastive-pairs >= 2", file=sys.stderr)
        return 2
    if config.max_length < 16 or config.batch_size < 1 or config.epochs is None or config.epochs < 1:
        print("finetune: error: --max-length >= 16, --batch-size >= 1 and --epochs >= 1", file=sys.stderr)
        return 2
    dist = Distributed.from_env()
    try:
        metrics = run(config, dist)
    except (DataFileError, NewstagError, ValueError) as exc:
        print(f"finetune: error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(f"finetune: {exc}", file=sys.stderr)
        return 130
    finally:
        dist.close()
    if dist.is_main:
        print(f"wrote {config.output}: micro-F1 {metrics['micro_f1']:.4f}, macro-F1 {metrics['macro_f1']:.4f} "
              f"(validation, {metrics['mode']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
