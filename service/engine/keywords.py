"""Literal keyword evidence: a label's keywords or aliases found in a sentence.

Keywords are matched case-insensitively on word boundaries. Each distinct keyword found
is treated as an independent piece of evidence of strength ``weight`` and combined with
the model's score by noisy-OR: ``1 - (1 - model) * (1 - weight) ** hits``.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from .sentences import Span
from .types import Label

MAX_COUNTED_HITS = 3  # beyond a few distinct keywords, more adds no information


@lru_cache(maxsize=4096)
def _pattern(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    if not keywords:
        return None
    alternatives = "|".join(re.escape(k) for k in sorted(keywords, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def keyword_hits(text: str, sentences: tuple[Span, ...], labels: list[Label]) -> np.ndarray:
    """[n_sentences, n_labels]: how many distinct keywords of each label each sentence holds."""
    hits = np.zeros((len(sentences), len(labels)), dtype=np.int32)
    for j, label in enumerate(labels):
        pattern = _pattern(label.keywords)
        if pattern is None:
            continue
        for i, span in enumerate(sentences):
            found = {m.group().casefold() for m in pattern.finditer(text, span.start, span.end)}
            hits[i, j] = len(found)
    return hits


def document_hits(text: str, labels: list[Label]) -> np.ndarray:
    """[n_labels]: distinct keywords of each label found anywhere in the text."""
    out = np.zeros(len(labels), dtype=np.int32)
    for j, label in enumerate(labels):
        pattern = _pattern(label.keywords)
        if pattern is not None:
            out[j] = len({m.group().casefold() for m in pattern.finditer(text)})
    return out


def combine(model_scores: np.ndarray, hits: np.ndarray, weight: float) -> np.ndarray:
    """Noisy-OR of model scores and keyword hits (same shapes)."""
    counted = np.minimum(hits, MAX_COUNTED_HITS)
    return 1.0 - (1.0 - model_scores) * (1.0 - weight) ** counted
