"""The trainable classifier: an encoder and a linear head over sentence-aligned windows.

It computes what ``service.engine.classifier.ClassifierBackend`` serves: windows
mean-pooled and L2-normalised, a logit per label per window, and a document's logit per
label is its best window's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from service.engine.chunking import PreparedDocument
from service.engine.model_files import (
    DEFAULT_MODEL_HUB_NAME,
    DEFAULT_MODEL_SHA256,
    MULTILINGUAL_MODEL_NAME,
    MULTILINGUAL_SHA256,
    WEIGHTS_FILE,
    default_model_dir,
    require_local_model_dir,
    sha256_of,
    verify_weights,
)
from service.engine.pooling import embed_padded, pad_batch
from service.engine.st_modules import Pipeline


@dataclass
class WindowBatch:
    input_ids: torch.Tensor  # [windows, length]
    attention_mask: torch.Tensor
    spans: list[tuple[int, int]]  # per document, its rows in the window tensors


def window_batch(docs: list[PreparedDocument], head: int | Sequence[int], tail: int | Sequence[int],
                 pad_id: int) -> WindowBatch:
    """Each window between the tokens the tokenizer puts around a text ([CLS] … [SEP], <bos> … <eos>)."""
    before = [head] if isinstance(head, int) else list(head)
    after = [tail] if isinstance(tail, int) else list(tail)
    sequences: list[list[int]] = []
    spans: list[tuple[int, int]] = []
    for doc in docs:
        start = len(sequences)
        sequences.extend([*before, *doc.window_token_ids(w), *after] for w in doc.windows)
        if len(sequences) == start:  # a document with nothing to read still gets one (empty) window
            sequences.append([*before, *after])
        spans.append((start, len(sequences)))
    input_ids, mask = pad_batch(sequences, pad_id)
    return WindowBatch(input_ids, mask, spans)


def doc_logits(window_logits: torch.Tensor, spans: list[tuple[int, int]]) -> torch.Tensor:
    """[documents, labels]: each label's best window."""
    return torch.stack([window_logits[s:e].max(dim=0).values for s, e in spans])


class WindowClassifier(nn.Module):
    """``pipeline``: the base model's steps after pooling (its Dense layers), run as the
    engine runs them and kept frozen: they are not parameters, and the model directory
    carries the base model's files for them (export.py)."""

    def __init__(self, encoder: nn.Module, dim: int, n_labels: int, pipeline: Pipeline | None = None):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(dim, n_labels)
        self.pipeline = pipeline if pipeline is not None and pipeline.steps else None

    def window_vectors(self, batch: WindowBatch) -> torch.Tensor:
        return embed_padded(self.encoder, batch.input_ids, batch.attention_mask, self.pipeline)

    def forward(self, batch: WindowBatch) -> torch.Tensor:
        return doc_logits(self.head(self.window_vectors(batch)), batch.spans)


def check_max_length(base: Path | None, max_length: int) -> None:
    """Before the model loads: a window longer than the base model's positions fails inside it
    (a traceback on the first long article); the service clamps, training refuses."""
    limit = _position_limit(base if base is not None else default_model_dir())
    if limit is not None and max_length > limit:
        raise ValueError(f"--max-length {max_length} is more than the base model reads at once "
                         f"({limit} tokens: its config.json's max_position_embeddings, or its "
                         "tokenizer's model_max_length)")


# These number positions from pad_token_id + 1: a model of 514 positions reads 512 tokens.
OFFSET_POSITIONS = ("roberta", "xlm-roberta", "camembert")


def _position_limit(directory: Path) -> int | None:
    """The most tokens the base reads at once: its positions (less RoBERTa's offset), and its
    tokenizer's model_max_length when that says less."""
    config, tokenizer = _json_object(directory / "config.json"), _json_object(directory / "tokenizer_config.json")
    limits = []
    positions = config.get("max_position_embeddings")
    if isinstance(positions, int):
        pad = config.get("pad_token_id")
        offset = pad + 1 if config.get("model_type") in OFFSET_POSITIONS and isinstance(pad, int) else 0
        limits.append(positions - offset)
    if isinstance(tokenizer.get("model_max_length"), int) and tokenizer["model_max_length"] < 10**6:
        limits.append(tokenizer["model_max_length"])  # (transformers writes 1e30 for "no limit")
    return min(limits) if limits else None


def _json_object(path: Path) -> dict:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # resolve_base reports a missing or broken model
    return found if isinstance(found, dict) else {}


def resolve_base(base: Path | None) -> tuple[Path, str]:
    """The base model's directory and its name for cards: the embedded model (checksummed) or a local one."""
    if base is None:
        directory = default_model_dir()
        verify_weights(directory, DEFAULT_MODEL_SHA256)
        return directory, DEFAULT_MODEL_HUB_NAME
    directory = require_local_model_dir(base)
    if (directory / WEIGHTS_FILE).is_file() and sha256_of(directory / WEIGHTS_FILE) == MULTILINGUAL_SHA256:
        return directory, MULTILINGUAL_MODEL_NAME  # its hub name, not this machine's path, for cards
    return directory, str(directory)
