"""Fit a single-label model's domain (service/engine/domain.py) from its training articles."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np

from service.engine.domain import Domain, document_vector
from service.engine.encoder import SentenceEncoder
from service.progress import progress_bar

from .data import Example

PER_LABEL = 200  # training articles per label for its centroid: enough for a stable mean


def _vectors(encoder: SentenceEncoder, texts: list[str], desc: str) -> list[np.ndarray | None]:
    out: list[np.ndarray | None] = []
    for start in progress_bar(range(0, len(texts), 32), desc=desc, file=sys.stderr):
        docs = [encoder.prepare(t) for t in texts[start:start + 32]]
        out += [document_vector(v.windows) if v.windows.shape[0] else None for v in encoder.encode_documents(docs)]
    return out


def fit_domain(model_dir: Path, max_tokens: int, train: list[Example], validation: list[Example],
               labels: list[str], seed: int) -> Domain:
    """Read up to PER_LABEL training articles per label and every validation article with the
    model's own (fine-tuned, saved) encoder, exactly as the service will."""
    encoder = SentenceEncoder(model_dir, max_tokens=max_tokens)
    rng = random.Random(seed)
    sample: list[tuple[str, int]] = []
    for j, label in enumerate(labels):
        texts = [e.text for e in train if label in e.labels]
        sample += [(t, j) for t in rng.sample(texts, min(PER_LABEL, len(texts)))]
    found = _vectors(encoder, [t for t, _ in sample], "domain (train)")
    kept = [(v, j) for v, (_, j) in zip(found, sample, strict=True) if v is not None]
    held = [v for v in _vectors(encoder, [e.text for e in validation], "domain (validation)") if v is not None]
    return Domain.fit(np.stack([v for v, _ in kept]), [j for _, j in kept], len(labels), np.stack(held))
