"""Mechanics of the Tagger on a tiny random model: shapes, modes, limits, offsets."""

from __future__ import annotations

import numpy as np
import pytest

from service.engine import InvalidInputError, Label, UnknownTaxonomyError
from service.engine.calibration import FEATURES, Calibration

TEXT = "Stocks fell in Tokyo. The central bank met on Friday.\n\nFootball fans celebrated the win."
LABELS = ["markets", "central banks", "football", "weather"]


def check_result_shape(text, result, max_evidence=2):
    scores = [t.score for t in result.topics]
    assert scores == sorted(scores, reverse=True)
    for topic in result.topics:
        assert 0.0 <= topic.score <= 1.0
        assert 1 <= len(topic.evidence) <= max_evidence
        for ev in topic.evidence:
            assert text[ev.start:ev.end] == ev.text
            assert 0.0 <= ev.score <= 1.0


def test_caller_labels_threshold_zero_returns_every_label_ranked(tiny_tagger):
    [result] = tiny_tagger.tag([TEXT], LABELS, threshold=0.0)
    assert sorted(t.label for t in result.topics) == sorted(LABELS)
    check_result_shape(TEXT, result)
    assert all(t.code is None for t in result.topics)


def test_threshold_one_returns_nothing_in_multi_label_mode(tiny_tagger):
    [result] = tiny_tagger.tag([TEXT], LABELS, threshold=1.0)
    assert result.topics == ()


def test_single_label_returns_exactly_the_best_topic(tiny_tagger):
    [everything] = tiny_tagger.tag([TEXT], LABELS, threshold=0.0)
    [single] = tiny_tagger.tag([TEXT], LABELS, multi_label=False, threshold=1.0)
    assert len(single.topics) == 1
    # The best fit is chosen without the labels' priors (Calibration.label_prior): the
    # label whose score minus its prior (in logits) is highest.
    [scored] = tiny_tagger.backend.score([tiny_tagger.backend.prepare(TEXT)], [Label(x) for x in LABELS])
    p = np.clip(scored.label_scores, 1e-12, 1 - 1e-12)
    best = LABELS[int(np.argmax(np.log(p / (1 - p)) - scored.label_prior))]
    assert single.topics[0].label == best
    assert best in {t.label for t in everything.topics}


def test_single_label_choice_leaves_out_how_broad_a_label_is(tiny_tagger, monkeypatch):
    """With broadness weighing heavily, multi-label scores follow it but the single choice does not."""
    backend = tiny_tagger.backend
    weights = dict(zip(FEATURES, backend.calibration.weights, strict=True))
    heavy = Calibration(tuple({**weights, "label_hubness": 200.0}.values()), backend.calibration.bias)
    light = Calibration(tuple({**weights, "label_hubness": 0.0}.values()), backend.calibration.bias)
    monkeypatch.setattr(backend, "calibration", light)
    [without] = tiny_tagger.tag([TEXT], LABELS, multi_label=False, evidence=False)
    monkeypatch.setattr(backend, "calibration", heavy)
    [single] = tiny_tagger.tag([TEXT], LABELS, multi_label=False, evidence=False)
    [ranked] = tiny_tagger.tag([TEXT], LABELS, threshold=0.0, evidence=False)
    assert ranked.topics[0].label != without.topics[0].label  # broadness reorders the scores...
    assert single.topics[0].label == without.topics[0].label  # ...but not the single choice


def test_a_single_label_answer_under_the_threshold_says_so(tiny_tagger):
    """multi_label false gives the best label whatever its score; a score under the threshold is
    flagged, as a fine-tuned model's out-of-domain text (every score 0) was not."""
    [unsure] = tiny_tagger.tag([TEXT], LABELS, multi_label=False, threshold=1.0)
    [sure] = tiny_tagger.tag([TEXT], LABELS, multi_label=False, threshold=0.0)
    assert [w.code for w in unsure.warnings] == ["below-threshold"]
    message = unsure.warnings[0].message
    assert repr(unsure.topics[0].label) in message and "multi_label is false" in message
    assert sure.topics[0].label == unsure.topics[0].label and not sure.warnings


