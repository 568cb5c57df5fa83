"""Zero-shot scoring by sentence embeddings: cosine similarity of windows and labels.

A label's similarity to a document is its best window's similarity, so a topic that
only the last part of a long article covers still counts. Sentence similarities come
from the same forward pass and rank the evidence.
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

    def __init__(self, encoder: SentenceEncoder, model_name: str,
                 calibration: SimilarityCalibration = DEFAULT_CALIBRATION):
        self.encoder = encoder
        self.model_name = model_name
        self.calibration = calibration
        self.label_vectors = LabelVectorCache(encoder)

    def prepare(self, text: str) -> PreparedDocument:
        return self.encoder.prepare(text)

    def similarities(self, docs: list[PreparedDocument], labels: list[Label]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Raw cosines: (per label [n_labels], per sentence [n_sentences, n_labels]) per document."""
        label_matrix = self.label_vectors.vectors(labels)
        return [self._similarities(v, label_matrix) for v in self.encoder.encode_documents(docs)]

    @staticmethod
    def _similarities(vectors: DocumentVectors, label_matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n_labels = label_matrix.shape[0]
        if vectors.windows.shape[0] == 0:
            return np.zeros(n_labels), np.zeros((0, n_labels))
        return (vectors.windows @ label_matrix.T).max(axis=0), vectors.sentences @ label_matrix.T

    def score(self, docs: list[PreparedDocument], labels: list[Label]) -> list[EmbeddingScores]:
        out = []
        for doc_sims, sentence_sims in self.similarities(docs, labels):
            if sentence_sims.shape[0] == 0:  # nothing the tokenizer could read: no topic
                out.append(EmbeddingScores(np.zeros_like(doc_sims), sentence_sims))
            else:
                out.append(EmbeddingScores(self.calibration.scores(doc_sims), self.calibration.scores(sentence_sims)))
        return out
