"""Zero-shot scoring by sentence embeddings: cosine similarity of windows and labels.

Each window is scored on its own (calibrated against the best label for that window)
and a label's score is its best window's, so a topic that only the last paragraphs of
a long article cover still counts. Sentence similarities come from the same forward
pass and rank the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .calibration import DEFAULT_CALIBRATION, SimilarityCalibration
from .chunking import PreparedDocument
from .encoder import DocumentVectors, SentenceEncoder
from .label_vectors import LabelVectorCache
from .types import Label


@dataclass
class EmbeddingScores:
    label_scores: np.ndarray
    _sentence_scores: np.ndarray  # [n_sentences, n_labels]

    def sentence_scores(self, label_indices: list[int]) -> np.ndarray:
        return self._sentence_scores[:, label_indices]


class EmbeddingBackend:
    kind = "embedding"
    model_version = ""  # set by loading.load_backend
    languages: frozenset[str] | None = None  # set by loading.load_backend when the model card says

    def __init__(self, encoder: SentenceEncoder, model_name: str,
                 calibration: SimilarityCalibration = DEFAULT_CALIBRATION):
        self.encoder = encoder
        self.model_name = model_name
        self.calibration = calibration
        self.label_vectors = LabelVectorCache(encoder)

    def prepare(self, text: str) -> PreparedDocument:
        return self.encoder.prepare(text)

    def similarities(self, docs: list[PreparedDocument], labels: list[Label]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Raw cosines per document: windows [n_windows, n_labels] and sentences [n_sentences, n_labels]."""
        label_matrix = self.label_vectors.vectors(labels)
        return [self._similarities(v, label_matrix) for v in self.encoder.encode_documents(docs)]

    @staticmethod
    def _similarities(vectors: DocumentVectors, label_matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return vectors.windows @ label_matrix.T, vectors.sentences @ label_matrix.T

    def score(self, docs: list[PreparedDocument], labels: list[Label]) -> list[EmbeddingScores]:
        out = []
        for window_sims, sentence_sims in self.similarities(docs, labels):
            if window_sims.shape[0] == 0:  # nothing the tokenizer could read: no topic
                out.append(EmbeddingScores(np.zeros(len(labels)), sentence_sims))
                continue
            label_scores = self.calibration.scores(window_sims).max(axis=0)
            out.append(EmbeddingScores(label_scores, self.calibration.scores(sentence_sims)))
        return out
