"""Fit a single-label model's domain (service/engine/domain.py) from its training articles."""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from service.engine.chunking import PreparedDocument
from service.engine.domain import Domain, document_vector
from service.engine.encoder import SentenceEncoder
from service.progress import progress_bar

from .data import Example

PER_LABEL = 200  # training articles per label for its centroid: enough for a stable mean


@dataclass(frozen=True)
class EncodedArticles:
    """Window vectors an encoder already computed for a split's articles (head and hybrid modes):
    each article's prepared windows and their unit vectors [n_windows, dim], in the split's order."""

    docs: Sequence[PreparedDocument]
    windows: Sequence[np.ndarray]

    def reusable(self, i: int, doc: PreparedDocument) -> bool:
        """Did the vectors of article ``i`` come from exactly the windows ``doc`` has?"""
        return self.docs[i] == doc


def _vector(windows: np.ndarray) -> np.ndarray | None:
    return document_vector(windows) if windows.shape[0] else None


def _vectors(encoder: SentenceEncoder, texts: list[str], rows: list[int], desc: str,
             known: EncodedArticles | None) -> list[np.ndarray | None]:
    """Document vectors of ``texts[i] for i in rows``; an article ``known`` already has
    (the same windows, read by the same frozen encoder) is not read again."""
    docs = [encoder.prepare(texts[i]) for i in rows]
    out = [_vector(np.asarray(known.windows[i])) if known is not None and known.reusable(i, doc) else None
           for i, doc in zip(rows, docs, strict=True)]
    todo = [k for k, (i, doc) in enumerate(zip(rows, docs, strict=True))
            if known is None or not known.reusable(i, doc)]
    for start in progress_bar(range(0, len(todo), 32), desc=desc, file=sys.stderr, disable=not todo):
        batch = todo[start:start + 32]
        for k, vectors in zip(batch, encoder.encode_documents([docs[k] for k in batch]), strict=True):
            out[k] = _vector(vectors.windows)
    return out


def fit_domain(model_dir: Path, max_tokens: int, train: list[Example], validation: list[Example],
               labels: list[str], seed: int, known: tuple[EncodedArticles, EncodedArticles] | None = None,
               unseen_train: bool = False) -> Domain:
    """Read up to PER_LABEL training articles per label and every validation article with the
    model's own (fine-tuned, saved) encoder, exactly as the service will.

    ``known``: the (train, validation) window vectors training computed with this same
    encoder, frozen; an article whose windows match is taken from there, not read again.
    ``unseen_train``: the encoder never learnt from the training articles (head and hybrid
    modes without contrastive tuning), so with a small validation split they count as
    evidence for the threshold too (Domain.fit).
    """
    encoder = SentenceEncoder(model_dir, max_tokens=max_tokens)
    rng = random.Random(seed)
    sample: list[tuple[int, int]] = []  # (train row, label)
    for j, label in enumerate(labels):
        rows = [i for i, e in enumerate(train) if label in e.labels]
        sample += [(i, j) for i in rng.sample(rows, min(PER_LABEL, len(rows)))]
    texts = [e.text for e in train]
    found = _vectors(encoder, texts, [i for i, _ in sample], "domain (train)", known[0] if known else None)
    kept = [(v, j) for v, (_, j) in zip(found, sample, strict=True) if v is not None]
    held = [v for v in _vectors(encoder, [e.text for e in validation], list(range(len(validation))),
                                "domain (validation)", known[1] if known else None) if v is not None]
    return Domain.fit(np.stack([v for v, _ in kept]), [j for _, j in kept], len(labels), np.stack(held),
                      unseen_train=unseen_train)
