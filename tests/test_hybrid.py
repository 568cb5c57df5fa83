"""The hybrid recipe: TF-IDF rebuilt without scikit-learn, per-label thresholds with a
fallback, a model directory without pickles, and served scores equal to training's."""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer

from service.engine.classifier import ClassifierBackend, probabilities
from service.engine.classifier_dir import read_classifier_dir
from service.engine.encoder import SentenceEncoder
from service.engine.lexical import TfidfSpec
from tests.conftest import TRAIN_SMALL
from training.data import read_labeled
from training.finetune import main
from training.hybrid import (
    HybridSettings,
    article_vectors,
    choose_mix,
    out_of_fold_logits,
    out_of_fold_quality,
    targets_matrix,
    train_hybrid,
)
from training.metrics import classification_report
from training.probe import frozen_windows, label_name_vectors
from training.thresholds import calibrate_with_fallback, mean_thresholds

TEXTS = ["Central bank raises interest rates; inflation eases.", "The striker scored twice in the cup final!",
         "Rates, rates and more RATES: the bank's inflation call.", "Über café naïve — unicode_words 42 x",
         "bank bank bank of the final", ""]


def test_the_served_tfidf_is_scikit_learns():
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1).fit(TEXTS[:4])
    vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    spec = TfidfSpec(tuple(vocabulary), vectorizer.idf_)
    expected = vectorizer.transform(TEXTS).toarray()
    for text, row in zip(TEXTS, expected, strict=True):
        dense = np.zeros(len(vocabulary))
        columns, values = spec.transform(text)
        dense[columns] = values
        np.testing.assert_allclose(dense, row, atol=1e-12)


def test_rare_labels_keep_the_fallback_threshold():
    scores = np.array([[0.9, 0.2], [0.8, 0.9], [0.3, 0.1], [0.1, 0.05], [0.7, 0.3]])
    truth = np.array([[1, 0], [1, 1], [0, 0], [0, 0], [1, 0]])
    fitted = calibrate_with_fallback(scores, truth, min_positives=3)
    assert 0.3 < fitted.values[0] <= 0.7  # three positives: fitted between the classes
    assert fitted.values[1] == 0.5  # one positive: too rare to calibrate (multi-label: the sigmoid's midpoint)
    assert fitted.rare() == [1] and fitted.support == [3, 1]
    assert calibrate_with_fallback(scores, truth, min_positives=1).values[1] != 0.5


def test_a_single_label_models_rare_labels_get_the_median_of_the_fitted_thresholds():
    """A 5-way softmax over SVM margins fits thresholds of 0.2-0.3: a rare label's 0.5 left new
    BBC articles of it with no topic (docs/training.md, "Thresholds of rare labels")."""
    rng = np.random.default_rng(0)
    truth = np.zeros((60, 3), dtype=int)
    truth[np.arange(60), np.r_[[0] * 28, [1] * 28, [2] * 4]] = 1
    scores = np.clip(0.2 + 0.3 * truth + rng.normal(0, 0.05, truth.shape), 0.01, 0.99)
    fitted = calibrate_with_fallback(scores, truth, min_positives=5, multi_label=False)
    assert fitted.rare() == [2]
    assert fitted.values[2] == fitted.fallback.value == pytest.approx(np.median(fitted.values[:2]), abs=1e-4)
    assert fitted.values[2] < 0.5


def test_too_few_articles_to_fit_out_of_fold_still_count_each_labels_articles():
    """Five training articles (under two per fold) take the fallback path, whose record said
    every label had 0 articles: the warning, newstag.json and the model card said so too."""
    texts = ["Rates rose again.", "The bank cut rates.", "Inflation eased.", "The striker scored.", "A cup final win."]
    targets = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 1]])
    embeddings = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    _, thresholds = train_hybrid(texts, embeddings, targets, False, HybridSettings(min_df=1), seed=0)
    assert thresholds.support == [3, 2]