def test_top_k_caps_the_list(tiny_tagger):
    [result] = tiny_tagger.tag([TEXT], LABELS, threshold=0.0, top_k=2)
    assert len(result.topics) == 2


def test_evidence_can_be_left_out(tiny_tagger):
    [result] = tiny_tagger.tag([TEXT], LABELS, threshold=0.0, evidence=False)
    assert all(t.evidence == () for t in result.topics)


def test_taxonomy_labels_carry_codes_and_per_label_thresholds(tiny_tagger):
    [result] = tiny_tagger.tag([TEXT], taxonomy="iptc-top", threshold=0.0)
    assert len(result.topics) == 17
    assert all(t.code and t.code.startswith("medtop:") for t in result.topics)
    labels = [Label("a", threshold=1.0), Label("b", threshold=0.0)]
    [result] = tiny_tagger.tag([TEXT], labels)
    assert [t.label for t in result.topics] == ["b"]


def test_keyword_hit_lifts_a_label_and_points_at_its_sentence(tiny_tagger):
    labels = [Label("demining", keywords=("mine threat",)), Label("sports")]
    text = "Officials met in Baku. He spoke about the mine threat in the region. Lunch followed."
    [plain] = tiny_tagger.tag([text], ["demining", "sports"], threshold=0.0)
    [keyed] = tiny_tagger.tag([text], labels, threshold=0.0)
    score = {t.label: t.score for t in plain.topics}
    keyed_topic = next(t for t in keyed.topics if t.label == "demining")
    assert keyed_topic.score > score["demining"] and keyed_topic.score >= 0.5
    assert keyed_topic.evidence[0].text == "He spoke about the mine threat in the region."


def test_many_texts_come_back_in_order(tiny_tagger):
    texts = [f"Article number {i} about {word}." for i, word in enumerate(["rain", "goals", "banks"] * 3)]
    results = tiny_tagger.tag(texts, LABELS, threshold=0.0)
    assert len(results) == len(texts)
    for text, result in zip(texts, results, strict=True):
        check_result_shape(text, result)
    # Batching across texts does not change a text's scores.
    [alone] = tiny_tagger.tag([texts[4]], LABELS, threshold=0.0)
    assert [(t.label, t.score) for t in alone.topics] == [(t.label, t.score) for t in results[4].topics]


