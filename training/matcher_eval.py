"""Label-name zero-shot quality of an encoder on one labeled set, through the engine's code.

Each label is embedded as the service embeds a bare name ("news about {name}"), each
article window by window, and an article's similarity to a label is its best window's.
The prediction is the most similar label: no threshold, so the plain model and an
adapted one (whose cosines have another scale) are compared fairly. Multi-label rows
count that one prediction against their set of true labels; macro-F1 averages over
the labels the sample contains.
"""

from __future__ import annotations

import random
import sys

import numpy as np
from sklearn.metrics import f1_score

from service.engine import Label
from service.engine.encoder import SentenceEncoder
from service.engine.label_vectors import LabelVectorCache
from service.progress import progress_bar

from .matcher_data import MatcherSet


def top_label_predictions(encoder: SentenceEncoder, matcher_set: MatcherSet, rows: list[int],
                          batch_size: int = 32) -> np.ndarray:
    """The index of the most similar label for each row."""
    vectors = LabelVectorCache(encoder).vectors([Label(n) for n in matcher_set.names])
    out = []
    for start in progress_bar(range(0, len(rows), batch_size), desc=f"zero-shot {matcher_set.name}", file=sys.stderr):
        docs = [encoder.prepare(matcher_set.examples[i].text) for i in rows[start:start + batch_size]]
        for doc in encoder.encode_documents(docs):
            sims = (doc.windows @ vectors.T).max(axis=0) if len(doc.windows) else np.zeros(len(vectors))
            out.append(int(np.argmax(sims)))
    return np.array(out, dtype=int)


def names_only_macro_f1(encoder: SentenceEncoder, matcher_set: MatcherSet, limit: int | None = 2000,
                        seed: int = 0) -> float:
    """Macro-F1 of the top label on (a seeded sample of at most ``limit`` rows of) the set."""
    rows = list(range(len(matcher_set.examples)))
    if limit is not None and len(rows) > limit:
        rows = sorted(random.Random(seed).sample(rows, limit))
    predicted = top_label_predictions(encoder, matcher_set, rows)
    index = {label: k for k, label in enumerate(matcher_set.labels)}
    truth = np.zeros((len(rows), len(index)), dtype=int)
    for r, i in enumerate(rows):
        for label in matcher_set.examples[i].labels:
            truth[r, index[label]] = 1
    guess = np.zeros_like(truth)
    guess[np.arange(len(rows)), predicted] = 1
    present = np.flatnonzero(truth.sum(axis=0))  # labels the sample has (a sample may miss rare ones)
    return float(f1_score(truth, guess, labels=present, average="macro", zero_division=0))
