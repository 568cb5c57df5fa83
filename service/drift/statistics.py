"""The statistics of a drift report, in plain Python and numpy (no scipy at run time).

Shares are compared article by article: each article has a label or not, so a label's
share in two periods is a pair of binomial proportions, tested with the two-proportion
z-test. With dozens of labels tested at once some would pass by chance, so the p-values
are adjusted with Holm's method (it bounds the chance of any false alarm by alpha, and
is never weaker than Bonferroni's). The population stability index and the
Jensen-Shannon divergence summarise the whole label mix in one number each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def two_proportion_p_value(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float:
    """Two-sided p-value that two shares differ only by chance (pooled two-proportion z-test)."""
    pooled = (hits_a + hits_b) / (n_a + n_b)
    if pooled in (0.0, 1.0):
        return 1.0  # no article has it (or every one does) in either period: nothing moved
    error = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    z = (hits_b / n_b - hits_a / n_a) / error
    return math.erfc(abs(z) / math.sqrt(2))


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
