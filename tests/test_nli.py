"""The NLI engine, through transformers' zero-shot pipeline, on a tiny random NLI model."""

from __future__ import annotations

import pytest

from service.config import Settings
from service.engine import ModelLoadError, Tagger


@pytest.fixture(scope="module")
def nli_tagger(tiny_nli_dir):
    settings = Settings.from_env({"NEWSTAG_ENGINE": "nli", "NEWSTAG_NLI_MODEL": str(tiny_nli_dir)})
    return Tagger.load(settings.engine_options())


def test_nli_engine_returns_the_same_result_shape(nli_tagger, seed_text):
    assert nli_tagger.backend.kind == "nli"
    [result] = nli_tagger.tag([seed_text], ["economy", "sports", "COP29"], threshold=0.0)
    assert sorted(t.label for t in result.topics) == ["COP29", "economy", "sports"]
    for topic in result.topics:
        assert 0.0 <= topic.score <= 1.0
        assert topic.evidence
        for ev in topic.evidence:
            assert seed_text[ev.start:ev.end] == ev.text


def test_nli_single_label_and_taxonomy(nli_tagger):
    [result] = nli_tagger.tag(["Short text about trade."], taxonomy="iptc-top", multi_label=False)
    assert len(result.topics) == 1 and result.topics[0].code


def test_nli_scores_match_the_pipeline_on_a_one_window_text(nli_tagger):
    text = "The minister discussed the economy."
    [result] = nli_tagger.tag([text], ["economy", "sports"], threshold=0.0, evidence=False)
    expected = nli_tagger.backend.pipe(text, candidate_labels=["economy", "sports"],
                                       hypothesis_template="This article is about {}.", multi_label=True)
    got = {t.label: t.score for t in result.topics}
    for label, score in zip(expected["labels"], expected["scores"], strict=True):
        assert got[label] == pytest.approx(score, abs=1e-4)


def test_a_model_that_is_not_nli_is_refused(tiny_model_dir):
    with pytest.raises(ModelLoadError):
        settings = Settings.from_env({"NEWSTAG_ENGINE": "nli", "NEWSTAG_NLI_MODEL": str(tiny_model_dir)})
        Tagger.load(settings.engine_options())
