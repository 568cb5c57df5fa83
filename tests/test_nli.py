"""The NLI engine on tiny NLI models: random ones for mechanics, rigged heads for the arithmetic."""

from __future__ import annotations

import itertools
import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from service.config import Settings
from service.engine import ModelLoadError, Tagger
from service.engine.nli_backend import NLIBackend
from service.engine.sentence_support import SentenceScores
from service.engine.types import Label
from service.errors import ConfigError, DeadlineExceeded


@pytest.fixture()
def pairs(nli_tagger, monkeypatch) -> list[int]:
    """(premise, hypothesis) pairs the NLI model reads, one count per call, while the test runs."""
    counts: list[int] = []
    original = nli_tagger.backend.entailment

    def counting(premises, names, deadline=None):
        counts.append(len(premises) * len(names))
        return original(premises, names, deadline)

    monkeypatch.setattr(nli_tagger.backend, "entailment", counting)
    return counts


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


def test_nli_scores_match_transformers_pipeline_on_a_one_window_text(nli_tagger, tiny_nli_dir):
    """The engine reads pairs itself (for deadlines and pair-wise evidence): the same scores as the pipeline."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    text = "The minister discussed the economy."
    [result] = nli_tagger.tag([text], ["economy", "sports"], threshold=0.0, evidence=False)
    pipe = pipeline("zero-shot-classification", device=-1,
                    model=AutoModelForSequenceClassification.from_pretrained(tiny_nli_dir),
                    tokenizer=AutoTokenizer.from_pretrained(tiny_nli_dir))
    expected = pipe(text, candidate_labels=["economy", "sports"], hypothesis_template="This article is about {}.",
                    multi_label=True)
    got = {t.label: t.score for t in result.topics}
    for label, score in zip(expected["labels"], expected["scores"], strict=True):
        assert got[label] == pytest.approx(score, abs=1e-4)


def rigged_nli_dir(root: Path, order: list[str], logits: dict[str, float]) -> Path:
    """A tiny NLI model whose head answers ``logits`` (by class name) whatever the input."""
    from transformers import BertForSequenceClassification

    from tests.conftest import _save_tokenizer, _tiny_config

    target = root / "-".join(order)
    config = _tiny_config(num_labels=len(order), id2label=dict(enumerate(order)),
                          label2id={name: i for i, name in enumerate(order)})
    model = BertForSequenceClassification(config)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([logits[name] for name in order]))
    model.save_pretrained(target, safe_serialization=True)
    _save_tokenizer(target)
    return target


@pytest.mark.parametrize("order", [list(p) for p in itertools.permutations(["entailment", "neutral", "contradiction"])]
                         + [["ENTAILMENT", "NEUTRAL", "CONTRADICTION"]])
def test_entailment_is_weighed_against_contradiction_in_any_class_order(tmp_path, order):
    """transformers' pipeline takes contradiction to be the first or last class: in the two other
    orders it weighed entailment against neutral (0.50 where 0.007 is right), unsaid."""
    logits = {name: {"entailment": 0.0, "neutral": 0.0, "contradiction": 5.0}[name.lower()] for name in order}
    backend = NLIBackend(rigged_nli_dir(tmp_path, order, logits), "This article is about {}.")
    assert backend.entailment(["The central bank raised rates."], ["economy"])[0, 0] == pytest.approx(
        1 / (1 + math.exp(5.0)), abs=1e-4)


def test_two_class_models_work_and_unreadable_classes_are_refused(tmp_path):
    two = rigged_nli_dir(tmp_path, ["not_entailment", "entailment"], {"not_entailment": 0.0, "entailment": 2.0})
    assert NLIBackend(two, "{}").entailment(["x"], ["y"])[0, 0] == pytest.approx(1 / (1 + math.exp(-2.0)), abs=1e-4)
    three = rigged_nli_dir(tmp_path, ["entailment", "neutral", "other"], {"entailment": 0, "neutral": 0, "other": 0})
    with pytest.raises(ModelLoadError, match="cannot tell which class is contradiction"):
        NLIBackend(three, "{}")


def test_a_checkpoint_without_its_classification_head_is_refused(tmp_path, tiny_nli_dir):
    """transformers fills a missing head at random: each worker would have scored differently."""
    from transformers import AutoConfig, BertModel

    from tests.conftest import _save_tokenizer

    headless = tmp_path / "headless"
    BertModel(AutoConfig.from_pretrained(tiny_nli_dir)).save_pretrained(headless, safe_serialization=True)
    _save_tokenizer(headless)
    with pytest.raises(ModelLoadError, match="its architecture is BertModel"):
        NLIBackend(headless, "{}")
    # The same weights under a config that claims the classifier.
    config = json.loads((headless / "config.json").read_text())
    (headless / "config.json").write_text(json.dumps({**config, "architectures": ["BertForSequenceClassification"]}))
    with pytest.raises(ModelLoadError, match="lacks weights its architecture needs.*classifier"):
        NLIBackend(headless, "{}")


def test_the_request_deadline_holds_for_nli(nli_tagger, seed_text):
    """The deadline was dropped: a 20,000-character text with 100 labels answered after 173 s."""
    with pytest.raises(DeadlineExceeded):
        nli_tagger.tag([seed_text], ["economy", "sports"], deadline=time.monotonic() - 1)


def test_sentences_alone_are_read_only_against_the_labels_they_are_candidates_for(nli_tagger, pairs, seed_text):
    """Each candidate sentence was read against every label: 2 x 35 passes for the news taxonomy's
    evidence where 2 were used."""
    labels = [Label(name) for name in ("economy", "sports", "COP29", "weather")]
    alone = SentenceScores(nli_tagger.backend, labels)
    alone.compute({"Rates rose again.": [1], "It rained.": [0, 3]})
    assert sum(pairs) == 3
    assert np.isnan(alone["Rates rose again."][0]) and 0 <= alone["Rates rose again."][1] <= 1
    alone.compute({"Rates rose again.": [1, 2]})  # only the pair not read yet
    assert sum(pairs) == 4
    [result] = nli_tagger.tag([seed_text], taxonomy="news", multi_label=False)
    assert result.topics and all(seed_text[e.start:e.end] == e.text for e in result.topics[0].evidence)


def test_a_model_in_half_precision_says_so(tmp_path, tiny_nli_dir):
    from transformers import AutoModelForSequenceClassification

    from tests.conftest import _save_tokenizer

    AutoModelForSequenceClassification.from_pretrained(tiny_nli_dir).half().save_pretrained(tmp_path / "fp16")
    _save_tokenizer(tmp_path / "fp16")
    assert NLIBackend(tmp_path / "fp16", "{}").precision == "fp16"


def test_windows_too_small_for_the_hypothesis_are_refused(tiny_nli_dir):
    """NEWSTAG_MAX_TOKENS=40 left the article one token a window: evidence 'ssi', a piece of a word."""
    with pytest.raises(ModelLoadError, match="at least 64"):
        NLIBackend(tiny_nli_dir, "{}", max_tokens=40)
    assert NLIBackend(tiny_nli_dir, "{}", max_tokens=64).max_tokens == 16


@pytest.mark.parametrize("template", ["This is about {} in {region}.", "Topic: {} }", "Topic: {}%s {0}",
                                      "This is about {{}}.", "No slot."])
def test_hypotheses_that_cannot_hold_the_label_once_are_refused_at_start(template):
    with pytest.raises(ConfigError, match="NEWSTAG_NLI_HYPOTHESIS"):
        Settings.from_env({"NEWSTAG_NLI_HYPOTHESIS": template})
    Settings.from_env({"NEWSTAG_NLI_HYPOTHESIS": "{{Breaking}} This is about {}."})  # literal braces, doubled


def test_the_server_refuses_to_start_on_a_model_that_is_not_an_nli_classifier(tiny_model_dir, tmp_path):
    """It started and stayed "not ready" forever."""
    from service.preflight import check_startup

    with pytest.raises(ModelLoadError, match="not an NLI model"):
        check_startup(Settings.from_env({"NEWSTAG_ENGINE": "nli", "NEWSTAG_NLI_MODEL": str(tiny_model_dir),
                                         "NEWSTAG_MULTILINGUAL_MODEL": "off"}))


def test_a_model_that_is_not_nli_is_refused(tiny_model_dir):
    with pytest.raises(ModelLoadError):
        settings = Settings.from_env({"NEWSTAG_ENGINE": "nli", "NEWSTAG_NLI_MODEL": str(tiny_model_dir)})
        Tagger.load(settings.engine_options())


def test_the_same_text_twice_in_one_call_is_read_once(nli_tagger, pairs):
    once = nli_tagger.tag(["Rates rose."], ["economy", "sports"], evidence=False)
    read_once = sum(pairs)
    pairs.clear()
    thrice = nli_tagger.tag(["Rates rose."] * 3, ["economy", "sports"], evidence=False)
    assert sum(pairs) == read_once and all(r.topics == once[0].topics for r in thrice)
