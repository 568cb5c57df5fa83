"""The interface between the Tagger and the models that score labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from .chunking import PreparedDocument
from .model_profiles import SentenceRules
from .types import Label


class DocumentScores(Protocol):
    """A model's scores for one document against one label set."""

    # [n_labels] scores in [0, 1], before keyword evidence.
    label_scores: np.ndarray
    @property
    def best_window_scores(self) -> np.ndarray | None:
        """[n_labels] each label's score in the window that favours it most, for engines whose
        sentence scores in context are free and may lift a topic (sentence_support.py); else None."""
        ...

    @property
    def label_prior(self) -> np.ndarray | None:
        """[n_labels] logit offsets a label gets for what it is rather than what the text says
        (calibration.Calibration.label_prior); a single-label choice leaves them out. None: none."""
        ...

    @property
    def news_probability(self) -> float | None:
        """The genre check's probability that the text is news (genre.py); None: not checked."""
        ...

    @property
    def outside_domain(self) -> bool:
        """A fine-tuned single-label model's "none of these": unlike its training articles (domain.py)."""
        ...

    def sentence_scores(self, label_indices: list[int]) -> np.ndarray:
        """[n_sentences, len(label_indices)] scores in [0, 1] of each sentence for each label."""
        ...


class ScoringBackend(Protocol):
    """What the Tagger, the HTTP layer and the model registry may ask of any model."""

    kind: str  # "embedding", "nli" or "classifier"
    model_name: str
    model_version: str  # the first 12 hex digits of the weights' SHA-256 (+ 8 of a merged adapter's)
    languages: frozenset[str] | None  # ISO 639-1 codes the model was trained on; None: not known
    # A fine-tuned model's own labels (it answers nothing else); None: any labels (zero-shot).
    fixed_labels: tuple[Label, ...] | None
    # A fine-tuned model's validation metrics (metrics.json); None for zero-shot models.
    validation_metrics: dict | None
    # When sentences read alone may bring a topic in, for these weights (model_profiles.py).
    sentence_rules: SentenceRules

    @property
    def precision(self) -> str:
        """The numeric precision it runs in: "fp32", "bf16" or "int8"."""
        ...

    def prepare(self, text: str) -> PreparedDocument:
        """Cut a text into sentences and windows that fit this backend's model."""
        ...

    def score(self, docs: list[PreparedDocument], labels: list[Label],
              deadline: float | None = None) -> Sequence[DocumentScores]:
        """Each document's scores; model work still waiting at ``deadline`` (a
        ``time.monotonic()`` instant; None: no limit) raises DeadlineExceeded."""
        ...