@pytest.fixture(scope="module")
def hybrid_dir(tiny_model_dir: Path, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("hybrid") / "desk-hybrid"
    assert main(["--train", str(TRAIN_SMALL), "--output", str(output), "--base", str(tiny_model_dir),
                 "--max-length", "64", "--seed", "3"]) == 0  # hybrid is the default mode
    return output


def test_the_hybrid_model_directory_has_no_pickles(hybrid_dir: Path):
    names = {p.name for p in hybrid_dir.iterdir()}
    assert {"head.safetensors", "lexical.safetensors", "lexical.json", "labels.json", "README.md"} <= names
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pkl", ".pth", ".joblib", ".npy", ".npz"))]
    manifest = json.loads((hybrid_dir / "newstag.json").read_text())
    assert manifest["head"] == "hybrid" and manifest["mode"] == "hybrid"
    assert {"lexical.safetensors", "lexical.json"} <= set(manifest["sha256"])
    card = (hybrid_dir / "README.md").read_text()
    assert "hybrid" in card and "| climate |" in card  # the recipe and each label's threshold
    assert "best-scoring label" in card  # multi-label: at least one label (labels.json, at_least_one)
    assert ("3 folds of all training and validation rows, the mean of the cuts on 3 draws of the folds"
            in " ".join(card.split()))  # refit on every row once the validation split was scored
    assert "Epochs" not in card and "learning rate" not in card  # the SVMs had neither
    # The fallback named only when a label keeps it (it read as if one did when none had fewer than 5).
    support = manifest["thresholds"]["support"]
    rare = [name for name, n in support.items() if n < 5]
    flat = " ".join(card.split())
    assert (f"(`labels.json`): {', '.join(rare)}." in flat if rare
            else "every label had at least 5 training articles, so none keeps the fallback" in flat)
    rows = json.loads((hybrid_dir / "metrics.json").read_text()).get("examples")
    trained = manifest["training_data"]["rows"] - (rows or 0)
    assert "rows trained on" in card and f"SHA-256 `{manifest['training_data']['sha256']}`" in card
    assert rows is None or f"{trained} rows trained on" in card  # the split's rows, not the file's
    # the label-name feature, chosen out of fold: named with its scale, or as left out
    assert ("similarity to the label's own name (scaled by 3, chosen among 0 and 3 by out-of-fold quality" in card
            or "tried as a further feature, was left out by out-of-fold quality" in card)


def test_a_refit_model_serves_every_row_and_reports_the_validation_figures_of_the_model_before_it(
        hybrid_dir: Path, tiny_model_dir: Path, tmp_path: Path):
    """Default: once the validation split is scored, the served model is fitted again on all 40 rows;
    with --refit off it is the model of the 36 training rows. The validation figures are the same."""
    kept = tmp_path / "desk-no-refit"
    assert main(["--train", str(TRAIN_SMALL), "--output", str(kept), "--base", str(tiny_model_dir),
                 "--max-length", "64", "--seed", "3", "--refit", "off"]) == 0
    refit_metrics = json.loads((hybrid_dir / "metrics.json").read_text())
    assert refit_metrics == json.loads((kept / "metrics.json").read_text())
    assert refit_metrics["examples"] == 4
    examples = read_labeled(TRAIN_SMALL)
    every_row = {x: sum(x in e.labels for e in examples) for e in examples for x in e.labels}
    refit = json.loads((hybrid_dir / "newstag.json").read_text())["thresholds"]["support"]
    assert refit == every_row  # each label's training articles: validation's too
    trained = json.loads((kept / "newstag.json").read_text())["thresholds"]["support"]
    assert sum(trained.values()) < sum(refit.values()) and all(trained[x] <= refit[x] for x in refit)
    assert json.loads((hybrid_dir / "labels.json").read_text())["thresholds"] != json.loads(
        (kept / "labels.json").read_text())["thresholds"]
    card, kept_card = (" ".join((d / "README.md").read_text().split()) for d in (hybrid_dir, kept))
    assert "fitted again on all 40 rows at the settings that model chose" in card
    assert "Scored by the model before its refit" in card and "(40 training rows from" in card
    assert "again" not in kept_card and "(36 training rows from" in kept_card
    assert "3 folds of the training split" in kept_card
    assert json.loads((hybrid_dir / "newstag.json").read_text())["refit_rows"] == 40
    assert "refit_rows" not in json.loads((kept / "newstag.json").read_text())
    from training.evaluate import trained_on_warning  # evaluating on the training file: how much of it trained
    assert "every one of its rows trained the model" in (trained_on_warning(TRAIN_SMALL, str(hybrid_dir)) or "")
    assert "all of its rows but the validation split" in (trained_on_warning(TRAIN_SMALL, str(kept)) or "")


def test_the_card_of_a_model_too_small_to_score_out_of_fold_says_nothing_was_chosen(tiny_model_dir: Path,
                                                                                  tmp_path: Path):
    """Five training articles: the recipe took its fixed settings and the fallback, and the card said each
    was "chosen ... by out-of-fold quality"; a --label-prior given read "scaled by 3,;"."""
    rows = [{"text": f"Rates rose {i} points at the bank.", "labels": ["economy"]} for i in range(3)]
    rows += [{"text": f"The striker scored {i} goals.", "labels": ["sport"]} for i in range(3)]
    data = tmp_path / "six.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    output = tmp_path / "tiny-desk"
    assert main(["--train", str(data), "--output", str(output), "--base", str(tiny_model_dir), "--max-length", "64",
                 "--label-prior", "3"]) == 0
    card = " ".join((output / "README.md").read_text().split())
    assert "Not fitted: 5 training articles are too few for 3 folds of two, so nothing was scored out of fold" in card
    assert "by out-of-fold quality" not in card and "chosen among" not in card
    assert "(scaled by 3; folded into `head.safetensors`)" in card


def test_a_tampered_lexical_file_is_refused(hybrid_dir: Path, tmp_path: Path):
    import shutil

    from service.errors import ModelLoadError

    copy = tmp_path / "copy"
    shutil.copytree(hybrid_dir, copy)
    (copy / "lexical.json").write_text((copy / "lexical.json").read_text() + " ")
    with pytest.raises(ModelLoadError, match="SHA-256"):
        read_classifier_dir(copy)


def test_served_scores_equal_training_time_scores(tiny_model_dir: Path, tmp_path: Path):
    """Train in-process, save as finetune does, load as the service does: same probabilities."""
    from collections import Counter

    import torch
    from transformers import AutoModel, AutoTokenizer

    from service.engine.classifier_dir import HYBRID
    from training.export import write_model_dir
    from training.model import WindowClassifier

    examples = read_labeled(TRAIN_SMALL)
    labels = sorted({x for e in examples for x in e.labels})
    encoder = SentenceEncoder(tiny_model_dir, max_tokens=64)
    docs = [encoder.prepare(e.text) for e in examples]
    vectors = article_vectors(frozen_windows(tiny_model_dir, 64, {"all": docs})["all"])
    model, thresholds = train_hybrid([e.text for e in examples], vectors, targets_matrix(examples, labels),
                                     True, HybridSettings(), seed=0,
                                     label_vectors=label_name_vectors(tiny_model_dir, 64, labels))
    expected = probabilities(model.logits([e.text for e in examples[:5]], vectors[:5]), True)

    window = WindowClassifier(AutoModel.from_pretrained(tiny_model_dir), vectors.shape[1], len(labels))
    with torch.no_grad():
        window.head.weight.copy_(torch.from_numpy(model.embedding_weight))
        window.head.bias.copy_(torch.from_numpy(model.bias))
    output = tmp_path / "model"
    write_model_dir(output, window, AutoTokenizer.from_pretrained(tiny_model_dir), labels, thresholds.values, True,
                    {"micro_f1": 0.0}, {"max_tokens": 64, "head": HYBRID}, "card", {"labels": dict(Counter())},
                    lexical=model.lexical)
    backend = ClassifierBackend.load(output)
    served = backend.score([backend.prepare(e.text) for e in examples[:5]], list(backend.labels))
    np.testing.assert_allclose(np.stack([s.label_scores for s in served]), expected, atol=1e-5)
    assert all(s.sentence_scores([0]).shape[1] == 1 for s in served)


def test_few_shot_samples_are_nested_capped_and_disjoint_from_evaluation():
    from bench.few_shot import samples
    from bench.few_shot_table import markdown_table
    from training.data import Example

    examples = [Example(f"text {i}", ("big" if i % 4 else "small",)) for i in range(200)]  # small: 50 rows
    train, evaluation = samples(examples, [8, 16, 32, 64], seed=0, eval_max=40)
    assert set(train[8]) <= set(train[16]) <= set(train[32]) <= set(train[64])
    assert sum(examples[i].labels == ("small",) for i in train[64]) == 25  # at most half a label's rows
    assert len(evaluation) == 40 and not set(evaluation) & set(train[64])
    assert samples(examples, [8, 16, 32, 64], seed=0, eval_max=40) == (train, evaluation)  # seeded
    run = {"seed": 0, "eval_rows": 40, "zero_shot": {"macro_f1": 0.5},
           "shots": {str(k): {"macro_f1": 0.4 + k / 100} for k in (8, 16, 32, 64)}}
    table = markdown_table([{"set": "toy", "labels": 2, "runs": [run]}], [8, 16, 32, 64])
    assert "| toy | 2 | 40 | 0.480 | 0.560 | 0.720 | 1.040 | 0.500 | 16 |" in table


def test_few_shot_vector_cache_reads_with_the_base_it_names_and_keeps_one_file_per_base(tiny_model_dir, tmp_path):
    from bench.few_shot import VectorCache

    data = tmp_path / "set.jsonl"
    rows = [{"text": f"Article {i} about trade.", "labels": ["a"]} for i in range(5)]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    examples = read_labeled(data)
    tiny = VectorCache(tmp_path / "cache", data, tiny_model_dir)
    vectors = tiny.get(examples, [0, 2, 4], chunk=2)
    assert vectors.shape == (3, 32)  # the tiny model's width, not the embedded model's 384
    assert tiny_model_dir.name in tiny.path.name and tiny.path.is_file()
    reread = VectorCache(tmp_path / "cache", data, tiny_model_dir)
    np.testing.assert_array_equal(reread.get(examples, [0, 2, 4]), vectors)
    assert reread.encoder is None  # from the file, no encoder pass
    assert VectorCache(tmp_path / "cache", data).path != tiny.path  # the embedded model's vectors kept apart


def test_few_shot_contrastive_column_trains_and_scores_a_tuned_copy_of_the_base(tiny_model_dir):
    from bench.few_shot import tuned_scores
    from training.data import Example

    examples = [Example(f"The {w} match ended in a draw on {d}.", ("sport",)) for w, d in
                [("football", "Monday"), ("rugby", "Tuesday"), ("cricket", "Friday"), ("hockey", "Sunday")]]
    examples += [Example(f"Shares in {c} rose after its {d} results.", ("business",)) for c, d in
                 [("the bank", "annual"), ("the carmaker", "quarterly"), ("the airline", "half-year"),
                  ("the retailer", "first")]]
    before = {k: v.clone() for k, v in SentenceEncoder(tiny_model_dir).model.state_dict().items()}
    scores = tuned_scores(examples, [0, 1, 4, 5], [examples[i] for i in (2, 3, 6, 7)], ["business", "sport"],
                          tiny_model_dir, seed=0)
    assert 0.0 <= scores["macro_f1"] <= 1.0 and scores["seconds"] >= 0
    after = SentenceEncoder(tiny_model_dir).model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the base on disk is left as it was


def test_at_least_one_raises_only_the_best_label_of_a_row_with_none():
    from service.engine.classifier import at_least_one

    thresholds = np.array([0.5, 0.3, 0.8])
    probs = np.array([[0.4, 0.2, 0.7], [0.6, 0.1, 0.1], [0.1, 0.25, 0.2]])
    lifted = at_least_one(probs, thresholds)
    np.testing.assert_array_equal(lifted, [[0.4, 0.2, 0.8], [0.6, 0.1, 0.1], [0.1, 0.3, 0.2]])
    np.testing.assert_array_equal(at_least_one(probs[0], thresholds), lifted[0])  # one article
    assert probs[0, 2] == 0.7  # the caller's array is left as it was


def _with_labels_json(source: Path, target: Path, **changes) -> Path:
    import shutil

    shutil.copytree(source, target)
    data = json.loads((target / "labels.json").read_text())
    (target / "labels.json").write_text(json.dumps({**data, **changes}))
    from service.engine.model_files import sha256_of  # the edit is the test's own: its checksum too

    manifest = json.loads((target / "newstag.json").read_text())
    manifest["sha256"]["labels.json"] = sha256_of(target / "labels.json")
    (target / "newstag.json").write_text(json.dumps(manifest))
    return target


def test_a_multi_label_hybrid_model_serves_every_article_a_label(hybrid_dir: Path, tmp_path: Path):
    """Every training article had a label: the served model returns the best one when none reaches its threshold."""
    from service.config import Settings
    from service.engine import Tagger
    from service.engine.taxonomy import TaxonomyRegistry

    saved = json.loads((hybrid_dir / "labels.json").read_text())
    assert saved["multi_label"] is True and saved["at_least_one"] is True
    strict = [0.999] * len(saved["labels"])  # no label of this text reaches these
    options = Settings.from_env(None).engine_options().tagger
    text = "Knit two, purl two, and repeat to the end of the row."
    plain = ClassifierBackend.load(_with_labels_json(hybrid_dir, tmp_path / "plain", thresholds=strict,
                                                     at_least_one=False))
    assert Tagger(plain, TaxonomyRegistry([]), options).tag([text])[0].topics == ()
    best = saved["labels"][int(np.argmax(plain.score([plain.prepare(text)], list(plain.labels))[0].label_scores))]
    lifted = Tagger(ClassifierBackend.load(_with_labels_json(hybrid_dir, tmp_path / "lifted", thresholds=strict)),
                    TaxonomyRegistry([]), options)
    [topic] = lifted.tag([text])[0].topics
    assert topic.label == best and topic.score == 0.999
    others = [x for x in saved["labels"] if x != best]
    assert lifted.tag([text], others)[0].topics == ()  # the best label is not among those asked for


def _topic_data(rng: np.random.Generator, n: int, dim: int, informative: str) -> tuple[list[str], np.ndarray,
                                                                                         np.ndarray]:
    """Three topics; either some of their words or the article vectors say which (the other is noise)."""
    words = {0: "harvest wheat grain", 1: "goal striker match", 2: "rates bank inflation"}
    filler = [f"w{i}" for i in range(300)]
    labels = rng.integers(0, 3, n)
    texts, vectors = [], rng.normal(size=(n, dim)).astype(np.float32)
    for i, y in enumerate(labels):
        noise = list(rng.choice(filler, 12))
        telling = [w for w in words[int(y)].split() if rng.random() < 0.4] if informative == "words" else []
        texts.append(" ".join(telling + noise))
        if informative == "vectors":
            vectors[i, int(y)] += 6.0
    targets = np.eye(3, dtype=np.int64)[labels]
    return texts, vectors / np.linalg.norm(vectors, axis=1, keepdims=True), targets


def test_out_of_fold_quality_is_the_reported_f1():
    labels = ["a", "b", "c"]
    targets = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0]])
    probs = np.array([[0.9, 0.1, 0.2], [0.8, 0.3, 0.1], [0.2, 0.7, 0.4], [0.1, 0.2, 0.3], [0.6, 0.6, 0.1],
                      [0.3, 0.8, 0.2]])
    settings = HybridSettings(min_positives=99, at_least_one=False)  # every threshold 0.5
    predicted = [tuple(x for x, p in zip(labels, row, strict=True) if p >= 0.5) for row in probs]
    report = classification_report([tuple(x for x, t in zip(labels, row, strict=True) if t) for row in targets],
                                   predicted, labels, False)
    assert out_of_fold_quality(probs, targets, True, settings) == pytest.approx(
        (report["micro_f1"] + report["macro_f1"]) / 2)
    single = np.eye(3, dtype=np.int64)[[0, 0, 1, 2, 0, 1]]
    report = classification_report([(labels[j],) for j in single.argmax(1)],
                                    [(labels[j],) for j in probs.argmax(1)], labels, True)
    assert out_of_fold_quality(probs, single, False, settings) == pytest.approx(report["macro_f1"])