@pytest.mark.parametrize("texts, kwargs, message", [
    ([], {}, "at least one text"),
    ("a bare string", {}, "list of strings"),
    (["ok", 3], {}, "text 1 is not a string"),
    (["   "], {}, "text 0 is empty"),
    (["x" * 100_001], {}, "the limit is 100000"),
    (["ok"] * 65, {}, "at most 64 documents"),
    (["ok"], {"labels": []}, "at least one label"),
    (["ok"], {"labels": ["a", "A"]}, "unique"),
    (["ok"], {"labels": ["a", " "]}, "must not be empty"),
    (["ok"], {"labels": [str(i) for i in range(101)]}, "at most 100 labels"),
    (["ok"], {"threshold": 1.5}, "threshold"),
    (["ok"], {"top_k": 0}, "top_k"),
])
def test_bad_input_is_a_clear_error(tiny_tagger, texts, kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        tiny_tagger.tag(texts, **kwargs)


def test_unknown_taxonomy(tiny_tagger):
    with pytest.raises(UnknownTaxonomyError):
        tiny_tagger.tag(["ok"], taxonomy="missing")


def test_label_vector_cache_is_bounded(tiny_tagger):
    cache = tiny_tagger.backend.label_vectors
    old_limit = cache.max_labels
    cache.max_labels = 3
    try:
        tiny_tagger.tag(["ok"], [f"label {i}" for i in range(6)], threshold=0.0)
        assert len(cache._vectors) == 3
        first = cache.vectors([Label("label 5")])
        assert (cache.vectors([Label("label 5")]) == first).all()
    finally:
        cache.max_labels = old_limit


def test_a_taxonomys_topic_vectors_outlive_any_number_of_caller_labels(tiny_tagger, monkeypatch):
    """Callers' labels once evicted a large taxonomy's vectors, which then took longer to embed
    again than a request's time limit: every request naming it failed from then on."""
    cache = tiny_tagger.backend.label_vectors
    tiny_tagger.tag([TEXT], taxonomy="news", threshold=0.0)
    embedded: list[list[Label]] = []
    with monkeypatch.context() as m:
        m.setattr(cache, "max_labels", 3)
        tiny_tagger.tag([TEXT], [f"caller label {i}" for i in range(8)], threshold=0.0)
        real = cache.embed
        m.setattr(cache, "embed", lambda labels, deadline=None: embedded.append(labels) or real(labels, deadline))
        tiny_tagger.tag([TEXT], taxonomy="news", threshold=0.0)
        tiny_tagger.tag([TEXT], ["caller label 0"], threshold=0.0)  # a caller's label is still evicted
    assert embedded == [[Label("caller label 0")]]


def test_only_flat_label_sets_rescale_the_labels_behind_the_best(tiny_tagger, monkeypatch):
    """Caller labels (every label a rival) get Calibration.outscored; the `news` taxonomy,
    with its hierarchy, does not."""
    backend = tiny_tagger.backend
    plain = Calibration(backend.calibration.weights, backend.calibration.bias)
    monkeypatch.setattr(backend, "calibration", plain)
    doc = backend.prepare(TEXT)
    news = list(tiny_tagger.label_set(taxonomy="news").labels)
    [flat_before] = backend.score([doc], [Label(x) for x in LABELS])
    [news_before] = backend.score([doc], news)
    monkeypatch.setattr(backend, "calibration", Calibration(plain.weights, plain.bias, outscored=(0.5, -1.0)))
    [flat_after] = backend.score([doc], [Label(x) for x in LABELS])
    [news_after] = backend.score([doc], news)
    expected = backend.calibration.flat_set_scores(flat_before.label_scores)
    assert flat_after.label_scores == pytest.approx(expected)
    assert not np.allclose(flat_after.label_scores, flat_before.label_scores)
    assert news_after.label_scores == pytest.approx(news_before.label_scores)


def test_single_label_choice_compares_the_scores_before_the_flat_set_rescaling(tiny_tagger, monkeypatch):
    """The single choice is argmax(logit(score) - label_prior): label_prior takes back what the
    rescaling of labels behind the best (Calibration.outscored) did, so the choice is the same with it."""
    backend = tiny_tagger.backend
    plain = Calibration(backend.calibration.weights, backend.calibration.bias)
    doc, labels = backend.prepare(TEXT), [Label(x) for x in LABELS]
    monkeypatch.setattr(backend, "calibration", plain)
    [before] = backend.score([doc], labels)
    monkeypatch.setattr(backend, "calibration", Calibration(plain.weights, plain.bias, outscored=(0.3, -2.0)))
    [after] = backend.score([doc], labels)

    def compared(s):
        p = np.clip(s.label_scores, 1e-12, 1 - 1e-12)
        return np.log(p / (1 - p)) - s.label_prior

    assert not np.allclose(after.label_scores, before.label_scores)  # the rescaling moved scores...
    assert compared(after) == pytest.approx(compared(before), abs=1e-6)  # ...but not what the choice compares


def test_labels_the_same_but_for_case_or_unicode_form_are_one_label_twice(tiny_tagger):
    from service.engine import InvalidInputError
    for pair in (["economy", "Economy"], ["économie", "e\u0301conomie"], ["İstanbul", "istanbul"],
                 ["спорт", "спорт\u200b"], ["رياضة\u200f", "رياضة"]):  # invisible format characters
        with pytest.raises(InvalidInputError, match="label names must be unique"):
            tiny_tagger.tag([TEXT], pair)
