"""Sentences read on their own: what a sentence says about each label without its article.

Two things use it. A topic that an article covers in one sentence or paragraph (the
founding article's one sentence on landmines) barely moves the article's windows, so a
label's score is also allowed to come from its best sentence read alone. And evidence is
only evidence when the sentence, sent alone with the same labels, gets the topic back.

Reading a sentence alone costs a forward pass, so only candidates are read: the
sentences that score best for a label in context (from the pass over the article's
windows, which costs nothing more), batched across every document of the call.
"""

from __future__ import annotations

import numpy as np

from .scoring import ScoringBackend
from .types import Label

ROUTE_MIN = 0.3  # a sentence scoring below this in context is not read alone for its label


class SentenceScores:
    """Scores of single sentences read alone against one label set, computed in batches, kept per call."""

    def __init__(self, backend: ScoringBackend, labels: list[Label]):
        self.backend = backend
        self.labels = labels
        self._scores: dict[str, np.ndarray] = {}

    def compute(self, texts: list[str]) -> None:
        """Score every text not scored yet, in one call to the model."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._scores))
        if not missing:
            return
        docs = [self.backend.prepare(text) for text in missing]
        for text, scores in zip(missing, self.backend.score(docs, self.labels), strict=True):
            self._scores[text] = scores.label_scores

    def __getitem__(self, text: str) -> np.ndarray:
        """[n_labels] scores of ``text`` read alone (compute it first)."""
        return self._scores[text]


def best_sentences(in_context: np.ndarray, per_label: int, minimum: float = 0.0) -> dict[int, list[int]]:
    """For each label (column), its ``per_label`` best sentences (rows) scoring at least ``minimum``."""
    out: dict[int, list[int]] = {}
    for j in range(in_context.shape[1]):
        ranked = np.argsort(-in_context[:, j], kind="stable")[:per_label]
        found = [int(i) for i in ranked if in_context[i, j] >= minimum]
        if found:
            out[j] = found
    return out
