"""What training.finetune says about the data it was given: how much its validation figures
rest on, why a model is multi-label, which thresholds are a fallback (tiny random encoder:
mechanics only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.finetune import main

SPORT = ["The striker scored twice in the cup final {}.", "The team won the league title on the last day {}.",
         "The coach praised the defence after the derby {}."]


def _rows(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for i, labels in enumerate(rows):
            text = f"Article {i} about {' and '.join(labels)}: " + SPORT[i % 3].format(i) + " More words follow here."
            f.write(json.dumps({"text": text, "labels": labels}) + "\n")
    return path


def _train(tiny_model_dir: Path, data: Path, output: Path, *extra: str) -> int:
    return main(["--train", str(data), "--output", str(output), "--base", str(tiny_model_dir), "--mode", "head",
                 "--epochs", "1", "--max-length", "64", *extra])


def test_a_small_validation_split_is_named_with_the_labels_it_misses(tiny_model_dir, tmp_path, capsys):
    """15 sport and 1 tech rows printed "macro-F1 1.0000" over 2 validation articles, silently."""
    data = _rows(tmp_path / "few.jsonl", [["sport"]] * 15 + [["tech"]])
    assert _train(tiny_model_dir, data, tmp_path / "model") == 0
    out, err = capsys.readouterr()
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert metrics["examples"] == 2 and metrics["labels_with_examples"] == 1
    assert "the validation split has only 2 article(s)" in err
    assert "1 of the 2 labels has no validation article, so its figures do not cover them: tech" in err
    assert "Head mode fits each label's threshold on it too" in err
    assert "(validation: 2 articles, covering 1 of the 2 labels; single-label)" in out


def test_a_validation_split_of_every_label_and_30_articles_gets_no_such_warning(tiny_model_dir, tmp_path, capsys):
    data = _rows(tmp_path / "enough.jsonl", [["sport"], ["tech"]] * 40)
    assert _train(tiny_model_dir, data, tmp_path / "model", "--validation-split", "0.4") == 0
    out, err = capsys.readouterr()
    assert "validation split has only" not in err and "no validation article" not in err
    assert "(validation: 32 articles, covering 2 of the 2 labels; single-label)" in out


@pytest.mark.parametrize("extra_rows, said", [
    (1, "because 1 of the 19 rows has more than one label (one.jsonl line 19: tech, business)"),
    (0, None),
])
def test_a_multi_label_model_says_which_rows_made_it_so(tiny_model_dir, tmp_path, capsys, extra_rows, said):
    """18 single-label rows and one ["tech", "business"] row trained a multi-label model (no
    "none of these" gate) without a word."""
    rows = [["tech"], ["business"]] * 9 + [["tech", "business"]] * extra_rows
    data = _rows(tmp_path / "one.jsonl", rows)
    assert _train(tiny_model_dir, data, tmp_path / "model") == 0
    err = capsys.readouterr().err
    labels = json.loads((tmp_path / "model" / "labels.json").read_text())
    assert labels["multi_label"] == bool(extra_rows)
    if said is None:
        assert "multi-label" not in err
    else:
        assert f"finetune: note: training a multi-label model (a sigmoid per label, no \"none of these\" gate) " \
               f"{said}" in err
        assert "give each of these rows one label" in err


def test_head_mode_gives_labels_too_rare_in_validation_a_fallback_a_softmax_reaches(tiny_model_dir, tmp_path,
                                                                                       capsys):
    """40 rows, 5 labels: business and politics had no validation article and kept 0.5, which a
    5-way softmax rarely reaches (10 of 30 new articles of theirs got no topic), silently."""
    labels = ["business", "entertainment", "politics", "sport", "tech"]
    data = _rows(tmp_path / "corrections.jsonl", [[labels[i % 5]] for i in range(40)])
    assert _train(tiny_model_dir, data, tmp_path / "model") == 0
    err = capsys.readouterr().err
    written = json.loads((tmp_path / "model" / "labels.json").read_text())
    record = json.loads((tmp_path / "model" / "newstag.json").read_text())["thresholds"]
    support = record["support"]
    assert sum(support.values()) == 4 and record["fallback"] == 0.3 and record["min_support"] == 5
    missing = [name for name in labels if support[name] == 0]
    assert missing  # 4 validation articles cannot cover 5 labels
    for name, threshold in zip(written["labels"], written["thresholds"], strict=True):
        if support[name] == 0:
            assert threshold == 0.3  # 1.5 / 5 labels, not 0.5
        assert f"{name} ({support[name]}: {threshold:.4f})" in err  # every label rests on under 5 articles
    assert "5 of the 5 labels have fewer than 5 validation articles to fit a threshold on, so theirs is the " \
           "fallback 0.3000 (1.5 / 5 labels" in err
    card = (tmp_path / "model" / "README.md").read_text()
    assert "leans toward the fallback 0.3000" in card
