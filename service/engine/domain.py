"""Is a text like anything a fine-tuned single-label model was trained on?

A single-label model's scores are a softmax over its own labels: they sum to 1 whatever
the text, so a football report sent to a model of finance desks still gets one finance
label at 0.75. The model directory keeps, from training, each label's centroid (the mean
unit vector of its training articles, from the fine-tuned encoder) and a threshold: the
cosine to the nearest centroid that all but DOMAIN_QUANTILE of the validation articles
reach. A text below it is unlike every label's articles, and the model answers "none of
these" (no topic). Multi-label models are not gated: their sigmoid scores can already
all be low.

A quantile of 4 or 8 validation articles (a split of 40 or 80 rows) is mostly chance: on
BBC News it blocked from 3% to 33% of new in-domain articles by sample. Under
MIN_VALIDATION articles, when the encoder never learnt from the training articles (head
and hybrid modes without contrastive tuning), the training articles count as evidence
too, each scored leaving itself out of its own label's centroid, as a new article of
that label would be.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from ..errors import ModelLoadError

DOMAIN_FILE = "domain.safetensors"
DOMAIN_QUANTILE = 0.02  # the share of in-domain validation articles a model may call out of domain
MIN_VALIDATION = 30  # fewer validation articles than this: the training articles count too (left out)


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
    def fit(cls, vectors: np.ndarray, labels: list[int], n_labels: int, validation: np.ndarray,
            unseen_train: bool = False) -> Domain:
        """Centroids of training vectors by label, threshold from validation vectors (both unit rows).

        ``unseen_train``: the encoder did not learn from the training articles, so under
        MIN_VALIDATION validation articles their leave-one-out cosines join the quantile.
        """
        index = np.asarray(labels)
        centroids = np.stack([document_vector(vectors[index == j]) if (index == j).any()
                              else np.zeros(vectors.shape[1], dtype=vectors.dtype) for j in range(n_labels)])
        nearest = (validation @ centroids.T).max(axis=1)
        if unseen_train and len(validation) < MIN_VALIDATION:
            nearest = np.concatenate([nearest, _left_out_nearest(vectors, index, centroids)])
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


def _left_out_nearest(vectors: np.ndarray, index: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Each training vector's cosine to the nearest centroid, its own label's taken without it
    (a centroid containing the article itself would flatter it, most with few articles).
    The only article of its label has no such centroid and is left out."""
    counts = np.bincount(index, minlength=centroids.shape[0])
    kept = counts[index] > 1
    vectors, index = vectors[kept], index[kept]
    cosines = vectors @ centroids.T  # [n, labels]
    sums = np.stack([vectors[index == j].sum(axis=0) for j in range(centroids.shape[0])])
    rest = sums[index] - vectors  # own label's sum without the article
    own = np.einsum("ij,ij->i", rest, vectors) / np.maximum(np.linalg.norm(rest, axis=1), 1e-12)
    cosines[np.arange(len(vectors)), index] = own
    return cosines.max(axis=1)
