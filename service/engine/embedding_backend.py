"""Zero-shot scoring by sentence embeddings: cosine similarity of windows and labels.

Each window is compared with every label and with a fixed bank of reference topics; the
calibration (calibration.py) turns those similarities into a score per label, taking
each feature from the text's best window, so a topic that only the last paragraphs of
a long article cover still counts. Sentence similarities come from the same forward
pass and rank the candidate evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .calibration import DEFAULT_CALIBRATION, FEATURES, Calibration, reference_topics, rivals, text_features
from .chunking import PreparedDocument
from .encoder import DocumentVectors, SentenceEncoder
from .label_vectors import LabelVectorCache
from .types import Label


@dataclass(frozen=True)
class Similarities:
    """Raw cosines of one document: windows and sentences against labels and reference topics."""

    windows: np.ndarray  # [n_windows, n_labels]
    sentences: np.ndarray  # [n_sentences, n_labels]
    window_reference: np.ndarray  # [n_windows, n_reference]
    sentence_reference: np.ndarray  # [n_sentences, n_reference]


@dataclass
class EmbeddingScores:
    label_scores: np.ndarray
    similarities: Similarities
    calibration: Calibration
    competing: np.ndarray | None
    gaps: np.ndarray  # [n_labels] each label's cosine gap to its best rival in its best window (<= 0)

    def sentence_scores(self, label_indices: list[int]) -> np.ndarray:
        """Each sentence in context, scored as if it were a text of its own (ranks evidence)."""
        return self._all_sentence_scores[:, label_indices]

    @cached_property
    def _all_sentence_scores(self) -> np.ndarray:
        # Every label at once (gap and margin need them all), once per document.
        s = self.similarities
        if s.sentences.shape[0] == 0:
            return np.zeros((0, s.windows.shape[1]))
        return self.calibration.row_scores(s.sentences, s.sentence_reference, self.competing)


class EmbeddingBackend:
    kind = "embedding"
    model_version = ""  # set by loading.load_backend
    languages: frozenset[str] | None = None  # set by loading.load_backend when the model card says

    def __init__(self, encoder: SentenceEncoder, model_name: str, calibration: Calibration = DEFAULT_CALIBRATION):
        self.encoder = encoder
        self.model_name = model_name
        self.calibration = calibration
        self.label_vectors = LabelVectorCache(encoder)
        self._reference: np.ndarray | None = None

    @property
    def reference_matrix(self) -> np.ndarray:
        """[n_reference, dim] unit vectors of the reference topics, embedded once."""
        if self._reference is None:
            self._reference = self.label_vectors.embed([Label(name) for name in reference_topics()])
        return self._reference

    def prepare(self, text: str) -> PreparedDocument:
        return self.encoder.prepare(text)

    def similarities(self, docs: list[PreparedDocument], labels: list[Label]) -> list[Similarities]:
        label_matrix = self.label_vectors.vectors(labels)
        reference = self.reference_matrix
        return [self._similarities(v, label_matrix, reference) for v in self.encoder.encode_documents(docs)]

    @staticmethod
    def _similarities(vectors: DocumentVectors, labels: np.ndarray, reference: np.ndarray) -> Similarities:
        return Similarities(vectors.windows @ labels.T, vectors.sentences @ labels.T,
                            vectors.windows @ reference.T, vectors.sentences @ reference.T)

    def score(self, docs: list[PreparedDocument], labels: list[Label]) -> list[EmbeddingScores]:
        out = []
        competing = rivals(labels)
        for sims in self.similarities(docs, labels):
            if sims.windows.shape[0] == 0:  # nothing the tokenizer could read: no topic
                scores, gaps = np.zeros(len(labels)), np.full(len(labels), -np.inf)
            else:
                features = text_features(sims.windows, sims.window_reference, competing)
                scores, gaps = self.calibration.scores(features), features[:, FEATURES.index("gap")]
            out.append(EmbeddingScores(scores, sims, self.calibration, competing, gaps))
        return out
