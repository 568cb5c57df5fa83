from __future__ import annotations

import numpy as np
import pytest

from service.engine.calibration import DEFAULT_CALIBRATION, SimilarityCalibration
from service.engine.keywords import combine, document_hits, keyword_hits
from service.engine.sentences import split_sentences
from service.engine.types import Label


def test_keywords_match_whole_words_case_insensitively_and_count_distinct():
    text = "The MINE threat is real. A gold mine opened. Landmines and the mine threat again."
    labels = [Label("demining", keywords=("mine threat", "landmines")), Label("other")]
    hits = keyword_hits(text, tuple(split_sentences(text)), labels)
    assert hits[:, 0].tolist() == [1, 0, 2]
    assert hits[:, 1].tolist() == [0, 0, 0]
    assert document_hits(text, labels).tolist() == [2, 0]


def test_keyword_regex_characters_are_literal():
    text = "Prices (in U.S.$) rose."
    labels = [Label("x", keywords=("U.S.$", "(in"))]
    assert document_hits(text, labels).tolist() == [2]
    assert document_hits("USA", [Label("y", keywords=("U.S.",))]).tolist() == [0]


def test_noisy_or_combination():
    model = np.array([0.0, 0.2, 0.9, 0.2])
    hits = np.array([0, 1, 1, 9])
    combined = combine(model, hits, weight=0.5)
    assert combined[0] == 0.0
    assert combined[1] == pytest.approx(1 - 0.8 * 0.5)
    assert combined[2] == pytest.approx(1 - 0.1 * 0.5)
    assert combined[3] == pytest.approx(1 - 0.8 * 0.5 ** 3)  # hits beyond three count as three
    assert np.all(combined >= model)


def test_calibration_is_monotone_and_relative_to_the_best_label():
    sims = np.array([[0.50, 0.45, 0.20], [0.30, 0.25, 0.00]])
    scores = DEFAULT_CALIBRATION.scores(sims)
    assert np.all((scores > 0) & (scores < 1))
    assert np.all(np.diff(scores, axis=1) < 0)
    # The best label of a text scores higher when its similarity is higher...
    assert scores[0, 0] > scores[1, 0]
    # ...and a label far behind the best scores low, whatever its absolute similarity.
    assert scores[0, 2] < 0.05


def test_calibration_formula():
    calibration = SimilarityCalibration(w_sim=2.0, w_gap=10.0, bias=-1.0)
    sims = np.array([0.5, 0.4])
    expected = 1 / (1 + np.exp(-np.array([2 * 0.5 - 1.0, 2 * 0.4 + 10 * -0.1 - 1.0])))
    assert calibration.scores(sims) == pytest.approx(expected)