@pytest.mark.parametrize("informative", ["words", "vectors"])
def test_the_recipe_keeps_the_article_vector_weight_that_decides_best_out_of_fold(informative: str):
    texts, vectors, targets = _topic_data(np.random.default_rng(5), 90, 64, informative)
    settings = HybridSettings(nb_alpha=0.0)
    chosen, oof, quality = choose_mix(texts, vectors, targets, False, settings, seed=0)  # no names: prior 0
    weight = chosen.embedding_weight
    assert set(quality) == {(w, 0.0, 0.0) for w in settings.embedding_weights} and chosen.label_prior == 0
    assert weight == max(quality, key=lambda c: (quality[c], c[0]))[0]
    assert out_of_fold_quality(oof, targets, False, settings) == quality[(weight, 0.0, 0.0)]
    if informative == "vectors":  # only the vectors know the topic: their largest weight decides best
        assert weight == max(settings.embedding_weights) and quality[(weight, 0.0, 0.0)] > 0.9
    else:  # the vectors are noise beside some telling words: the less they weigh, the better
        assert weight is not None and weight < max(settings.embedding_weights)
        low, high = min(settings.embedding_weights), max(settings.embedding_weights)
        assert quality[(low, 0.0, 0.0)] > quality[(high, 0.0, 0.0)] + 0.05
    model, _ = train_hybrid(texts, vectors, targets, False, settings, seed=0)
    assert model.article_weight == weight
    fixed, _ = train_hybrid(texts, vectors, targets, False, HybridSettings(embedding_weight=0.7), seed=0)
    assert fixed.article_weight == 0.7


