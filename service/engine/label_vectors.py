"""Label embeddings: each label is the mean of several phrasings of it, cached.

Measured on 2,000 AG News articles (docs/benchmarks.md): a single template scored
0.63-0.77 macro-F1, the mean of the unit vectors of the name, the description and
"news about {keyword}" for each keyword scored 0.84.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import numpy as np

from .cache import BoundedCache
from .encoder import SentenceEncoder
from .phrase_store import PhraseStore
from .types import Label

TEMPLATE = "news about {}"  # a model's profile may name another (model_profiles.py)
# One template, or several whose phrasings of the name are all averaged in (keywords take the first).
Template = str | tuple[str, ...]


def label_phrasings(label: Label, template: Template = TEMPLATE) -> list[str]:
    templates = (template,) if isinstance(template, str) else template
    phrasings = [t.format(label.name) for t in templates]
    if label.description:
        phrasings.append(label.description)
    phrasings.extend(templates[0].format(k) for k in label.keywords)
    return phrasings


class LabelVectorCache:
    """Unit vectors of labels, computed once per label. Caller labels are kept in a bounded LRU
    cache; labels named by :meth:`keep` (an installed taxonomy's topics) for the process's life."""

    def __init__(self, encoder: SentenceEncoder, max_labels: int = 4096, template: Template = TEMPLATE):
        self.encoder = encoder
        self.template = template
        self._vectors = BoundedCache[Label, np.ndarray](max_labels)
        # Why apart: a taxonomy of thousands of topics, evicted by callers' labels, took longer to
        # embed again than a request's time limit, and every request naming it then failed.
        self._to_keep: set[Label] = set()
        self._kept: dict[Label, np.ndarray] = {}
        self._lock = threading.Lock()
        self.store: PhraseStore | None = None  # kept labels' phrasings on disk (loading.py; phrase_store.py)

    @property
    def max_labels(self) -> int:
        return self._vectors.max_entries

    @max_labels.setter
    def max_labels(self, value: int) -> None:
        self._vectors.max_entries = value

    def keep(self, labels: Iterable[Label]) -> None:
        """Never evict these labels' vectors once computed (they are bounded by the taxonomy files)."""
        with self._lock:
            self._to_keep.update(labels)

    def _get(self, label: Label) -> np.ndarray | None:
        kept = self._kept.get(label)
        return kept if kept is not None else self._vectors.get(label)

    def _put(self, label: Label, vector: np.ndarray) -> None:
        if label in self._to_keep:
            with self._lock:
                self._kept[label] = vector
        else:
            self._vectors.put(label, vector)

    def vectors(self, labels: list[Label], deadline: float | None = None) -> np.ndarray:
        """[n_labels, dim] unit vectors, in the order given (``deadline``: see SentenceEncoder)."""
        found: dict[Label, np.ndarray] = {}
        for lab in dict.fromkeys(labels):
            cached = self._get(lab)
            if cached is not None:
                found[lab] = cached
        missing = [lab for lab in dict.fromkeys(labels) if lab not in found]
        if missing:
            kept = [lab for lab in missing if lab in self._to_keep]
            called = [lab for lab in missing if lab not in self._to_keep]  # callers' labels: never written down
            computed = [*zip(kept, self.embed(kept, deadline, stored=True) if kept else [], strict=True),
                        *zip(called, self.embed(called, deadline) if called else [], strict=True)]
            for lab, vector in computed:
                found[lab] = vector
                self._put(lab, vector)
        return np.stack([found[lab] for lab in labels])

    def embed(self, labels: list[Label], deadline: float | None = None, stored: bool = False) -> np.ndarray:
        """[n_labels, dim] unit vectors, computed now and not cached (``stored``: their phrasings
        read from and added to the store, for labels a taxonomy or the calibration names)."""
        phrasings = [label_phrasings(lab, self.template) for lab in labels]
        flat = self._encode([p for group in phrasings for p in group], deadline, stored)
        out, start = [], 0
        for group in phrasings:
            mean = flat[start : start + len(group)].mean(0)
            out.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
            start += len(group)
        return np.stack(out) if out else np.zeros((0, self.encoder.dim), dtype=np.float32)

    def _encode(self, phrases: list[str], deadline: float | None, stored: bool) -> np.ndarray:
        store = self.store if stored else None
        if store is None or not phrases:
            return self.encoder.encode_texts(phrases, deadline)
        keys = [self.encoder.label_prompt + p for p in phrases]  # a prompt changed later reads none of them
        found = store.get(keys)
        todo = [i for i, vector in enumerate(found) if vector is None]
        if todo:
            computed = self.encoder.encode_texts([phrases[i] for i in todo], deadline)
            store.add([keys[i] for i in todo], computed)
            for i, vector in zip(todo, computed, strict=True):
                found[i] = vector
        return np.stack([v for v in found if v is not None])
