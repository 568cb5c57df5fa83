"""The hybrid recipe's settings (training/hybrid.py), apart so the config imports no scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HybridSettings:
    c: float = 0.5  # the SVM's C (measured: docs/benchmarks.md)
    # the article vector's scale beside a unit TF-IDF vector; None: chosen per training set
    # among ``embedding_weights`` by out-of-fold quality (measured: docs/benchmarks.md)
    embedding_weight: float | None = None
    embedding_weights: tuple[float, ...] = (0.25, 0.5, 1.0)
    # the scale of each label's own feature, the article's similarity to the label's name (0: off);
    # None: chosen per training set among ``label_priors`` with the weight (measured: docs/benchmarks.md,
    # "A label's name as a feature")
    label_prior: float | None = None
    label_priors: tuple[float, ...] = (0.0, 3.0)
    # each label's TF-IDF columns scaled by their log-count ratio for it, smoothed by this (0: off);
    # None: chosen per training set among ``nb_alphas`` with the weight and the prior (measured:
    # docs/benchmarks.md, "Terms weighed by how much they tell a label apart")
    nb_alpha: float | None = None
    nb_alphas: tuple[float, ...] = (0.0, 1.0)
    min_df: int = 2  # a term in one training article only is noise, and vocabulary to ship
    ngram_max: int = 2
    folds: int = 3  # out-of-fold scores for the thresholds
    # each label's threshold is the mean of its F1-best cuts on this many draws of the folds: one
    # draw's cut moved Reuters' micro-F1 by up to 1.5 points (measured: docs/benchmarks.md,
    # "Thresholds from three draws of the folds")
    threshold_draws: int = 3
    min_positives: int = 5  # fewer training positives: the label keeps the fallback threshold (measured)
    # multi-label, every training article labelled: an article none of whose labels reaches its
    # threshold still gets its best one (measured: docs/benchmarks.md)
    at_least_one: bool = True
    # after the validation split is scored, the served model is fitted again on training and validation
    # articles together at the mix chosen (not with a --validation file, which stays unseen): a tenth
    # more articles, most worth it to rare labels (measured: docs/benchmarks.md, "Refit on every row")
    refit: bool = True