def test_the_cross_validation_bench_scores_every_article_once_per_seed(capsys):
    from bench.hybrid_recipe import cross_validate
    from training.data import Example

    texts, vectors, targets = _topic_data(np.random.default_rng(2), 60, 16, "vectors")
    labels = ["economy", "grain", "sport"]
    examples = [Example(text, (labels[int(row.argmax())],)) for text, row in zip(texts, targets, strict=True)]
    cross_validate(examples, vectors, labels, True, "0.5:auto", folds=3, repeats=2, names=None)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(":")[1].split()[-1] for line in lines] == ["0", "1"]  # one line per seed
    for line in lines:
        assert "of 60 articles wrong" in line and len(line.split("weight/prior/nb_alpha ")[1].split()) == 3
        assert float(line.split("macro-F1 ")[1].split(",")[0]) > 0.9  # the vectors tell the topic
    # As training.finetune fits: a fold's rows less its validation split, then refit on all of them.
    cross_validate(examples, vectors, labels, True, "0.5:auto", folds=3, repeats=1, names=None,
                   validation_split=0.1)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "0.5", "0.5"] and "seed 0, --refit off:" in lines[0] and "seed 0, refit:" in lines[1]


def _named_topic_data(rng: np.random.Generator, n: int, names: np.ndarray) -> tuple[list[str], np.ndarray,
                                                                                    np.ndarray]:
    """Three topics whose article vectors lean towards their label name's vector, in much noise;
    the words are filler: only the vectors (and the names) know the topic."""
    dim = names.shape[1]
    topics = rng.integers(0, 3, n)
    vectors = rng.normal(size=(n, dim)) + 2.5 * np.sqrt(dim) / 4 * names[topics]
    texts = [" ".join(rng.choice([f"w{i}" for i in range(300)], 12)) for _ in range(n)]
    return texts, (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32), \
        np.eye(3, dtype=np.int64)[topics]


