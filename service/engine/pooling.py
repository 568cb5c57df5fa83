"""How token states become a text's vector: padding, mean pooling, unit length.

The engine (encoder.py) and training (training/model.py, training/matcher.py) both embed
through these functions, so a model is trained on exactly the vectors it is served with
(tests/test_pooling.py checks the two agree on the real model). Training imports the
engine, never the other way round: the serving image has no training stack.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def pad_batch(sequences: list[list[int]], pad_id: int, width: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded input ids and their attention mask, both [len(sequences), width].

    ``width`` defaults to the longest sequence; the engine passes a rounded-up one
    (encoder.py, ``_width``) to keep the number of input shapes small.
    """
    width = max(len(s) for s in sequences) if width is None else width
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        input_ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return input_ids, mask


def mean_pool(states: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The mean of token vectors over the token axis: [..., tokens, dim] -> [..., dim].

    With ``mask`` ([..., tokens], 1 for a real token) padding does not count; without it
    every token does (the engine pools unpadded slices: a window, or one sentence in it).
    """
    if mask is None:
        return states.mean(-2)
    weights = mask.unsqueeze(-1).to(states.dtype)
    return (states * weights).sum(-2) / weights.sum(-2).clamp(min=1.0)


def segment_means(states: np.ndarray, lengths: list[int]) -> np.ndarray:
    """Means of consecutive runs of tokens: ``lengths[i]`` rows each (all > 0), from the first row on.

    [tokens, dim] -> [len(lengths), dim] in one numpy call, summing in token order, instead
    of one torch mean per run: each small torch op woke the intra-op threads, and on 2 busy
    cores a window's loop of them cost 30-50 ms per article (docs/benchmarks.md "Speed II").
    """
    if not lengths:
        return np.zeros((0, states.shape[-1]), dtype=states.dtype)
    counts = np.asarray(lengths)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    sums = np.add.reduceat(states[: int(counts.sum())], starts, axis=0)
    return sums / counts[:, None].astype(states.dtype)


def unit(vectors: torch.Tensor) -> torch.Tensor:
    """Scale each vector to length 1 (cosine similarity is then a dot product)."""
    return torch.nn.functional.normalize(vectors, dim=-1)


def embed_padded(model: torch.nn.Module, input_ids: torch.Tensor, mask: torch.Tensor,
                 after_pooling: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Unit mean-pooled vectors of a padded batch through a transformers encoder: [batch, dim].

    What training embeds with. ``after_pooling`` is the model's sentence-transformers
    pipeline after pooling (st_modules.Pipeline: EmbeddingGemma's Dense layers), which the
    engine runs too; all-MiniLM-L6-v2 has none.
    """
    states = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
    pooled = mean_pool(states, mask)
    return unit(after_pooling(pooled) if after_pooling is not None else pooled)
