"""The training stages of training.finetune, one per mode, each ending in validation scores.

``hybrid`` fits linear SVMs on frozen article vectors and TF-IDF (training/hybrid.py),
``head`` a linear head on frozen window vectors, ``full`` the encoder with its head (LP-FT:
the head alone first). Each returns a :class:`StageResult`: the validation split's
probabilities and each label's threshold, and what the model directory records about it.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from service.engine.chunking import PreparedDocument
from service.engine.classifier import probabilities
from service.engine.encoder import special_tokens

from . import contrastive
from .classification import classifier_trainer, predict
from .config import TrainingConfig
from .data import Example
from .distributed import Distributed
from .export import save_encoder
from .hybrid import HybridModel, HybridSettings, article_vectors, mix_of, targets_matrix, train_hybrid
from .model import WindowClassifier, window_batch
from .probe import features_logits, frozen_windows, has_checkpoint, label_name_vectors, probe_head
from .thresholds import Thresholds, calibrate_validation


@dataclass(frozen=True)
class Split:
    """One side of the data (train or validation): its articles and their windows."""

    examples: list[Example]
    docs: list[PreparedDocument]


@dataclass(frozen=True)
class StageResult:
    probs: np.ndarray  # [validation articles, labels]
    fitted: Thresholds  # each label's threshold, and what it rests on
    hybrid: HybridModel | None = None  # hybrid mode: the fitted model
    hybrid_settings: HybridSettings | None = None  # hybrid mode: the settings it was fitted with
    # head and hybrid modes: the frozen window vectors of each split (the domain fit reuses them)
    frozen: dict[str, list[torch.Tensor]] | None = None
    tuning: dict[str, Any] | None = None  # contrastive tuning's record, when it ran
    # hybrid mode, refit on every row: the thresholds of the model that scored the validation split
    # (``fitted`` and ``hybrid`` are then the served model's), and how many rows the served one read
    validated: Thresholds | None = None
    refit_rows: int = 0

    @property
    def thresholds(self) -> list[float]:
        """The served model's thresholds."""
        return self.fitted.values

    @property
    def validation_thresholds(self) -> list[float]:
        """The thresholds of the model that scored the validation split (``probs``)."""
        return (self.validated or self.fitted).values


def frozen_stage(model: WindowClassifier, tokenizer: Any, base_dir: Path, config: TrainingConfig,
                 train: Split, validation: Split, labels: list[str], targets: torch.Tensor, multi_label: bool,
                 data_print: dict[str, Any], dist: Distributed) -> StageResult | None:
    """Hybrid or head mode: the frozen encoder (the base, or the base after contrastive tuning,
    saved beside the output so that it reads the windows exactly as the service will) reads
    every window once; hybrid mode returns None in every process but the first."""
    reader_dir, tuning, settings = base_dir, None, config.hybrid
    if contrastive.wanted(config.contrastive, multi_label):
        reader_dir, tuning = tune_encoder(model, tokenizer, train.examples, base_dir, config, dist.rank)
        # Out-of-fold choices would be scored on vectors tuned on those very articles: SetFit's own
        # mix instead (the tuned vector at weight 1, no label-name feature) unless the caller fixed them.
        weight, prior, alpha = settings.embedding_weight, settings.label_prior, settings.nb_alpha
        settings = replace(settings, embedding_weight=1.0 if weight is None else weight,
                           label_prior=0.0 if prior is None else prior, nb_alpha=0.0 if alpha is None else alpha)
    frozen = frozen_windows(reader_dir, config.max_length, {"train": train.docs, "validation": validation.docs})
    if config.mode == "hybrid":
        # A linear SVM per label over article vectors and TF-IDF, thresholds out of fold.
        names = None if settings.label_prior == 0 else label_name_vectors(reader_dir, config.max_length, labels)
        examples = {"train": train.examples, "validation": validation.examples}
        hybrid, thresholds, probs = hybrid_stage(frozen, examples, labels, multi_label, settings, config.seed, names)
        validated, refit_rows = None, 0
        if settings.refit and config.validation is None and validation.examples \
                and len(train.examples) >= 2 * settings.folds:  # under that, nothing was chosen out of fold
            validated, refit_rows = thresholds, len(train.examples) + len(validation.examples)
            if dist.is_main:
                print(f"finetune: note: the validation split is scored; the served model is fitted again on all "
                      f"{refit_rows} rows at the mix chosen (--refit off serves the one scored)", file=sys.stderr,
                      flush=True)
            hybrid, thresholds = refit_hybrid(frozen, examples, labels, multi_label, hybrid, settings, config.seed,
                                              names)
        with torch.no_grad():  # the service reads the embedding half as head.safetensors
            model.head.weight.copy_(torch.from_numpy(hybrid.embedding_weight))
            model.head.bias.copy_(torch.from_numpy(hybrid.bias))
        if not dist.is_main:
            return None  # every process trained the same model; the first one writes it
        return StageResult(probs, thresholds, hybrid, settings, frozen, tuning, validated, refit_rows)
    model.encoder.requires_grad_(False)
    result = head_stage(model.head, config, frozen, _truth(validation.examples, labels), targets, multi_label,
                        data_print, dist)
    return None if result is None else replace(result, frozen=frozen, tuning=tuning)


