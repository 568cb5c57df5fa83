"""Per-label decision thresholds chosen on the validation split to maximise each label's F1."""

from __future__ import annotations

import numpy as np

DEFAULT_THRESHOLD = 0.5


def best_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    """The threshold in (0, 1) that maximises F1 for one label; 0.5 if it has no positives."""
    if truth.sum() == 0:
        return DEFAULT_THRESHOLD
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_truth = scores[order], truth[order].astype(np.float64)
    true_pos = np.cumsum(sorted_truth)
    predicted = np.arange(1, len(scores) + 1)
    f1 = 2 * true_pos / (predicted + truth.sum())
    # Only cut between distinct scores: everything at or above the cut is predicted.
    distinct = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]
    f1 = np.where(distinct, f1, -1.0)
    k = int(np.argmax(f1))
    below = sorted_scores[k + 1] if k + 1 < len(scores) else 0.0
    return float(np.clip((sorted_scores[k] + below) / 2, 0.01, 0.99))


def calibrate(scores: np.ndarray, truth: np.ndarray) -> list[float]:
    """One threshold per column of ``scores`` [examples, labels] against 0/1 ``truth``."""
    return [best_threshold(scores[:, j], truth[:, j]) for j in range(scores.shape[1])]


def calibrate_with_fallback(scores: np.ndarray, truth: np.ndarray, min_positives: int,
                            fallback: float = DEFAULT_THRESHOLD) -> list[float]:
    """``calibrate``, except that a label with fewer than ``min_positives`` positives keeps
    ``fallback``: an F1-best cut through one or two examples is noise, not calibration."""
    positives = truth.sum(axis=0)
    return [best_threshold(scores[:, j], truth[:, j]) if positives[j] >= min_positives else fallback
            for j in range(scores.shape[1])]
