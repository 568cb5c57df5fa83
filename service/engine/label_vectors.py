"""Label embeddings: each label is the mean of several phrasings of it, cached.

Measured on 2,000 AG News articles (docs/benchmarks.md): a single template scored
0.63-0.77 macro-F1, the mean of the unit vectors of the name, the description and
"news about {keyword}" for each keyword scored 0.84.
"""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock

import numpy as np

from .encoder import SentenceEncoder
from .types import Label

TEMPLATE = "news about {}"


def label_phrasings(label: Label) -> list[str]:
    phrasings = [TEMPLATE.format(label.name)]
    if label.description:
        phrasings.append(label.description)
    phrasings.extend(TEMPLATE.format(k) for k in label.keywords)
    return phrasings


class LabelVectorCache:
    """Unit vectors of labels, computed once per label and kept in a bounded LRU cache."""

    def __init__(self, encoder: SentenceEncoder, max_labels: int = 4096):
        self.encoder = encoder
        self.max_labels = max_labels
        self._vectors: OrderedDict[Label, np.ndarray] = OrderedDict()
        self._lock = Lock()

    def vectors(self, labels: list[Label]) -> np.ndarray:
        """[n_labels, dim] unit vectors, in the order given."""
        with self._lock:
            missing = [lab for lab in dict.fromkeys(labels) if lab not in self._vectors]
        if missing:
            phrasings = [label_phrasings(lab) for lab in missing]
            flat = self.encoder.encode_texts([p for group in phrasings for p in group])
            start = 0
            computed = {}
            for lab, group in zip(missing, phrasings, strict=True):
                mean = flat[start : start + len(group)].mean(0)
                computed[lab] = mean / max(float(np.linalg.norm(mean)), 1e-12)
                start += len(group)
        with self._lock:
            if missing:
                self._vectors.update(computed)
            for lab in labels:
                self._vectors.move_to_end(lab)
            out = np.stack([self._vectors[lab] for lab in labels])
            while len(self._vectors) > self.max_labels:
                self._vectors.popitem(last=False)
        return out