def hybrid_stage(frozen: dict[str, list[torch.Tensor]], examples: dict[str, list[Example]], labels: list[str],
                 multi_label: bool, settings: HybridSettings, seed: int,
                 label_vectors: np.ndarray | None = None) -> tuple[HybridModel, Thresholds, np.ndarray]:
    """Train on "train" from its frozen window vectors: (model, thresholds, validation probabilities)."""
    train_vectors, validation_vectors = article_vectors(frozen["train"]), article_vectors(frozen["validation"])
    model, thresholds = train_hybrid([e.text for e in examples["train"]], train_vectors,
                                     targets_matrix(examples["train"], labels), multi_label, settings, seed,
                                     label_vectors)
    logits = model.logits([e.text for e in examples["validation"]], validation_vectors)
    return model, thresholds, probabilities(logits, multi_label)


def refit_hybrid(frozen: dict[str, list[torch.Tensor]], examples: dict[str, list[Example]], labels: list[str],
                 multi_label: bool, chosen: HybridModel, settings: HybridSettings, seed: int,
                 label_vectors: np.ndarray | None = None) -> tuple[HybridModel, Thresholds]:
    """The recipe again on "train" and "validation" together, at the mix ``chosen`` was fitted with
    (its thresholds out of fold on all of them): what is served once the validation split is scored."""
    rows = examples["train"] + examples["validation"]
    vectors = np.concatenate([article_vectors(frozen["train"]), article_vectors(frozen["validation"])])
    return train_hybrid([e.text for e in rows], vectors, targets_matrix(rows, labels), multi_label,
                        mix_of(chosen, settings), seed, label_vectors)


def head_stage(head: torch.nn.Linear, config: TrainingConfig, frozen: dict[str, list[torch.Tensor]],
               validation_truth: np.ndarray, targets: torch.Tensor, multi_label: bool, data_print: dict[str, Any],
               dist: Distributed) -> StageResult | None:
    """Head mode on the frozen window vectors of ``frozen``'s train and validation splits (None in
    every process but the first); bench/head_losses.py calls it on vectors it keeps between runs."""
    trained: torch.nn.Module = dist.wrap(head)
    return _train(head, config, features_logits(frozen["train"], head, trained),
                  features_logits(frozen["validation"], head, trained), validation_truth, trained,
                  [{"params": list(head.parameters()), "lr": config.lr}], targets, multi_label, data_print, dist, None)


