"""Which sentences may bring a topic in alone (service/engine/sentence_support.py), by the model's rules."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from service.engine.model_files import DEFAULT_MODEL_SHA256, MULTILINGUAL_SHA256
from service.engine.model_profiles import SentenceRules, profile_for
from service.engine.sentence_support import DEFAULT_RULES, candidates, support


@dataclass
class FixedScores:
    """Every sentence scores ``in_context`` for every label."""

    in_context: np.ndarray  # [n_sentences, n_labels]
    best_window_scores: np.ndarray

    def sentence_scores(self, label_indices: list[int]) -> np.ndarray:
        return self.in_context[:, label_indices]


def _candidates(tiny_tagger, text: str, best_window: float, rules: SentenceRules = DEFAULT_RULES):
    doc = tiny_tagger.backend.prepare(text)
    scores = FixedScores(np.full((len(doc.sentences), 1), 0.5), np.array([best_window]))
    return doc, candidates(doc, scores, [0], scores.best_window_scores, 2, rules)


def test_a_chinese_sentence_may_bring_a_topic_in_and_a_short_phrase_may_not(tiny_tagger):
    doc, found = _candidates(tiny_tagger, "拜拉莫夫向同事详细介绍了该地区的地雷威胁。好消息！", 0.5)
    assert len(doc.sentences) == 2
    assert found == {0: [0]}  # counting spaces, neither sentence had more than one word


def test_a_japanese_sentence_may_bring_a_topic_in(tiny_tagger):
    _, found = _candidates(tiny_tagger, "外務大臣は地雷の脅威について詳しく説明した。ありがとう！", 0.5)
    assert found == {0: [0]}


def test_the_window_gate_and_the_word_minimum_are_the_models(tiny_tagger):
    text = "Ministers discussed the mine threat in the region. Thanks!"
    assert _candidates(tiny_tagger, text, 0.03)[1] == {}  # under the default 0.05 gate
    loose = SentenceRules(route_min_window=0.01, min_words=1)
    assert _candidates(tiny_tagger, text, 0.03, loose)[1] == {0: [0, 1]}


def test_support_discounts_by_the_models_discount():
    assert support(0.775) == pytest.approx(0.5) and support(0.55) == 0.0 and support(1.0) == pytest.approx(1.0)
    assert support(0.6, discount=0.4) == pytest.approx((0.6 - 0.4) / 0.6)


def test_the_default_model_keeps_the_rules_it_was_measured_with():
    assert profile_for(DEFAULT_MODEL_SHA256).sentence_rules == SentenceRules(0.15, 0.05, 4.0, 0.55)
    assert profile_for(MULTILINGUAL_SHA256).sentence_rules is not None
