"""Map raw cosine similarities to scores in [0, 1] that read as probabilities.

A raw cosine between an article and a label says little by itself: its scale moves with
the label set (short names score lower than long descriptions) and with the genre. What
carries across label sets is how a label compares with the best label for the same text.
So the score is a logistic model of two features,

    score = sigmoid(w_sim * sim + w_gap * (sim - best_sim) + bias)

where ``sim`` is the label's similarity and ``best_sim`` the highest similarity of any
label in the set for the same text. The weights were fitted by logistic regression on
(article, label) pairs from six labeled corpora (BBC News, BBC Sport, Inshorts,
Reuters-21578, SIB-200, TweetTopicXL; AG News held out for evaluation), each corpus
weighted equally: see ``training/fit_calibration.py`` and docs/benchmarks.md. A score of
0.5 is then the point where, on those corpora, a label was as likely right as wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SimilarityCalibration:
    w_sim: float
    w_gap: float
    bias: float

    def scores(self, sims: np.ndarray) -> np.ndarray:
        """Calibrated scores for ``sims`` of shape [..., n_labels] (labels on the last axis)."""
        gap = sims - sims.max(axis=-1, keepdims=True)
        logits = self.w_sim * sims + self.w_gap * gap + self.bias
        return 1.0 / (1.0 + np.exp(-logits))


# Fitted by `python -m training.fit_calibration` (see docs/benchmarks.md for the runs):
# the plain model (NEWSTAG_MATCHER=off, or a local model), and the model with the shipped
# matcher adapter merged in, whose cosines have another scale.
DEFAULT_CALIBRATION = SimilarityCalibration(w_sim=5.05, w_gap=30.17, bias=-0.59)
MATCHER_CALIBRATION = SimilarityCalibration(w_sim=4.59, w_gap=29.36, bias=-0.68)