def test_a_label_name_lets_four_examples_a_label_do_what_they_cannot_alone():
    gains = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        names = np.linalg.qr(rng.normal(size=(64, 3)))[0].T.astype(np.float32)  # orthogonal unit vectors
        train, test = _named_topic_data(rng, 12, names), _named_topic_data(rng, 300, names)
        accuracy = {}
        for prior in (0.0, 3.0, None):  # off, on, chosen out of fold
            # nb_alpha 0: the filler words carry nothing here, and log-count ratios on four articles
            # a label would make some of them look telling (few-shot on real text: docs/benchmarks.md)
            settings = HybridSettings(label_prior=prior, nb_alpha=0)
            model, _ = train_hybrid(train[0], train[1], train[2], False, settings, seed=0, label_vectors=names)
            accuracy[prior] = float((model.logits(test[0], test[1]).argmax(1) == test[2].argmax(1)).mean())
            if prior is None:
                assert model.label_prior == 3.0  # out of fold, the names help too
        assert accuracy[3.0] > 0.95 and accuracy[None] == accuracy[3.0]
        gains.append(accuracy[3.0] - accuracy[0.0])
    assert min(gains) >= 0 and np.mean(gains) > 0.05  # 12 articles in 64 noisy dimensions: the names help


def test_label_names_that_say_nothing_are_left_out_of_fold():
    """Names whose vectors are unrelated to the topics: the recipe scores them out of fold and
    keeps the prior at 0 where they do not help."""
    rng = np.random.default_rng(8)
    names = np.linalg.qr(rng.normal(size=(64, 6)))[0].T.astype(np.float32)
    texts, vectors, targets = _named_topic_data(rng, 90, names[:3])  # the topics lean on three directions...
    chosen, _, quality = choose_mix(texts, vectors, targets, False, HybridSettings(embedding_weight=1.0, nb_alpha=0.0),
                                    seed=0, label_vectors=names[3:])  # ...the names point elsewhere
    assert set(quality) == {(1.0, 0.0, 0.0), (1.0, 3.0, 0.0)}
    assert chosen.label_prior == max(quality, key=lambda c: (quality[c], -c[1]))[1]
    assert quality[(1.0, 3.0, 0.0)] <= quality[(1.0, 0.0, 0.0)]


