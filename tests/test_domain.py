"""A fine-tuned single-label model says "none of these" to texts unlike all its labels."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from service.config import Settings
from service.engine import Tagger
from service.engine.classifier import ClassifierBackend
from service.engine.classifier_dir import read_classifier_dir
from service.engine.domain import DOMAIN_FILE, MIN_VALIDATION, Domain, document_vector
from service.engine.taxonomy import TaxonomyRegistry
from service.errors import ModelLoadError
from tests.conftest import TRAIN_SMALL


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_fit_takes_centroids_by_label_and_a_validation_quantile():
    rng = np.random.default_rng(0)
    a, b = np.eye(8)[0], np.eye(8)[1]
    train = _unit(np.vstack([a + 0.1 * rng.standard_normal((20, 8)), b + 0.1 * rng.standard_normal((20, 8))]))
    validation = _unit(np.vstack([a + 0.1 * rng.standard_normal((50, 8)), b + 0.1 * rng.standard_normal((50, 8))]))
    domain = Domain.fit(train, [0] * 20 + [1] * 20, 2, validation)
    assert domain.centroids @ a == pytest.approx([1.0, 0.0], abs=0.05)
    nearest = (validation @ domain.centroids.T).max(axis=1)
    assert np.mean(nearest >= domain.threshold) == pytest.approx(0.98, abs=0.011)
    assert domain.contains(a[None, :] + 0.05) and not domain.contains(np.eye(8)[5][None, :])
    assert document_vector(np.vstack([a, b])) == pytest.approx(_unit((a + b)[None, :])[0])


def _cluster(rng: np.random.Generator, n: int) -> tuple[np.ndarray, list[int]]:
    """``n`` unit vectors around each of two directions, with their labels."""
    a, b = np.eye(16)[0], np.eye(16)[1]
    return _unit(np.vstack([a + 0.3 * rng.standard_normal((n, 16)), b + 0.3 * rng.standard_normal((n, 16))])), \
        [0] * n + [1] * n


def _passes(domain: Domain, vectors: np.ndarray) -> float:
    """The share of unit vectors the domain calls in domain."""
    return float(np.mean((vectors @ domain.centroids.T).max(axis=1) >= domain.threshold))


def test_a_small_validation_split_is_helped_by_the_training_articles_left_out():
    rng = np.random.default_rng(1)
    train, labels = _cluster(rng, 20)
    fresh, _ = _cluster(rng, 500)  # new in-domain articles
    # 4 validation articles that happen to sit near their centroids: a cut-off fitted on them
    # alone is their minimum, and calls many new in-domain articles out of domain.
    nearest = (fresh @ Domain.fit(train, labels, 2, fresh).centroids.T).max(axis=1)
    validation = fresh[np.argsort(nearest)[-4:]]
    alone = Domain.fit(train, labels, 2, validation)
    helped = Domain.fit(train, labels, 2, validation, unseen_train=True)
    assert _passes(alone, fresh) < 0.1
    assert _passes(helped, fresh) > 0.9
    np.testing.assert_array_equal(helped.centroids, alone.centroids)


def test_a_large_validation_split_or_a_learnt_encoder_keeps_the_validation_cut_off():
    rng = np.random.default_rng(2)
    train, labels = _cluster(rng, 20)
    validation, _ = _cluster(rng, MIN_VALIDATION // 2)  # MIN_VALIDATION articles: enough alone
    assert len(validation) == MIN_VALIDATION
    plain = Domain.fit(train, labels, 2, validation)
    assert Domain.fit(train, labels, 2, validation, unseen_train=True).threshold == plain.threshold
    few = validation[:4]
    assert Domain.fit(train, labels, 2, few).threshold != Domain.fit(train, labels, 2, few, unseen_train=True).threshold


def test_a_training_article_is_scored_without_itself_in_its_centroid():
    a, b, c = _unit(np.array([[1.0, 0.2, 0.0], [1.0, -0.2, 0.0], [0.0, 0.0, 1.0]]))
    train = np.vstack([a, b, c])
    # b alone makes label 0's centroid for a, and a for b; c is its label's only article: left out.
    domain = Domain.fit(train, [0, 0, 1], 2, np.empty((0, 3)), unseen_train=True)
    assert domain.threshold == pytest.approx(float(a @ b))
    # With itself in, the centroid would flatter it: the cosine to the mean of a and b is higher.
    assert float(a @ document_vector(np.vstack([a, b]))) > float(a @ b)


@pytest.fixture(scope="module")
def single_label_dir(tmp_path_factory):
    """A single-label classifier (head mode, real encoder) on the seeds' single-label rows."""
    from training.finetune import main

    tmp = tmp_path_factory.mktemp("single")
    data = tmp / "single.jsonl"
    rows = [line for line in TRAIN_SMALL.read_text().splitlines() if len(json.loads(line)["labels"]) == 1]
    data.write_text("\n".join(rows) + "\n")
    target = tmp / "desks"
    assert main(["--train", str(data), "--output", str(target), "--mode", "head", "--epochs", "30",
                 "--seed", "7"]) == 0
    return target


