from __future__ import annotations

import json

import numpy as np
import pytest

from training.data import (
    DataFileError,
    Example,
    check_trainable,
    fingerprint,
    labels_never_trained,
    read_labeled,
    split_validation,
    texts_in_both,
)
from training.thresholds import best_threshold, calibrate


def test_csv_with_pipe_separated_labels(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('id,text,labels\n1,"Rates rose, markets fell.",economy|markets\n2,Goal!,sport\n')
    examples = read_labeled(path)
    assert [e.labels for e in examples] == [("economy", "markets"), ("sport",)]
    assert examples[0].text == "Rates rose, markets fell."


@pytest.mark.parametrize("name, body, message", [
    ("d.csv", "text,labels,colour\nx,a,red\n", r"d.csv:1: unknown column\(s\) colour"),
    ("d.csv", "text\nx\n", r"d.csv:1: the header needs 'text' and 'labels'"),
    ("d.csv", "text,labels\nx,a\n,b\n", r"d.csv:3: 'text' must be"),
    ("d.csv", "text,labels\nx,a\ny,\n", r"d.csv:3: 'labels' must be"),
    ("d.csv", "text,labels\nx,a,extra\n", r"d.csv:2: more fields"),
    ("d.jsonl", '{"text": "x", "labels": ["a"]}\n\n{"labels": ["a"]}\n', r"d.jsonl:3: 'text' must be"),
    ("d.jsonl", "", r"no examples"),
])
def test_bad_rows_are_reported_by_line(tmp_path, name, body, message):
    path = tmp_path / name
    path.write_text(body)
    with pytest.raises(DataFileError, match=message):
        read_labeled(path)


def test_fingerprint_and_seeded_split(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(f'{{"text": "t{i}", "labels": ["{"ab"[i % 2]}"]}}\n' for i in range(20)))
    examples = read_labeled(path)
    print_ = fingerprint(path, examples)
    assert print_["rows"] == 20 and print_["label_counts"] == {"a": 10, "b": 10} and len(print_["sha256"]) == 64
    train, held = split_validation(examples, 0.25, seed=3)
    assert len(held) == 5 and len(train) == 15 and not set(map(id, held)) & set(map(id, train))
    assert split_validation(examples, 0.25, seed=3)[1] == held
    assert split_validation(examples, 0.25, seed=4)[1] != held


def test_data_no_model_can_learn_from_is_refused_with_the_reason(tmp_path):
    path = tmp_path / "train.jsonl"
    with pytest.raises(DataFileError, match="too few articles"):
        check_trainable(path, [])
    sport = [Example("Arsenal won.", ("sport",)), Example("Rain stopped play.", ("sport",))]
    with pytest.raises(DataFileError, match="every training article is labelled 'sport'"):
        check_trainable(path, sport)
    check_trainable(path, [*sport, Example("Rates rose.", ("economy",))])  # two labels: fine


def test_labels_only_in_the_validation_data_are_named():
    train = [Example("a", ("sport",)), Example("b", ("economy", "trade"))]
    validation = [Example("c", ("tech",)), Example("d", ("trade", "arts"))]
    assert labels_never_trained(train, validation) == ["arts", "tech"]
    assert labels_never_trained(train, train) == []


def test_validation_articles_that_are_training_articles_are_counted():
    train = [Example("Rates rose.\n\nThe bank said so.", ("economy",)), Example("Arsenal won.", ("sport",))]
    validation = [Example("Rates  rose.\nThe bank said so.", ("economy",)),  # the same text, other spacing
                  Example("Rates fell.", ("economy",))]
    assert texts_in_both(train, validation) == 1
    assert texts_in_both(train, train) == 2


def test_copies_of_one_text_fall_on_one_side_of_the_split():
    examples = [Example(f"Story {i}.", ("a" if i % 2 else "b",)) for i in range(40)]
    examples += [Example("Story  3.", ("a",)), Example("Story 3.\n", ("a",))]  # wire copy filed again
    for seed in range(10):
        train, validation = split_validation(examples, 0.2, seed)
        assert texts_in_both(train, validation) == 0
        assert len(train) + len(validation) == len(examples)


def test_without_copies_the_split_is_the_plain_seeded_shuffle():
    """Models trained before copies were grouped keep their validation split."""
    import random

    examples = [Example(f"Story {i}.", ("a",)) for i in range(50)]
    order = list(range(50))
    random.Random(7).shuffle(order)
    train, validation = split_validation(examples, 0.1, 7)
    assert validation == [examples[i] for i in order[:5]]
    assert train == [e for i, e in enumerate(examples) if i not in order[:5]]


def test_finetune_says_why_before_loading_a_model(tmp_path, capsys):
    from training.finetune import main

    one_label = tmp_path / "sport.jsonl"
    rows = [{"text": f"Match report {i}.", "labels": ["sport"]} for i in range(5)]
    one_label.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert main(["--train", str(one_label), "--output", str(tmp_path / "model")]) == 2
    assert "needs at least two labels" in capsys.readouterr().err
    one_row = tmp_path / "one.jsonl"
    one_row.write_text('{"text": "Rates rose.", "labels": ["economy"]}\n')
    assert main(["--train", str(one_row), "--output", str(tmp_path / "model")]) == 2
    assert "too few articles" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()
    # Two labels, one article each: the split holds one out, and says so (it blamed the file).
    two = tmp_path / "two.jsonl"
    two.write_text('{"text": "Two labels here.", "labels": ["a"]}\n{"text": "And there.", "labels": ["b"]}\n')
    assert main(["--train", str(two), "--output", str(tmp_path / "model")]) == 2
    assert "once the validation split is held out, every training article is labelled" in capsys.readouterr().err


def test_threshold_maximises_f1():
    scores = np.array([0.9, 0.8, 0.35, 0.3, 0.1])
    truth = np.array([1, 1, 1, 0, 0])
    t = best_threshold(scores, truth)
    assert 0.3 < t <= 0.35  # all three positives, no negative
    assert best_threshold(scores, np.zeros(5)) == 0.5
    assert calibrate(np.stack([scores, 1 - scores], axis=1), np.stack([truth, 1 - truth], axis=1))[0] == t


@pytest.mark.parametrize("extra", [["--svm-c", "-1"], ["--svm-c", "nan"], ["--embedding-weight", "nan"],
                                   ["--embedding-weight", "-1"], ["--label-prior", "nan"]])
def test_finetune_refuses_hybrid_settings_no_fit_can_use_before_reading_anything(tmp_path, capsys, extra):
    from training.finetune import main

    assert main(["--train", str(tmp_path / "absent.jsonl"), "--output", str(tmp_path / "m"), *extra]) == 2
    assert "error: --" in capsys.readouterr().err  # the option, not the missing file


def test_an_export_of_several_label_sets_is_named_so_finetune_can_warn(tmp_path):
    from training.data import label_sets

    export = tmp_path / "corrections.jsonl"
    export.write_text('{"text": "a", "labels": ["sports"], "taxonomy": "news"}\n'
                      '{"text": "a", "labels": ["sport"], "taxonomy": "iptc-top"}\n'
                      '{"text": "b", "labels": ["desk"], "taxonomy": null}\n')
    assert label_sets(export) == ["(typed labels)", "iptc-top", "news"]
    plain = tmp_path / "train.jsonl"
    plain.write_text('{"text": "a", "labels": ["sports"]}\n')
    assert label_sets(plain) == []
