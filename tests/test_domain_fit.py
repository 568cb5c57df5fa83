"""The single-label domain reuses the frozen encoder's pass (head and hybrid modes) instead of a second one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from service.engine.chunking import prepare_document
from service.engine.domain import MIN_VALIDATION, Domain
from service.engine.encoder import SentenceEncoder
from tests.conftest import TRAIN_SMALL
from training.data import Example, read_labeled, split_validation
from training.domain_fit import EncodedArticles, fit_domain
from training.finetune import main


@pytest.fixture(scope="module")
def single_label_data(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("single") / "single.jsonl"
    rows = [line for line in TRAIN_SMALL.read_text().splitlines() if len(json.loads(line)["labels"]) == 1]
    data.write_text("\n".join(rows) + "\n")
    return data


def _count_encoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every document the encoder embeds, whoever asks (frozen pass or domain fit), is counted."""
    counted: list[int] = []
    original = SentenceEncoder._encode_documents

    def counting(self, docs, deadline):
        counted.append(len(docs))
        return original(self, docs, deadline)

    monkeypatch.setattr(SentenceEncoder, "_encode_documents", counting)
    return counted


def _assert_same_domain(a: Domain, b: Domain) -> None:
    np.testing.assert_allclose(a.centroids, b.centroids, atol=1e-6)
    assert a.threshold == pytest.approx(b.threshold, abs=1e-6)


@pytest.mark.parametrize("mode", ["hybrid", "head"])
def test_a_frozen_mode_embeds_each_article_once_and_keeps_the_same_domain(
        single_label_data, tiny_model_dir, tmp_path, monkeypatch, mode):
    counted = _count_encoded(monkeypatch)
    output = tmp_path / mode
    assert main(["--train", str(single_label_data), "--output", str(output), "--base", str(tiny_model_dir),
                 "--mode", mode, "--epochs", "2", "--max-length", "64", "--validation-split", "0.3",
                 "--seed", "3"]) == 0
    examples = read_labeled(single_label_data)
    assert sum(counted) == len(examples)  # the frozen pass only: the domain read nothing again
    assert "at_least_one" not in json.loads((output / "labels.json").read_text())  # single-label: one label anyway
    train, validation = split_validation(examples, 0.3, 3)
    labels = sorted({x for e in examples for x in e.labels})
    saved = Domain.load(output, len(labels), 32)
    assert saved is not None
    # The domain as it was fitted before: every article read again by the saved model's encoder.
    # The encoder never learnt the training articles, and the validation split is small: they count too.
    assert len(validation) < MIN_VALIDATION
    _assert_same_domain(saved, fit_domain(output, 64, train, validation, labels, seed=3, unseen_train=True))
    assert sum(counted) > len(examples)
    assert saved.threshold != pytest.approx(fit_domain(output, 64, train, validation, labels, seed=3).threshold)


@pytest.mark.parametrize("mode, tuning", [
    pytest.param("full", [], id="full"),
    pytest.param("head", ["--contrastive", "on", "--contrastive-pairs", "32"], id="head-contrastive"),
    pytest.param("hybrid", ["--contrastive", "on", "--contrastive-pairs", "32"], id="hybrid-contrastive"),
])
def test_a_learnt_encoder_fits_the_domain_on_validation_alone(single_label_data, tiny_model_dir, tmp_path,
                                                              mode, tuning):
    """A fine-tuned or contrastively tuned encoder learnt its training articles: they would look
    closer to their centroids than a new article does, so they are no evidence for the cut-off,
    however small the validation split."""
    output = tmp_path / mode
    assert main(["--train", str(single_label_data), "--output", str(output), "--base", str(tiny_model_dir),
                 "--mode", mode, "--epochs", "1", "--max-length", "64", "--validation-split", "0.3",
                 "--seed", "3", *tuning]) == 0
    assert ("contrastive" in json.loads((output / "newstag.json").read_text())) == bool(tuning)
    examples = read_labeled(single_label_data)
    train, validation = split_validation(examples, 0.3, 3)
    assert len(validation) < MIN_VALIDATION  # small enough that a frozen encoder's training articles would count
    labels = sorted({x for e in examples for x in e.labels})
    saved = Domain.load(output, len(labels), 32)
    assert saved is not None
    _assert_same_domain(saved, fit_domain(output, 64, train, validation, labels, seed=3))
    # Counting the training articles would have moved the cut-off: the check above tells the two apart.
    assert saved.threshold != pytest.approx(
        fit_domain(output, 64, train, validation, labels, seed=3, unseen_train=True).threshold, abs=1e-6)


def _known(encoder: SentenceEncoder, examples: list[Example], prompt: str,
           rng: np.random.Generator) -> EncodedArticles:
    """Windows cut as training cuts them (after ``prompt``), with made-up unit vectors (so reuse shows)."""
    docs = [prepare_document(e.text, encoder.tokenizer, 64, prompt=prompt) for e in examples]
    vectors = [rng.standard_normal((len(d.windows), 32)).astype(np.float32) for d in docs]
    return EncodedArticles(docs, [v / np.linalg.norm(v, axis=1, keepdims=True) for v in vectors])


def test_known_vectors_are_used_only_for_articles_with_the_same_windows(single_label_data, tiny_model_dir):
    examples = read_labeled(single_label_data)
    train, validation = split_validation(examples, 0.3, 3)
    labels = sorted({x for e in examples for x in e.labels})
    encoder = SentenceEncoder(tiny_model_dir, max_tokens=64)
    rng = np.random.default_rng(0)
    read_again = fit_domain(tiny_model_dir, 64, train, validation, labels, seed=3)
    # Same windows: the made-up vectors are taken as they are, so the domain is theirs.
    same = (_known(encoder, train, "", rng), _known(encoder, validation, "", rng))
    reused = fit_domain(tiny_model_dir, 64, train, validation, labels, seed=3, known=same)
    assert not np.allclose(reused.centroids, read_again.centroids, atol=1e-3)
    # Other windows (a base whose encoder reads a prompt training did not): not the saved model's reading.
    prompt = "title: none | text: "
    other = (_known(encoder, train, prompt, rng), _known(encoder, validation, prompt, rng))
    assert all(a != b for a, b in zip(other[0].docs + other[1].docs, same[0].docs + same[1].docs, strict=True))
    _assert_same_domain(fit_domain(tiny_model_dir, 64, train, validation, labels, seed=3, known=other), read_again)
