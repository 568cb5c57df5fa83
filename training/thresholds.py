"""Per-label decision thresholds chosen to maximise each label's F1, and what a label too rare
to calibrate gets instead.

Head and full modes fit them on the validation split, the hybrid recipe on out-of-fold scores
of the training split. An F1-best cut through one or two examples is noise, and a label with
none has nothing to fit: such a label gets a fallback. For a multi-label model that is 0.5,
the sigmoid's own boundary. A single-label model's scores are a softmax over its k labels, so
0.5 is a level that a 5-way softmax trained on 40 articles rarely reaches: its fallback is the
median of its labels' reliably fitted thresholds, or 1.5/k (at most 0.5) when none is. Measured
on BBC News (docs/training.md, "Thresholds of rare labels"): head mode on 40 and 80 rows, new
articles left with no topic by their thresholds fell from 11.8% to 4.9% and 4.7% to 1.2%.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

DEFAULT_THRESHOLD = 0.5
# Head and full modes: a threshold fitted on fewer validation positives than this moves toward
# the fallback in proportion (support / MIN_SUPPORT of it is the fitted one); with none, it is the
# fallback. As the hybrid recipe's min_positives. Measured against 10 (docs/training.md): alike on
# BBC News, and 10 lost a point of Reuters' macro-F1.
MIN_SUPPORT = 5


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


@dataclass(frozen=True)
class Fallback:
    """The threshold a label too rare to calibrate gets, and how it was chosen (for messages)."""

    value: float
    how: str


def fallback_threshold(fitted: list[float], reliable: list[bool], multi_label: bool) -> Fallback:
    """0.5 for a multi-label model; for a single-label one, the median of the thresholds fitted on
    enough examples (``reliable``), else 1.5/k, at most 0.5 (k labels: half again the even share)."""
    if multi_label:
        return Fallback(DEFAULT_THRESHOLD, "the sigmoid's midpoint")
    kept = [t for t, ok in zip(fitted, reliable, strict=True) if ok]
    if kept:
        return Fallback(round(float(np.median(kept)), 4), "the median of the thresholds fitted on enough articles")
    k = len(fitted)
    if 1.5 / k > DEFAULT_THRESHOLD:  # 2 labels: named as 1.5 / 2, the fallback read as 0.75
        return Fallback(DEFAULT_THRESHOLD, f"1.5 / {k} labels, half again a softmax's even share, at most 0.5")
    return Fallback(round(1.5 / k, 4), f"1.5 / {k} labels: half again a softmax's even share")


@dataclass(frozen=True)
class Thresholds:
    """Each label's threshold, and what it rests on."""

    values: list[float]
    support: list[int]  # the positives each was fitted on
    min_support: int  # fewer: the fallback, or (head and full modes) toward it
    fallback: Fallback
    fitted_on: str  # "validation articles", "training articles (out of fold)"

    def rare(self) -> list[int]:
        """The labels whose threshold is (or leans toward) the fallback."""
        return [j for j, n in enumerate(self.support) if n < self.min_support]

    def warning(self, labels: list[str]) -> str | None:
        """A line naming the labels whose threshold is not (wholly) fitted, or None."""
        rare = self.rare()
        if not rare:
            return None
        named = ", ".join(f"{labels[j]} ({self.support[j]}: {self.values[j]:.4f})" for j in rare[:12])
        more = f", and {len(rare) - 12} more" if len(rare) > 12 else ""
        return (f"{len(rare)} of the {len(labels)} labels {'has' if len(rare) == 1 else 'have'} fewer than "
                f"{self.min_support} {self.fitted_on} to "
                f"fit a threshold on, so theirs is the fallback {self.fallback.value:.4f} ({self.fallback.how})"
                + (", or leans toward it in proportion" if self.shrinks else "")
                + f": label (articles: threshold) {named}{more}. {self._advice()}")

    def _advice(self) -> str:
        if self.fitted_on == VALIDATION:  # the articles counted are validation ones, not those the model learnt from
            return (f"These thresholds rest on the validation articles, not on those the model learnt from: hold out "
                    f"more (--validation-split) or give a --validation file with at least {self.min_support} "
                    "articles of each label")
        return ("A label learnt from so few articles is seldom returned (a desk label trained on 2 came back for 1 "
                f"of 8 of its held-out articles, session 43): label at least {self.min_support} for each")

    @property
    def shrinks(self) -> bool:
        return self.fitted_on == VALIDATION

    def record(self, labels: list[str]) -> dict[str, object]:
        """What newstag.json and the model card keep of it."""
        return {"fitted_on": self.fitted_on, "min_support": self.min_support, "fallback": self.fallback.value,
                "fallback_how": self.fallback.how, "support": dict(zip(labels, self.support, strict=True))}


VALIDATION = "validation articles"
OUT_OF_FOLD = "training articles"


def calibrate_validation(scores: np.ndarray, truth: np.ndarray, multi_label: bool,
                         min_support: int = MIN_SUPPORT) -> Thresholds:
    """Head and full modes: each label's F1-best threshold on the validation split, moved toward
    the fallback by how few positives it rests on (a label with none gets the fallback)."""
    support = [int(n) for n in np.asarray(truth).sum(axis=0)]
    fitted = calibrate(scores, truth)
    fallback = fallback_threshold(fitted, [n >= min_support for n in support], multi_label)
    weight = [min(1.0, n / min_support) for n in support]
    values = [round(w * t + (1 - w) * fallback.value, 4) if w < 1 else t
              for t, w in zip(fitted, weight, strict=True)]
    return Thresholds(values, support, min_support, fallback, VALIDATION)


def calibrate_with_fallback(scores: np.ndarray, truth: np.ndarray, min_positives: int,
                            multi_label: bool = True) -> Thresholds:
    """``calibrate``, except that a label with fewer than ``min_positives`` positives keeps the
    fallback (``fallback_threshold``): an F1-best cut through one or two examples is noise."""
    support = [int(n) for n in np.asarray(truth).sum(axis=0)]
    fitted = calibrate(scores, truth)
    reliable = [n >= min_positives for n in support]
    fallback = fallback_threshold(fitted, reliable, multi_label)
    values = [t if ok else fallback.value for t, ok in zip(fitted, reliable, strict=True)]
    return Thresholds(values, support, min_positives, fallback, OUT_OF_FOLD)


def mean_thresholds(draws: list[Thresholds]) -> Thresholds:
    """Each label's threshold (and the fallback) averaged over thresholds fitted on several draws of
    the same articles' out-of-fold scores: what they rest on (support, fallback rule) is the same."""
    first = draws[0]
    if len(draws) == 1:
        return first
    values = [float(v) for v in np.mean([d.values for d in draws], axis=0)]
    fallback = Fallback(round(float(np.mean([d.fallback.value for d in draws])), 4), first.fallback.how)
    return replace(first, values=values, fallback=fallback)
