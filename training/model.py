"""The trainable classifier: an encoder and a linear head over sentence-aligned windows.

It computes what ``service.engine.classifier.ClassifierBackend`` serves: windows
mean-pooled and L2-normalised, a logit per label per window, and a document's logit per
label is its best window's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from service.engine.chunking import PreparedDocument
from service.engine.model_files import DEFAULT_MODEL_SHA256, default_model_dir, require_local_model_dir, verify_weights


@dataclass
class WindowBatch:
    input_ids: torch.Tensor  # [windows, length]
    attention_mask: torch.Tensor
    spans: list[tuple[int, int]]  # per document, its rows in the window tensors


def window_batch(docs: list[PreparedDocument], cls_id: int, sep_id: int, pad_id: int) -> WindowBatch:
    sequences: list[list[int]] = []
    spans: list[tuple[int, int]] = []
    for doc in docs:
        start = len(sequences)
        sequences.extend([cls_id, *doc.window_token_ids(w), sep_id] for w in doc.windows)
        if len(sequences) == start:  # a document with nothing to read still gets one (empty) window
            sequences.append([cls_id, sep_id])
        spans.append((start, len(sequences)))
    width = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        input_ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    return WindowBatch(input_ids, mask, spans)


def doc_logits(window_logits: torch.Tensor, spans: list[tuple[int, int]]) -> torch.Tensor:
    """[documents, labels]: each label's best window."""
    return torch.stack([window_logits[s:e].max(dim=0).values for s, e in spans])


class WindowClassifier(nn.Module):
    def __init__(self, encoder: nn.Module, hidden_size: int, n_labels: int):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(hidden_size, n_labels)

    def window_vectors(self, batch: WindowBatch) -> torch.Tensor:
        states = self.encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
        mask = batch.attention_mask.unsqueeze(-1).to(states.dtype)
        mean = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return nn.functional.normalize(mean, dim=-1)

    def forward(self, batch: WindowBatch) -> torch.Tensor:
        return doc_logits(self.head(self.window_vectors(batch)), batch.spans)


def resolve_base(base: Path | None) -> tuple[Path, str]:
    """The base model's directory and its name for cards: the embedded model (checksummed) or a local one."""
    if base is None:
        directory = default_model_dir()
        verify_weights(directory, DEFAULT_MODEL_SHA256)
        return directory, "sentence-transformers/all-MiniLM-L6-v2"
    directory = require_local_model_dir(base)
    return directory, str(directory)
