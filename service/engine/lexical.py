"""The lexical half of a hybrid classifier: TF-IDF word and bigram features, numpy only.

Training fits scikit-learn's ``TfidfVectorizer`` (training/hybrid.py); serving must not
need scikit-learn or unpickle anything, so the model directory keeps the vectorizer as
data (``lexical.json``: vocabulary and options; ``lexical.safetensors``: idf and the
label weights) and this module rebuilds the same transform: lowercase, tokens of two or
more word characters, n-grams joined by a space, ``1 + log(tf)``, times idf, L2 norm.
tests/test_hybrid.py checks it against scikit-learn's own output.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from ..errors import ModelLoadError
from .markup import WORD_JOINER
from .model_files import require_regular_file

LEXICAL_JSON = "lexical.json"
LEXICAL_WEIGHTS = "lexical.safetensors"
TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's default
# What training.hybrid writes: its token pattern (the only one loaded: a pattern from the file
# is run on every request, and one like (\w+\s?)+$ never finishes), n-grams up to two words.
TOKEN_PATTERNS = (TOKEN_PATTERN,)
MAX_NGRAM = 2


@dataclass(frozen=True)
class TfidfSpec:
    """A fitted TF-IDF transform as plain data."""

    vocabulary: tuple[str, ...]  # term of each column
    idf: np.ndarray  # [terms]
    ngram_max: int = 2
    token_pattern: str = TOKEN_PATTERN

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {term: i for i, term in enumerate(self.vocabulary)})
        object.__setattr__(self, "_tokens", re.compile(self.token_pattern))

    def _ngrams(self, text: str) -> list[str]:
        # Word joiners (a reading copy's, inside a word an entity or a tag cut: markup.py) are no boundary.
        tokens = self._tokens.findall(text.replace(WORD_JOINER, "").lower())  # type: ignore[attr-defined]
        grams = list(tokens)
        for n in range(2, self.ngram_max + 1):
            grams.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
        return grams

    def transform(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The text's non-zero features: (column indices, values), L2-normalised."""
        index: dict[str, int] = self._index  # type: ignore[attr-defined]
        counts = Counter(index[g] for g in self._ngrams(text) if g in index)
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        values = np.array([1.0 + math.log(c) for c in counts.values()]) * self.idf[columns]
        return columns, values / np.linalg.norm(values)


@dataclass(frozen=True)
class LexicalHead:
    """TF-IDF features and one linear weight row per label over them."""

    spec: TfidfSpec
    weight: np.ndarray  # [labels, terms]

    def logits(self, texts: list[str]) -> np.ndarray:
        """[texts, labels]: each text's TF-IDF vector times the weights (no bias)."""
        out = np.zeros((len(texts), self.weight.shape[0]), dtype=np.float64)
        for i, text in enumerate(texts):
            columns, values = self.spec.transform(text)
            if len(columns):
                out[i] = self.weight[:, columns].astype(np.float64) @ values
        return out

    def save(self, directory: Path) -> None:
        (directory / LEXICAL_JSON).write_text(json.dumps(
            {"vocabulary": list(self.spec.vocabulary), "ngram_max": self.spec.ngram_max,
             "token_pattern": self.spec.token_pattern, "sublinear_tf": True, "norm": "l2"}, ensure_ascii=False))
        save_file({"idf": np.ascontiguousarray(self.spec.idf, dtype=np.float64),
                   "weight": np.ascontiguousarray(self.weight, dtype=np.float32)}, str(directory / LEXICAL_WEIGHTS))

    @classmethod
    def load(cls, directory: Path, n_labels: int) -> LexicalHead:
        path, weights = directory / LEXICAL_JSON, directory / LEXICAL_WEIGHTS
        require_regular_file(path)
        require_regular_file(weights)
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
            arrays = load_file(str(weights))
        except (OSError, ValueError, SafetensorError, RecursionError) as exc:
            raise ModelLoadError(f"{directory}: cannot read the lexical head: {type(exc).__name__}: "
                                 f"{str(exc)[:200]}") from None
        if not isinstance(meta, dict):
            raise ModelLoadError(f"{path}: must be a JSON object")
        vocabulary, idf, weight = meta.get("vocabulary"), arrays.get("idf"), arrays.get("weight")
        if (not isinstance(vocabulary, list) or idf is None or weight is None
                or idf.shape != (len(vocabulary),) or weight.shape != (n_labels, len(vocabulary))):
            raise ModelLoadError(f"{weights}: shapes do not match {n_labels} labels "
                                 "and the vocabulary")
        if not all(isinstance(t, str) for t in vocabulary):
            raise ModelLoadError(f"{path}: 'vocabulary' must be a list of strings")
        ngram_max, pattern = meta.get("ngram_max", 2), meta.get("token_pattern", TOKEN_PATTERN)
        if not isinstance(ngram_max, int) or isinstance(ngram_max, bool) or not 1 <= ngram_max <= MAX_NGRAM:
            raise ModelLoadError(f"{path}: 'ngram_max' must be a whole number from 1 to {MAX_NGRAM}, "
                                 f"not {ngram_max!r}")
        if pattern not in TOKEN_PATTERNS:
            raise ModelLoadError(f"{path}: 'token_pattern' must be the one training writes, {TOKEN_PATTERN!r}, "
                                 f"not {pattern!r}")
        if meta.get("sublinear_tf", True) is not True or meta.get("norm", "l2") != "l2":
            raise ModelLoadError(f"{path}: only 'sublinear_tf' true and 'norm' \"l2\" are served (as training "
                                 "writes them)")
        # TF-IDF's idf is 1 + log(...) >= 1: NaN scored every label NaN, 0 left every text featureless
        if not (np.issubdtype(idf.dtype, np.floating) and np.isfinite(idf).all() and (idf > 0).all()):
            raise ModelLoadError(f"{weights}: 'idf' must be finite and positive")
        if not (np.issubdtype(weight.dtype, np.floating) and np.isfinite(weight).all()):
            raise ModelLoadError(f"{weights}: 'weight' must be finite floating-point numbers")
        spec = TfidfSpec(tuple(vocabulary), idf, ngram_max, pattern)
        return cls(spec, weight)
