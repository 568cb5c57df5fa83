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
from service.engine.pooling import embed_padded, pad_batch
from service.engine.st_modules import Dense, read_pipeline
from service.errors import ModelLoadError


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
    input_ids, mask = pad_batch(sequences, pad_id)
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
        return embed_padded(self.encoder, batch.input_ids, batch.attention_mask)

    def forward(self, batch: WindowBatch) -> torch.Tensor:
        return doc_logits(self.head(self.window_vectors(batch)), batch.spans)


def resolve_base(base: Path | None) -> tuple[Path, str]:
    """The base model's directory and its name for cards: the embedded model (checksummed) or a local one.

    Raises:
        ModelLoadError: the directory is not a model, or its sentence-transformers pipeline
            runs Dense layers after pooling (EmbeddingGemma): training pools windows
            without them (embed_padded), and a model directory written from it would be
            served without them too, so the head would be trained and served on vectors
            other than the base model's. Refused until training runs the pipeline.
    """
    if base is None:
        directory = default_model_dir()
        verify_weights(directory, DEFAULT_MODEL_SHA256)
        return directory, "sentence-transformers/all-MiniLM-L6-v2"
    directory = require_local_model_dir(base)
    if any(isinstance(step, Dense) for step in read_pipeline(directory).steps):
        raise ModelLoadError(f"{directory}: its sentence-transformers pipeline has Dense layers after pooling, "
                             "which training does not run yet (fine-tuning would train and serve other vectors "
                             "than the model's); use a base without them")
    return directory, str(directory)