def full_stage(model: WindowClassifier, tokenizer: Any, base_dir: Path, config: TrainingConfig, train: Split,
               validation: Split, labels: list[str], targets: torch.Tensor, multi_label: bool,
               data_print: dict[str, Any], dist: Distributed) -> StageResult | None:
    """Full mode: the encoder and its head trained end to end (None in every process but the first)."""
    assert config.lr is not None
    if config.probe_epochs and not has_checkpoint(config):
        # LP-FT: a head trained first on frozen features (cheap) keeps full fine-tuning
        # from distorting the encoder while the head is still random, and gives rare
        # labels the many passes that a few full epochs cannot.
        probe_head(model, config, frozen_windows(base_dir, config.max_length, {"train": train.docs})["train"],
                   targets, multi_label, data_print, dist.rank)
    # The pooler (if any) is not used (windows are mean-pooled): freeze it, or DDP waits for its gradients.
    for name, param in model.encoder.named_parameters():
        if name.startswith("pooler."):
            param.requires_grad_(False)
    trained = dist.wrap(model)
    ids = (*special_tokens(tokenizer), tokenizer.pad_token_id or 0)

    def docs_logits(docs: list[PreparedDocument]):
        def logits(indices: list[int], training: bool) -> torch.Tensor:
            batch = window_batch([docs[i] for i in indices], *ids)
            return (trained if training else model)(batch)
        return logits

    groups = [{"params": list(model.head.parameters()), "lr": config.lr * config.head_lr_multiplier},
              {"params": [p for p in model.encoder.parameters() if p.requires_grad], "lr": config.lr}]
    lengths = [max((len(d.window_token_ids(w)) for w in d.windows), default=0) for d in train.docs]
    return _train(model, config, docs_logits(train.docs), docs_logits(validation.docs),
                  _truth(validation.examples, labels), trained,
                  groups, targets, multi_label, data_print, dist, lengths)


def _train(model: torch.nn.Module, config: TrainingConfig, train_logits, validation_logits, truth: np.ndarray,
           trained: torch.nn.Module, groups: list[dict[str, Any]], targets: torch.Tensor, multi_label: bool,
           data_print: dict[str, Any], dist: Distributed, lengths: list[int] | None) -> StageResult | None:
    """Train (a checkpoint every epoch and on SIGINT or SIGTERM), then score the validation
    split and choose each label's threshold to maximise its F1 (toward a fallback where it has
    few validation articles: thresholds.py)."""
    trainer = classifier_trainer(config, trained, train_logits, targets, multi_label, data_print, dist, groups, lengths)
    trainer.fit()
    if not dist.is_main:
        return None
    probs = predict(model, validation_logits, len(truth), config.batch_size, multi_label, trainer.autocast)
    return StageResult(probs, calibrate_validation(probs, truth, multi_label))


def tune_encoder(model: WindowClassifier, tokenizer, train: list[Example], base_dir: Path, config: TrainingConfig,
                 rank: int) -> tuple[Path, dict[str, Any]]:
    """Tune ``model.encoder`` in place on pairs of training articles (training/contrastive.py) and
    save it, with the base's tokenizer and steps after pooling, where the frozen-encoder pass reads it."""
    settings = contrastive.ContrastiveSettings(pairs=config.contrastive_pairs)
    started = time.monotonic()
    loss = contrastive.contrastive_tune(model.encoder, tokenizer, [e.text for e in train], [e.labels[0] for e in train],
                                        settings, config.seed, model.pipeline, show_progress=rank == 0)
    tuning = {**asdict(settings), "final_loss": round(loss, 4), "seconds": round(time.monotonic() - started, 1)}
    target = tuned_encoder_dir(config.output, rank)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    save_encoder(model.encoder, tokenizer, target, base_dir)
    return target, tuning


def tuned_encoder_dir(output: Path, rank: int) -> Path:
    """The tuned encoder's working copy beside the output (the model directory gets its own copy)."""
    return output.with_name(f".{output.name}.contrastive-{rank}")


def _truth(examples: list[Example], labels: list[str]) -> np.ndarray:
    return np.array([[x in e.labels for x in labels] for e in examples])
