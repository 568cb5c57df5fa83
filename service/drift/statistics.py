"""The statistics of a drift report, in plain Python and numpy (no scipy at run time).

Shares are compared article by article: each article has a label or not, so a label's
share in two periods is a pair of binomial proportions, tested with Fisher's exact test
(valid on the small periods of a corrections export, where a z-test's normal
approximation raised false alarms). With dozens of labels tested at once some would pass
by chance, so the p-values are adjusted with Holm's method (it bounds the chance of any
false alarm by alpha, and is never weaker than Bonferroni's). The population stability index and the
Jensen-Shannon divergence summarise the whole label mix in one number each.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


# Tables within this (relative) of the observed one's probability count as no more likely:
# the log-gamma sums carry rounding error, and mirror-image tables must tie (scipy's 1e-7).
_RELATIVE_TIE = math.log1p(1e-7)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_exact_p_value(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float:
    """Two-sided p-value that two shares differ only by chance (Fisher's exact test).

    The probability, given both periods' sizes and the label's total, of every split of
    that total no more likely than the one observed (scipy's two-sided definition). Exact
    on any sample: the pooled z-test it replaced read 2 of 12 articles against 2 of 212
    as p < 0.001 (exact: 0.015). The probabilities rise to one mode and fall after it, so
    each tail's inner end is found by bisection and the tail summed outward until its
    terms vanish: a few hundred terms on 200,000 articles, not one per possible count.
    """
    total, hits = n_a + n_b, hits_a + hits_b
    if hits in (0, total):
        return 1.0  # no article has it (or every one does) in either period: nothing moved
    lo, hi = max(0, hits - n_b), min(hits, n_a)
    base = _log_comb(total, hits)

    def log_p(x: int) -> float:
        return _log_comb(n_a, x) + _log_comb(n_b, hits - x) - base

    mode = (hits + 1) * (n_a + 1) // (total + 2)
    threshold = log_p(hits_a) + _RELATIVE_TIE
    # lo..mode rise: the left tail ends at the last count at or under the threshold.
    below, above = lo - 1, mode + 1
    while above - below > 1:
        middle = (below + above) // 2
        below, above = (middle, above) if log_p(middle) <= threshold else (below, middle)
    p = _tail(log_p, below, lo - 1, -1)
    # mode+1..hi fall: the right tail starts at the first count at or under the threshold.
    below, above = mode, hi + 1
    while above - below > 1:
        middle = (below + above) // 2
        below, above = (below, middle) if log_p(middle) <= threshold else (middle, above)
    return min(1.0, p + _tail(log_p, above, hi + 1, 1))


def _tail(log_p: Callable[[int], float], start: int, stop: int, step: int) -> float:
    """Sum exp(log_p(x)) from start (the tail's largest term) towards stop, exclusive,
    until the terms no longer change the sum."""
    total = 0.0
    for x in range(start, stop, step):
        term = math.exp(log_p(x))
        if term <= total * 1e-17 or term == 0.0:
            break
        total += term
    return total


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _distributions(a: Sequence[float], b: Sequence[float], smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, dtype=float) + smoothing, np.asarray(b, dtype=float) + smoothing
    return x / x.sum(), y / y.sum()


def psi(counts_a: Sequence[float], counts_b: Sequence[float]) -> float:
    """Population stability index between two histograms over the same bins.

    Half a count is added to every bin, so a bin empty in one period costs a large but
    finite amount instead of infinity.
    """
    p, q = _distributions(counts_a, counts_b, 0.5)
    return float(np.sum((q - p) * np.log(q / p)))


def psi_noise(bins: int, total_a: float, total_b: float) -> float:
    """The PSI that sampling alone gives on average: two samples of one population.

    PSI is the symmetrised Kullback-Leibler divergence, and for two samples of sizes n and
    m it is about chi-square with bins - 1 degrees of freedom times (1/n + 1/m); small
    samples over many bins therefore read as a shift that is not there.
    """
    return (bins - 1) * (1 / total_a + 1 / total_b)


def psi_reading(value: float) -> str:
    """The usual reading: below 0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a major one."""
    return "stable" if value < 0.1 else "moderate shift" if value < 0.25 else "major shift"


def js_divergence(counts_a: Sequence[float], counts_b: Sequence[float]) -> float:
    """Jensen-Shannon divergence in bits: 0 for the same mix, 1 for mixes with nothing in common."""
    p, q = _distributions(counts_a, counts_b, 0.0)
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        inside = x > 0
        return float(np.sum(x[inside] * np.log2(x[inside] / m[inside])))

    return max(0.0, (kl(p) + kl(q)) / 2)


def ks_test(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic D and its asymptotic two-sided p-value."""
    x, y = np.sort(np.asarray(a, dtype=float)), np.sort(np.asarray(b, dtype=float))
    values = np.concatenate([x, y])
    d = float(np.max(np.abs(np.searchsorted(x, values, side="right") / len(x)
                            - np.searchsorted(y, values, side="right") / len(y))))
    effective = len(x) * len(y) / (len(x) + len(y))
    # Stephens' small-sample correction of the Kolmogorov distribution's argument.
    lam = (math.sqrt(effective) + 0.12 + 0.11 / math.sqrt(effective)) * d
    if lam < 0.2:
        return d, 1.0  # the series below needs many terms here, and its value is 1 to 12 digits
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return d, min(1.0, max(0.0, p))


def quantiles(values: Sequence[float]) -> dict[str, float]:
    """p10, p25, median, p75, p90 and mean, rounded to 4 places (empty when there are none)."""
    if len(values) == 0:
        return {}
    data = np.asarray(values, dtype=float)
    out = {f"p{round(q * 100)}": round(float(np.quantile(data, q)), 4) for q in QUANTILES}
    out["mean"] = round(float(data.mean()), 4)
    return out
