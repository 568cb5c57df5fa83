"""What fine-tuning gives the training loop: batches of documents and a classification loss.

Multi-label data trains independent sigmoids (binary cross-entropy), single-label data a
softmax (cross-entropy). ``--loss`` may weigh them for imbalanced label sets: ``balanced``
weighs each label's positives as much as its negatives (multi-label) or each label as much
as every other (single-label), the weighting the hybrid recipe's SVMs use; ``focal`` (Lin et
al. 2017, gamma 2) weighs each example by how wrong it still is. Measured in
docs/benchmarks.md ("Losses for imbalanced labels"). A batch is a list of training-document indices; the caller's
``LogitsFn`` turns it into [documents, labels] logits (windows through the encoder, or
cached window vectors through the head alone).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .config import TrainingConfig
from .data import Example
from .distributed import Distributed
from .trainer import Trainer, linear_warmup

# doc indices, training? -> [docs, labels] logits
LogitsFn = Callable[[list[int], bool], torch.Tensor]
# [docs, labels] logits, their targets -> the batch's loss
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LOSSES = ("bce", "balanced", "focal")  # bce: cross-entropy unweighted (sigmoid or softmax, as the data asks)
FOCAL_GAMMA = 2.0  # Lin et al.'s choice, and the usual one


def label_weights(target: torch.Tensor, n_labels: int, multi_label: bool) -> torch.Tensor:
    """``balanced``'s weights: multi-label, each label's positives weigh its negatives / positives
    (1 for a label with no positives or no negatives); single-label, n / (k * the label's count)."""
    if multi_label:
        positives = target.sum(dim=0)
        negatives = len(target) - positives
        return torch.where((positives > 0) & (negatives > 0), negatives / positives.clamp(min=1), torch.ones(()))
    counts = torch.bincount(target, minlength=n_labels).float()
    return torch.where(counts > 0, len(target) / (n_labels * counts.clamp(min=1)), torch.zeros(()))


def loss_function(kind: str, target: torch.Tensor, multi_label: bool) -> LossFn:
    """The training loss ``kind`` (one of LOSSES) for data whose targets are all of ``target``."""
    functional = torch.nn.functional
    if kind == "balanced":
        weights: dict[int, torch.Tensor] = {}

        def balanced(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            # out's width, not the targets', counts the labels: one may have validation articles only
            width = out.shape[-1]
            if width not in weights:
                weights[width] = label_weights(target, width, multi_label)
            if multi_label:
                return functional.binary_cross_entropy_with_logits(out, y, pos_weight=weights[width])
            return functional.cross_entropy(out, y, weight=weights[width])
        return balanced
    if kind == "focal":
        def focal(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            if multi_label:
                each = functional.binary_cross_entropy_with_logits(out, y, reduction="none")
            else:
                each = functional.cross_entropy(out, y, reduction="none")
            right = torch.exp(-each)  # the probability given to the right answer
            return ((1 - right) ** FOCAL_GAMMA * each).mean()
        return focal
    if kind != "bce":
        raise ValueError(f"unknown loss {kind!r}: one of {', '.join(LOSSES)}")
    if multi_label:
        return functional.binary_cross_entropy_with_logits
    return functional.cross_entropy


def label_targets(examples: list[Example], labels: list[str], multi_label: bool) -> torch.Tensor:
    """[docs, labels] 0/1 for multi-label; [docs] label indices for single-label."""
    index = {name: j for j, name in enumerate(labels)}
    if not multi_label:
        return torch.tensor([index[e.labels[0]] for e in examples])
    out = torch.zeros(len(examples), len(labels))
    for i, e in enumerate(examples):
        out[i, [index[x] for x in e.labels]] = 1.0
    return out


def epoch_batches(n: int, batch_size: int, seed: int, dist: Distributed,
                  lengths: list[int] | None = None) -> Callable[[int], list[list[int]]]:
    """Each epoch's batches: a seeded shuffle; with ``lengths``, batches of similar length (less padding)."""
    def batches(epoch: int) -> list[list[int]]:
        generator = torch.Generator().manual_seed(seed * 1000 + epoch)
        order = torch.randperm(n, generator=generator).tolist()
        if lengths is not None:
            chunk = batch_size * 32
            groups: list[list[int]] = []
            for start in range(0, n, chunk):
                group = sorted(order[start:start + chunk], key=lambda i: lengths[i])
                groups.extend(group[k:k + batch_size] for k in range(0, len(group), batch_size))
            shuffled = torch.randperm(len(groups), generator=generator).tolist()
            order = [i for b in shuffled for i in groups[b]]
        order = dist.shard(order)
        return [order[k:k + batch_size] for k in range(0, len(order), batch_size)]
    return batches


def classifier_trainer(config: TrainingConfig, model: torch.nn.Module, logits: LogitsFn, target: torch.Tensor,
                       multi_label: bool, fingerprint: dict[str, Any], dist: Distributed,
                       param_groups: list[dict[str, Any]], lengths: list[int] | None = None,
                       desc: str = "training") -> Trainer[list[int]]:
    """The shared loop set up for a classifier: ``model`` is what it checkpoints (the head alone in head mode)."""
    criterion = loss_function(config.loss, target, multi_label)

    def loss(batch: list[int]) -> torch.Tensor:
        return criterion(logits(batch, True).float(), target[batch])

    return Trainer(config, model, param_groups, epoch_batches(len(target), config.batch_size, config.seed, dist,
                                                              lengths),
                   loss, fingerprint, linear_warmup(config.warmup_ratio), dist, desc)


@torch.inference_mode()
def predict(model: torch.nn.Module, logits: LogitsFn, n: int, batch_size: int, multi_label: bool,
            autocast: Callable[[], torch.autocast]) -> np.ndarray:
    """Probabilities [docs, labels]: sigmoid for multi-label, softmax for single-label."""
    model.eval()
    out = []
    for start in range(0, n, batch_size):
        with autocast():
            batch_logits = logits(list(range(start, min(n, start + batch_size))), False).float()
        probs = torch.sigmoid(batch_logits) if multi_label else torch.softmax(batch_logits, dim=-1)
        out.append(probs.float().numpy())
    return np.concatenate(out)