def test_the_label_name_feature_folds_into_the_served_weights():
    """Each label's SVM sees one extra column, (article . name) * prior; the model serves it as
    part of its embedding weights, with the same margins as the SVM's own decision function."""
    from scipy import sparse
    from sklearn.svm import LinearSVC

    from training.hybrid import fit_hybrid

    rng = np.random.default_rng(4)
    names = np.linalg.qr(rng.normal(size=(16, 3)))[0].T.astype(np.float32)
    texts, vectors, targets = _named_topic_data(rng, 40, names)
    settings = HybridSettings(embedding_weight=0.5, label_prior=3.0, min_df=1, nb_alpha=0)
    model = fit_hybrid(texts, vectors, targets, settings, label_vectors=names)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)  # the recipe's tokens
    base = sparse.hstack([vectorizer.fit_transform(texts), sparse.csr_matrix(vectors * 0.5)]).tocsr()
    for j in range(3):
        own = sparse.csr_matrix((vectors @ names[j] * settings.label_prior)[:, None])
        svm = LinearSVC(C=settings.c, class_weight="balanced").fit(sparse.hstack([base, own]).tocsr(), targets[:, j])
        expected = svm.decision_function(sparse.hstack([base, own]).tocsr())
        np.testing.assert_allclose(model.logits(texts, vectors)[:, j], expected, atol=1e-4)
    without = fit_hybrid(texts, vectors, targets, settings)  # no names: no such column
    assert without.label_prior == 0 and model.label_prior == 3.0
    assert not np.allclose(without.embedding_weight, model.embedding_weight)


