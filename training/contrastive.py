"""Contrastive tuning of the encoder on a few labelled articles, in the manner of SetFit.

With eight or sixteen articles a label, the frozen encoder's article vectors place a
label's articles wherever the pretrained model put their subjects; a linear model over
so few points learns little from them. SetFit (Tunstall et al., 2022) first tunes the
encoder on pairs of the training articles: two of one label should embed close (cosine
1), two of different labels apart (cosine 0). The hybrid recipe then reads article
vectors from the tuned encoder. Measured on few-shot samples in docs/benchmarks.md
("Contrastive tuning for few examples"): it helped at 8 articles a label and not reliably
beyond, so training.finetune runs it only when asked (``--contrastive on``).

The tuned encoder is a new model: the model directory carries it (as full mode does).
"""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from service.engine.pooling import embed_padded, pad_batch
from service.engine.st_modules import Pipeline
from service.progress import progress_bar

ON, OFF = "on", "off"
CHOICES = (OFF, ON)


@dataclass(frozen=True)
class ContrastiveSettings:
    pairs: int = 640  # SetFit's 20 iterations (a positive, a negative) for 16 articles; measured at 8-32 a label
    max_tokens: int = 128  # each article's first tokens: its lead says what it is about
    batch_size: int = 16
    lr: float = 2e-5


def wanted(setting: str, multi_label: bool) -> bool:
    """Whether to tune (``on``/``off``).

    Raises ValueError for ``on`` with multi-label data: which pairs of articles are "the
    same" is not settled when they share some labels (not measured; refused, not guessed).
    """
    if setting == ON and multi_label:
        raise ValueError("--contrastive on needs single-label training data (one label per article)")
    return setting == ON


def training_pairs(label_of: Sequence[str], n_pairs: int, rng: random.Random) -> list[tuple[int, int, float]]:
    """(i, j, target): for each article in turn, one of its label (1.0) and one of another (0.0).

    Rounds over the articles until ``n_pairs`` are drawn, so every article anchors about
    the same number of pairs; a label with a single article pairs it with itself.
    """
    rows_of: dict[str, list[int]] = {}
    for i, label in enumerate(label_of):
        rows_of.setdefault(label, []).append(i)
    if len(rows_of) < 2:
        raise ValueError("contrastive tuning needs articles of at least two labels")
    pairs: list[tuple[int, int, float]] = []
    while len(pairs) < n_pairs:
        for i, label in enumerate(label_of):
            pairs.append((i, rng.choice(rows_of[label]), 1.0))
            other = rng.choice([x for x in rows_of if x != label])
            pairs.append((i, rng.choice(rows_of[other]), 0.0))
    rng.shuffle(pairs)
    return pairs[:n_pairs]


def contrastive_tune(encoder: nn.Module, tokenizer, texts: Sequence[str], label_of: Sequence[str],
                     settings: ContrastiveSettings, seed: int, pipeline: Pipeline | None = None,
                     show_progress: bool = True) -> float:
    """Tune ``encoder`` in place on pairs of ``texts``; returns the mean loss of the last tenth of steps.

    The loss is SetFit's: the squared difference between the pair's cosine (unit
    mean-pooled vectors, as the engine embeds) and its target.
    """
    rng = random.Random(seed)
    torch.manual_seed(seed)
    pairs = training_pairs(label_of, settings.pairs, rng)
    encoded = tokenizer(list(texts), truncation=True, max_length=settings.max_tokens)
    ids: list[list[int]] = encoded["input_ids"]
    pad = tokenizer.pad_token_id or 0
    optimizer = torch.optim.AdamW([p for p in encoder.parameters() if p.requires_grad], lr=settings.lr)
    after = pipeline if pipeline is not None and pipeline.steps else None
    encoder.train()
    losses: list[float] = []
    steps = range(0, len(pairs), settings.batch_size)
    for start in progress_bar(steps, desc="contrastive tuning (pairs of articles)", unit="batch", file=sys.stderr,
                              disable=not show_progress):
        batch = pairs[start:start + settings.batch_size]
        left = pad_batch([ids[i] for i, _, _ in batch], pad)
        right = pad_batch([ids[j] for _, j, _ in batch], pad)
        cosine = (embed_padded(encoder, *left, after) * embed_padded(encoder, *right, after)).sum(dim=-1)
        loss = nn.functional.mse_loss(cosine, torch.tensor([t for _, _, t in batch], dtype=cosine.dtype))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    encoder.eval()
    tail = losses[-max(1, len(losses) // 10):]
    return sum(tail) / len(tail)

