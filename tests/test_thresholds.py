"""Head and full modes' thresholds: fitted on the validation split, and a fallback for a label
too rare there to calibrate (training/thresholds.py)."""

from __future__ import annotations

import numpy as np
import pytest

from training.thresholds import MIN_SUPPORT, calibrate, calibrate_validation, fallback_threshold


def _softmax_scores(truth: np.ndarray, seed: int = 0) -> np.ndarray:
    """Scores of a 5-way softmax that leans to the right label (0.45 against 0.14 on average)."""
    rng = np.random.default_rng(seed)
    logits = 1.2 * truth + rng.normal(0, 0.4, truth.shape)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def test_a_single_label_label_with_no_validation_article_gets_a_threshold_a_softmax_reaches():
    """corrections1.jsonl (40 rows, 5 labels) wrote 0.5 for business and politics, which had no
    validation article: 10 of 30 new politics and business articles came back with no topic."""
    truth = np.zeros((4, 5), dtype=int)
    truth[[0, 1, 2, 3], [1, 1, 2, 3]] = 1  # labels 0 and 4: no validation article
    fitted = calibrate_validation(_softmax_scores(truth), truth, multi_label=False)
    assert fitted.support == [0, 2, 1, 1, 0]
    assert fitted.fallback.value == pytest.approx(1.5 / 5) and "1.5 / 5 labels" in fitted.fallback.how
    assert fitted.values[0] == fitted.values[4] == pytest.approx(0.3)
    assert fitted.rare() == [0, 1, 2, 3, 4]  # all fitted on fewer than MIN_SUPPORT


def test_a_threshold_fitted_on_few_articles_leans_toward_the_fallback_in_proportion():
    """entertainment's threshold was fitted on one article (0.22 passes anything)."""
    truth = np.zeros((14, 5), dtype=int)
    truth[np.arange(14), [0, 1, 2, 3, 4, 0, 1, 2, 3, 0, 1, 2, 0, 0]] = 1  # 5, 3, 3, 2, 1
    scores = _softmax_scores(truth, seed=1)
    raw, fitted = calibrate(scores, truth), calibrate_validation(scores, truth, multi_label=False)
    for j, n in enumerate(fitted.support):
        weight = n / MIN_SUPPORT
        assert fitted.values[j] == pytest.approx(weight * raw[j] + (1 - weight) * fitted.fallback.value, abs=1e-4)


def test_labels_with_enough_validation_articles_keep_their_fitted_thresholds():
    """A large run is not changed: every label has MIN_SUPPORT validation articles or more."""
    truth = np.zeros((200, 5), dtype=int)
    truth[np.arange(200), np.arange(200) % 5] = 1
    scores = _softmax_scores(truth, seed=2)
    fitted = calibrate_validation(scores, truth, multi_label=False)
    assert fitted.values == calibrate(scores, truth) and fitted.rare() == [] and fitted.warning(list("abcde")) is None


def test_the_fallback_is_the_median_of_reliable_thresholds_else_one_for_k_labels():
    assert fallback_threshold([0.2, 0.3, 0.9], [True, True, False], multi_label=False).value == pytest.approx(0.25)
    assert fallback_threshold([0.5] * 2, [False] * 2, multi_label=False).value == 0.5  # 1.5/2, at most 0.5
    assert fallback_threshold([0.5] * 20, [False] * 20, multi_label=False).value == pytest.approx(0.075)
    assert fallback_threshold([0.2, 0.3], [True, True], multi_label=True).value == 0.5  # the sigmoid's midpoint


def test_the_warning_names_each_label_on_its_fallback_with_its_validation_articles():
    truth = np.zeros((10, 3), dtype=int)
    truth[np.arange(10), [0, 0, 1, 1, 1, 1, 1, 1, 1, 1]] = 1
    fitted = calibrate_validation(_softmax_scores(truth), truth, multi_label=False)
    warning = fitted.warning(["business", "sport", "politics"])
    assert warning is not None
    assert "2 of the 3 labels have fewer than 5 validation articles" in warning
    sport = fitted.values[1]  # the one label fitted on enough: its threshold is the others' fallback
    assert fitted.fallback.value == pytest.approx(sport, abs=1e-4)
    assert f"fallback {sport:.4f} (the median of the thresholds fitted on enough articles)" in warning
    assert "leans toward it in proportion" in warning
    assert f"politics (0: {sport:.4f})" in warning and "business (2: " in warning and "sport" not in warning
    # The articles counted are validation articles: the advice is about those, not about labelling
    # more for training (a head-mode model learnt from 8 articles a label was told to label 5).
    assert warning.endswith("These thresholds rest on the validation articles, not on those the model learnt from: "
                            "hold out more (--validation-split) or give a --validation file with at least 5 articles "
                            "of each label")
    assert "seldom returned" not in warning


def test_the_out_of_fold_warning_asks_for_more_training_articles():
    from training.thresholds import calibrate_with_fallback

    truth = np.zeros((10, 3), dtype=int)
    truth[np.arange(10), [0, 0, 1, 1, 1, 1, 1, 2, 2, 2]] = 1
    warning = calibrate_with_fallback(_softmax_scores(truth), truth, MIN_SUPPORT, multi_label=False).warning(
        ["business", "sport", "politics"])
    assert warning is not None and "fewer than 5 training articles" in warning
    assert warning.endswith("seldom returned (a desk label trained on 2 came back for 1 of 8 of its held-out articles, "
                            "session 43): label at least 5 for each")


def test_a_capped_fallback_is_not_named_as_the_share_it_caps():
    """2 labels: the fallback 0.5 was named '1.5 / 2 labels', which reads as 0.75."""
    two = fallback_threshold([0.5] * 2, [False] * 2, multi_label=False)
    assert two.value == 0.5 and two.how.endswith("at most 0.5")