def _tagger(directory) -> Tagger:
    options = Settings.from_env(None).engine_options().tagger
    return Tagger(ClassifierBackend.load(directory), TaxonomyRegistry([]), options)


def test_a_single_label_model_answers_none_of_these_outside_its_labels(single_label_dir):
    manifest = json.loads((single_label_dir / "newstag.json").read_text())
    assert manifest["multi_label"] is False and DOMAIN_FILE in manifest["sha256"]
    tagger = _tagger(single_label_dir)
    inside = ["The central bank raised interest rates again to fight inflation.",
              "The striker scored twice in the cup final.",
              "Doctors warn that flu cases are rising this winter."]
    results = tagger.tag(inside)
    assert [r.topics[0].label for r in results] == ["economy", "sport", "health"]
    assert all(not r.warnings for r in results)
    outside = ["def main():\n    print('hello world')\n    return 0",
               "Quick pickled onions: thinly slice a red onion, pack it into a jar and cover with hot vinegar.",
               "Knit two, purl two, and repeat to the end of the row.",
               "The new smartphone has a faster chip and a better camera."]
    results = tagger.tag(outside)
    assert [r.topics for r in results] == [()] * len(outside)
    # Saying why: no topics and no warning read as a model that found nothing it knew.
    assert [[w.code for w in r.warnings] for r in results] == [["outside-model-domain"]] * len(outside)
    # A single-label call gets the label the model leans to, by its own score: with every score
    # 0 it was the first label for every text ("business" for a cookie banner and a swimmer alike).
    for text, single in zip(outside, tagger.tag(outside, multi_label=False), strict=True):
        [topic] = single.topics
        [scores] = tagger.backend.score([tagger.backend.prepare(text)], list(tagger.backend.labels))
        assert topic.score > 0 and topic.label == tagger.backend.labels[int(scores.label_scores.argmax())].name
        assert "outside-model-domain" in [w.code for w in single.warnings]


def test_the_domain_file_is_checked_like_the_weights(single_label_dir, tmp_path):
    tampered = shutil.copytree(single_label_dir, tmp_path / "tampered")
    domain = read_classifier_dir(tampered).domain
    assert domain is not None
    Domain(domain.centroids, -1.0).save(tampered)  # a threshold that lets everything through
    with pytest.raises(ModelLoadError, match="SHA-256"):
        read_classifier_dir(tampered)
    (tampered / DOMAIN_FILE).unlink()
    with pytest.raises(ModelLoadError, match="missing"):
        read_classifier_dir(tampered)


def test_a_multi_label_model_has_no_domain(trained_model_dir):
    assert not (trained_model_dir / DOMAIN_FILE).exists()
    assert read_classifier_dir(trained_model_dir).domain is None