def test_log_count_ratios_say_which_terms_tell_a_label_apart():
    from scipy import sparse

    from training.hybrid import nb_ratios

    # terms: only in the label's articles, only in the others', in half of each, in none
    present = sparse.csr_matrix(np.array([[1, 0, 1, 0], [1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 0]], dtype=float))
    ratios = nb_ratios(present, np.array([1, 1, 0, 0]), alpha=1.0)
    assert ratios[0] > 0 > ratios[1] and ratios[0] == pytest.approx(-ratios[1])
    assert ratios[2] == pytest.approx(0) and ratios[3] == pytest.approx(0)
    assert nb_ratios(present, np.array([1, 1, 0, 0]), alpha=0.1)[0] > ratios[0]  # less smoothing, further apart


def test_the_log_count_ratios_fold_into_the_served_tfidf_weights():
    """Each label's SVM reads its TF-IDF columns scaled by their ratios for it (and the label
    name's column); the model serves plain TF-IDF with the ratios folded into its weights, with
    the same margins as the SVM's own decision function."""
    from scipy import sparse
    from sklearn.svm import LinearSVC

    from training.hybrid import fit_hybrid, nb_ratios

    rng = np.random.default_rng(5)
    names = np.linalg.qr(rng.normal(size=(16, 3)))[0].T.astype(np.float32)
    texts, vectors, targets = _named_topic_data(rng, 40, names)
    settings = HybridSettings(embedding_weight=0.5, label_prior=3.0, min_df=1, nb_alpha=1.0)
    model = fit_hybrid(texts, vectors, targets, settings, label_vectors=names)
    tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1).fit_transform(texts)
    present = (tfidf > 0).astype(float).tocsr()
    for j in range(3):
        ratios = nb_ratios(present, targets[:, j], 1.0)
        assert np.ptp(ratios) > 0.5  # the scaling is not a no-op here
        seen = sparse.hstack([tfidf @ sparse.diags(ratios), sparse.csr_matrix(vectors * 0.5),
                              sparse.csr_matrix((vectors @ names[j] * settings.label_prior)[:, None])]).tocsr()
        svm = LinearSVC(C=settings.c, class_weight="balanced").fit(seen, targets[:, j])
        np.testing.assert_allclose(model.logits(texts, vectors)[:, j], svm.decision_function(seen), atol=1e-4)
    plain = fit_hybrid(texts, vectors, targets, HybridSettings(embedding_weight=0.5, label_prior=3.0, min_df=1,
                                                               nb_alpha=0), label_vectors=names)
    assert not np.allclose(plain.lexical.weight, model.lexical.weight, atol=1e-3)


def test_the_recipe_weighs_terms_by_their_ratios_only_where_that_decides_better_out_of_fold():
    """Both ways are scored on the same folds; the model is fitted the way that scored best
    (ties: without), and says so."""
    texts, vectors, targets = _topic_data(np.random.default_rng(6), 90, 64, "words")
    settings = HybridSettings(embedding_weight=0.25)
    chosen, oof, quality = choose_mix(texts, vectors, targets, False, settings, seed=0)
    assert set(quality) == {(0.25, 0.0, a) for a in settings.nb_alphas}
    best = max(quality, key=lambda c: (quality[c], -c[2]))
    assert chosen.nb_alpha == best[2]
    assert out_of_fold_quality(oof, targets, False, settings) == quality[best]
    model, _ = train_hybrid(texts, vectors, targets, False, settings, seed=0)
    assert model.nb_alpha == chosen.nb_alpha


def test_thresholds_are_the_mean_of_the_cuts_on_three_draws_of_the_folds():
    """One draw of the folds moved Reuters' micro-F1 by up to 1.5 points through the cuts alone:
    each label's threshold is the mean of its F1-best cuts on ``threshold_draws`` draws (seed,
    seed + 1, ...) of the chosen mix's out-of-fold scores, and the first draw is the one that chose it."""
    texts, vectors, targets = _topic_data(np.random.default_rng(8), 90, 32, "words")
    targets[::7, 1] = 1  # multi-label: some articles have two topics
    settings = HybridSettings(embedding_weight=0.5, label_prior=0.0, nb_alpha=1.0, min_df=1, min_positives=3)
    cuts = [calibrate_with_fallback(probabilities(out_of_fold_logits(texts, vectors, targets, settings, seed), True),
                                    targets, settings.min_positives) for seed in (5, 6, 7)]
    assert np.ptp([c.values for c in cuts], axis=0).max() > 0.01  # the draws disagree: the mean is none of them
    _, thresholds = train_hybrid(texts, vectors, targets, True, settings, seed=5)
    # atol: liblinear's coordinate descent visits rows in a random order (1e-6 apart between fits)
    np.testing.assert_allclose(thresholds.values, np.mean([c.values for c in cuts], axis=0), atol=1e-5)
    assert thresholds.support == cuts[0].support and thresholds.fitted_on == cuts[0].fitted_on
    _, one = train_hybrid(texts, vectors, targets, True, replace(settings, threshold_draws=1), seed=5)
    np.testing.assert_allclose(one.values, cuts[0].values, atol=1e-5)


