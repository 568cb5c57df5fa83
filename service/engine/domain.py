"""Is a text like anything a fine-tuned single-label model was trained on?

A single-label model's scores are a softmax over its own labels: they sum to 1 whatever
the text, so a football report sent to a model of finance desks still gets one finance
label at 0.75. The model directory keeps, from training, each label's centroid (the mean
unit vector of its training articles, from the fine-tuned encoder) and a threshold: the
cosine to the nearest centroid that all but DOMAIN_QUANTILE of the validation articles
reach. A text below it is unlike every label's articles, and the model answers "none of
these" (no topic). Multi-label models are not gated: their sigmoid scores can already
all be low.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from ..errors import ModelLoadError

DOMAIN_FILE = "domain.safetensors"
DOMAIN_QUANTILE = 0.02  # the share of in-domain validation articles a model may call out of domain


def document_vector(windows: np.ndarray) -> np.ndarray:
    """One unit vector for a document: the mean of its windows' unit vectors, normalised."""
    mean = windows.mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


@dataclass(frozen=True)
class Domain:
    centroids: np.ndarray  # [n_labels, dim] unit vectors
    threshold: float  # cosine to the nearest centroid below which a text is out of domain

    def nearest(self, vector: np.ndarray) -> float:
        """The cosine of a document vector to the nearest label centroid."""
        return float((self.centroids @ vector).max())

    def contains(self, windows: np.ndarray) -> bool:
        return self.nearest(document_vector(windows)) >= self.threshold

    @classmethod
    def fit(cls, vectors: np.ndarray, labels: list[int], n_labels: int, validation: np.ndarray) -> Domain:
        """Centroids of training vectors by label, threshold from validation vectors (both unit rows)."""
        index = np.asarray(labels)
        centroids = np.stack([document_vector(vectors[index == j]) if (index == j).any()
                              else np.zeros(vectors.shape[1], dtype=vectors.dtype) for j in range(n_labels)])
        nearest = (validation @ centroids.T).max(axis=1)
        return cls(centroids.astype(np.float32), float(np.quantile(nearest, DOMAIN_QUANTILE)))

    def save(self, directory: Path) -> None:
        save_file({"centroids": self.centroids, "threshold": np.array([self.threshold], dtype=np.float32)},
                  str(directory / DOMAIN_FILE))

    @classmethod
    def load(cls, directory: Path, n_labels: int, dim: int) -> Domain | None:
        """The directory's domain, or None when it has none (models trained before it existed)."""
        path = directory / DOMAIN_FILE
        if not path.is_file():
            return None
        tensors = load_file(str(path))
        centroids, threshold = tensors.get("centroids"), tensors.get("threshold")
        if centroids is None or threshold is None or centroids.shape != (n_labels, dim) or threshold.shape != (1,):
            raise ModelLoadError(f"{path}: needs centroids [{n_labels}, {dim}] and a threshold")
        return cls(centroids.astype(np.float32), float(threshold[0]))
