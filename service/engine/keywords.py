"""Literal keyword evidence: a label's keywords or aliases found in a sentence.

Keywords are matched case-insensitively on word boundaries. They are evidence, not a
verdict: each distinct keyword found adds ``weight`` to the model's score, counting at most
MAX_COUNTED_HITS of them, so at the default weight (0.05) keywords add at most 0.1 and can
carry a label over a 0.5 threshold only when the model alone already gives it 0.4. A coal
mine does not make an article about demining.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from .sentences import Span
from .types import Label

MAX_COUNTED_HITS = 2  # the boost is bounded: keywords alone never decide


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
    """Model scores raised by a bounded boost for keyword hits (same shapes)."""
    return np.minimum(1.0, model_scores + weight * np.minimum(hits, MAX_COUNTED_HITS))