def test_mean_thresholds_average_the_cuts_and_the_fallback_and_keep_what_they_rest_on():
    rng = np.random.default_rng(1)
    truth = np.zeros((60, 3), dtype=int)
    truth[np.arange(60), np.r_[[0] * 28, [1] * 28, [2] * 4]] = 1
    draws = [calibrate_with_fallback(np.clip(0.2 + 0.3 * truth + rng.normal(0, 0.08, truth.shape), 0.01, 0.99),
                                     truth, min_positives=5, multi_label=False) for _ in range(3)]
    mean = mean_thresholds(draws)
    np.testing.assert_allclose(mean.values, np.mean([d.values for d in draws], axis=0))
    assert mean.fallback.value == pytest.approx(np.mean([d.fallback.value for d in draws]), abs=1e-4)
    assert mean.values[2] == pytest.approx(mean.fallback.value, abs=1e-4)  # the rare label: still the fallback
    assert (mean.support, mean.rare(), mean.fallback.how) == (draws[0].support, [2], draws[0].fallback.how)
    assert mean_thresholds(draws[:1]) is draws[0]


def test_svm_fits_stopped_at_liblinears_limit_are_counted_in_one_line_not_a_warning_each(capsys):
    """Texts given twice with different labels (Reuters has 22) can keep liblinear from
    converging; each such fit warned, 94 warnings in one Reuters run. They are kept as they are,
    and the recipe says once how many of its fits stopped there."""
    rng = np.random.default_rng(0)
    unique = [" ".join(f"w{k}" for k in rng.choice(400, 6, replace=False)) for _ in range(30)]
    texts = unique + unique  # each text twice, with the other label the second time
    labels = np.r_[np.arange(30) % 2, 1 - np.arange(30) % 2]
    targets = np.eye(2, dtype=np.int64)[labels]
    vectors = np.tile(rng.normal(size=(30, 200)).astype(np.float32), (2, 1))
    settings = HybridSettings(c=1e3, embedding_weight=1.0, label_prior=0.0, nb_alpha=0.0, min_df=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train_hybrid(texts, vectors, targets, False, settings, seed=0)
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    line = [x for x in capsys.readouterr().err.splitlines() if x.startswith("hybrid head: liblinear stopped")]
    assert len(line) == 1, line
    stopped, fits = (int(n) for n in re.findall(r"stopped (\d+) of its (\d+) SVM fits", line[0])[0])
    # two labels, the final model and three draws of three folds: 20 fits, most of them stopped
    assert fits == 2 * (1 + settings.threshold_draws * settings.folds) and 0 < stopped <= fits


@pytest.fixture(scope="module")
def real_hybrid_dir(tmp_path_factory) -> Path:
    """The default recipe on the seeds' 40 examples with the real encoder (seconds: no epochs)."""
    output = tmp_path_factory.mktemp("real-hybrid") / "desk-hybrid"
    assert main(["--train", str(TRAIN_SMALL), "--output", str(output), "--seed", "3"]) == 0
    return output


def test_a_hybrid_models_evidence_is_sentences_that_get_the_topic_back_alone(real_hybrid_dir: Path):
    """Every topic of the default recipe's models came back with no evidence: sentences were
    held to the zero-shot engine's discount (a score of 0.78 alone to support a topic at 0.5),
    where this model's scores of 0.3-0.6 pass its fitted thresholds."""
    from service.config import Settings
    from service.tagging import tagger_for

    tagger = tagger_for(Settings.from_env({}), real_hybrid_dir)  # as newstag tag --model DIR serves it
    text = ("The striker scored twice in the cup final and the fans sang until midnight. "
            "The central bank raised interest rates again to fight inflation, its governor said.")
    [result] = tagger.tag([text])
    found = {t.label: t for t in result.topics}
    assert {"sport", "economy"} <= set(found), result.topics
    for label in ("sport", "economy"):
        assert found[label].evidence, f"{label}: no evidence"
        for ev in found[label].evidence:
            assert text[ev.start:ev.end] == ev.text
            [alone] = tagger.tag([ev.text])
            assert label in {t.label for t in alone.topics}, (ev.text, alone.topics)


def test_the_served_terms_read_words_an_entity_cut_whole():
    """A reading copy's "ré", word joiners, "forme" (markup.py) is the term "réforme" the model trained on."""
    import numpy as np

    spec = TfidfSpec(("réforme", "ré", "forme"), np.ones(3), ngram_max=1)
    columns, values = spec.transform("la r\u00e9\u2060\u2060\u2060\u2060\u2060\u2060\u2060forme")
    assert columns.tolist() == [0] and values.tolist() == [1.0]
