from __future__ import annotations

import json

import pytest

from training.data import DataFileError, read_labeled
from training.evaluate import evaluate, main
from training.metrics import classification_report


def test_metrics_on_a_hand_checked_case():
    gold = [("a",), ("a",), ("b",), ("c",)]
    pred = [("a",), ("b",), ("b",), ("a",)]
    report = classification_report(gold, pred, ["a", "b", "c"], single_label=True)
    # a: P 1/2 R 1/2; b: P 1/2 R 1; c: P 0 R 0.
    assert report["per_label"]["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert report["per_label"]["b"]["f1"] == pytest.approx(2 / 3)
    assert report["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    assert report["micro_f1"] == pytest.approx(0.5) and report["accuracy"] == 0.5
    assert report["hamming_loss"] == pytest.approx(4 / 12)
    assert report["confusion_matrix"]["rows_true_columns_predicted"] == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]


def test_macro_f1_counts_only_labels_in_the_data_or_the_predictions():
    """A 34-topic taxonomy scored on data that uses 3 of them: the other 31 must not count as F1 0."""
    gold = [("a",), ("a",), ("b",), ("c",)]
    pred = [("a",), ("b",), ("b",), ("a",)]
    report = classification_report(gold, pred, ["a", "b", "c", "unused", "never"], single_label=True)
    assert report["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0) / 3)  # c is in the data: it counts
    assert report["macro_f1_labels"] == 3 and len(report["per_label"]) == 5


def test_multi_label_metrics_have_no_confusion_matrix():
    report = classification_report([("a", "b"), ("b",)], [("a",), ("b", "c")], ["a", "b", "c"], single_label=False)
    assert "confusion_matrix" not in report and "accuracy" not in report
    assert report["micro_f1"] == pytest.approx(2 * 2 / (3 + 3))


def write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_evaluate_runs_the_tagger_on_single_label_data(tagger, examples, tmp_path):
    single = [e for e in examples if len(e["labels"]) == 1]
    data = read_labeled(write_jsonl(tmp_path / "d.jsonl", single))
    report = evaluate(tagger, data, None, "news", batch_size=4)
    assert report["mode"] == "single-label" and report["examples"] == len(single)
    assert report["accuracy"] >= 0.9  # these examples are the tagger's own acceptance set


def test_main_writes_a_report_and_prints_the_table(capsys, examples, tmp_path):
    rows = [e for e in examples if e["id"].split("-")[0] in ("sports", "crime", "health")]
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    out = tmp_path / "out" / "report.json"
    assert main(["--data", str(data), "--labels-from-data", "--report", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "macro-F1" in printed and "confusion matrix" in printed
    report = json.loads(out.read_text())
    assert set(report["per_label"]) == {"sports", "crime", "health"}
    assert report["label_source"] == "data label names"
    assert "as a default call (multi-label, each label's threshold): no label for" in printed
    assert set(report["default_call"]) == {"no_label", "precision", "recall", "f1", "labels_per_article"}


def test_single_label_data_is_also_scored_as_the_default_call_users_run(capsys, examples, tmp_path):
    """Single-label mode always gives the best label; a default call gives none to a text no label
    fits. Evaluate said accuracy 0.800 where default calls left 7 of 40 articles without a label."""
    rows = [e for e in examples if e["id"].split("-")[0] in ("sports", "crime", "health")]
    cake = next(e for e in examples if e["id"] == "nonnews-1")["text"]
    data = write_jsonl(tmp_path / "d.jsonl", [*rows, {"text": cake, "labels": ["health"]}])
    out = tmp_path / "report.json"
    assert main(["--data", str(data), "--labels-from-data", "--report", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["mode"] == "single-label"
    assert report["default_call"]["no_label"] == pytest.approx(1 / len([*rows, cake]))  # the cake, only it
    assert report["default_call"]["recall"] < 1.0  # the cake's health is not given


def test_the_default_call_summary_on_a_hand_checked_case():
    from training.metrics import default_call_summary

    gold = [("a",), ("b",), ("a",), ("b",)]
    predicted = [("a",), ("a", "b"), (), ("b",)]
    summary = default_call_summary(gold, predicted)
    assert summary["no_label"] == 0.25 and summary["labels_per_article"] == 1.0
    assert summary["precision"] == 0.75 and summary["recall"] == 0.75  # 3 right of 4 given, of 4 wanted


@pytest.mark.parametrize("line, message", [
    ("not json", r":2: not valid JSON"),
    ('{"text": "", "labels": ["a"]}', r":2: 'text' must be"),
    ('{"text": "x", "labels": []}', r":2: 'labels' must be"),
    ("[1, 2]", r":2: each line must be a JSON object"),
])
def test_bad_rows_are_reported_by_line_number(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine", "labels": ["a"]}\n' + line + "\n")
    with pytest.raises(DataFileError, match=message):
        read_labeled(path)


def test_an_article_the_tagger_refuses_is_named_by_line_before_any_is_tagged(tmp_path, capsys, monkeypatch):
    """It was "text 0 has 208000 characters", text 0 of the last batch, after the others were tagged."""
    rows = [{"text": f"Match report {i}.", "labels": ["sports"]} for i in range(4)]
    data = write_jsonl(tmp_path / "d.jsonl", [*rows, {"text": "x" * 2_000, "labels": ["sports"]}])
    monkeypatch.setenv("NEWSTAG_MAX_TEXT_CHARS", "1000")
    monkeypatch.setattr("training.evaluate.load_tagger", lambda *a: pytest.fail("a model was loaded"))
    assert main(["--data", str(data), "--labels-from-data", "--batch-size", "2"]) == 2
    assert (f"evaluate: error: {data}:5: 'text' has 2000 characters; the limit is 1000 (NEWSTAG_MAX_TEXT_CHARS)"
            in capsys.readouterr().err)


def test_labels_outside_the_label_set_are_an_error(tagger, tmp_path, capsys):
    data = write_jsonl(tmp_path / "d.jsonl", [{"text": "Some text.", "labels": ["not a news topic"]}])
    assert main(["--data", str(data), "--taxonomy", "news"]) == 2
    err = capsys.readouterr().err
    assert "outside the label set (taxonomy news's topics; to score the data's own label names: " in err
    assert "--labels-from-data, or --descriptions FILE): not a news topic" in err


def test_a_label_a_fine_tuned_model_lacks_is_named_with_its_line_and_the_models_labels(trained_model_dir, tmp_path,
                                                                                        capsys):
    """It said "the data has labels outside the label set: Santé": not which model labels there are,
    nor where the row is, nor what to do (a held-out file with a label the model never learnt)."""
    import json as _json

    labels = _json.loads((trained_model_dir / "labels.json").read_text())["labels"]
    data = write_jsonl(tmp_path / "d.jsonl", [{"text": "The striker scored twice.", "labels": [labels[0]]},
                                              {"text": "Un vaccin contre la rougeole.", "labels": ["Santé"]}])
    assert main(["--model", str(trained_model_dir), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert f"{data}:2: 'Santé' is not a label of the model (its labels: {', '.join(labels)})" in err
    assert "leave such rows out, or retrain the model with them" in err


def test_a_fine_tuned_model_is_not_narrowed_to_the_datas_labels(trained_model_dir, tmp_path, capsys):
    """Its labels narrowed to the data's two: micro-F1 0.96 became 1.00, and the report said "model labels"."""
    data = write_jsonl(tmp_path / "d.jsonl", [{"text": "The striker scored twice.", "labels": ["sport"]}])
    assert main(["--model", str(trained_model_dir), "--data", str(data), "--labels-from-data"]) == 2
    assert ("--labels-from-data does not apply to a fine-tuned model: it scores its own labels (4)"
            in capsys.readouterr().err)


def test_evaluate_a_fine_tuned_model_with_plots(trained_model_dir, tmp_path, capsys):
    from tests.conftest import TRAIN_SMALL

    out = tmp_path / "report.json"
    assert main(["--model", str(trained_model_dir), "--data", str(TRAIN_SMALL), "--report", str(out),
                 "--plots", str(tmp_path / "plots")]) == 0
    report = json.loads(out.read_text())
    assert report["mode"] == "multi-label" and report["label_source"] == "model labels"
    assert report["micro_f1"] > 0.8  # its own training data, mostly
    assert "is the file" in capsys.readouterr().err  # and it says so
    assert {"subset_accuracy", "hamming_loss"} <= set(report)
    for name in ("f1_per_label.png", "precision_recall.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluating_on_the_models_own_training_file_is_warned_about(trained_model_dir, tmp_path):
    """A desk with 20 articles and no others scored its model on them: 0.95, without a word (100
    BBC News articles, 3 of them its own, gave 0.78)."""
    from tests.conftest import TRAIN_SMALL
    from training.evaluate import trained_on_warning

    warning = trained_on_warning(TRAIN_SMALL, str(trained_model_dir))
    assert warning is not None and f"{TRAIN_SMALL} is the file {trained_model_dir} was trained on" in warning
    other = tmp_path / "held-out.jsonl"
    other.write_text("".join(TRAIN_SMALL.read_text(encoding="utf-8").splitlines(keepends=True)[:5]), encoding="utf-8")
    assert trained_on_warning(other, str(trained_model_dir)) is None
    assert trained_on_warning(TRAIN_SMALL, "default") is None  # not a fine-tuned model: nothing recorded


def test_single_label_plots_include_the_confusion_matrix(tagger, examples, tmp_path):
    from training.evaluate import evaluate

    single = [e for e in examples if e["id"].split("-")[0] in ("sports", "crime", "health")]
    data = read_labeled(write_jsonl(tmp_path / "d.jsonl", single))
    evaluate(tagger, data, None, "news", batch_size=8, plots=tmp_path / "plots")
    assert (tmp_path / "plots" / "confusion_matrix.png").stat().st_size > 1000


def test_rare_labels_are_visible_with_their_support():
    from training.metrics import format_report

    gold = [("big",)] * 20 + [("rare",)] * 2
    predicted = [("big",)] * 20 + [("rare",), ("big",)]
    report = classification_report(gold, predicted, ["big", "rare"], True)
    assert report["per_label"]["rare"]["support"] == 2 and report["per_label"]["rare"]["recall"] == 0.5
    assert report["rare_labels"] == {"max_support": 9, "count": 1, "macro_f1": pytest.approx(2 / 3)}
    lines = format_report(report).splitlines()
    assert any(line.startswith("rare labels  macro-F1 0.6667 over the 1 labels") for line in lines)
    table = [line.split()[0] for line in lines[lines.index(next(x for x in lines if x.startswith("label"))) + 1:]
             if line.split() and line.split()[0] in ("big", "rare")]
    assert table[:2] == ["big", "rare"]  # most examples first


@pytest.mark.parametrize("extra, said", [
    (["--limit", "0"], "--limit must be at least 1"),
    (["--limit", "-1"], "--limit must be at least 1"),  # it dropped the last row
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--report", "{tmp}"], "is a directory: name a file"),
    (["--plots", "{tmp}/a-file"], "is a file: name a directory"),
    # under a file: mkdir failed with a traceback once every article was tagged
    (["--report", "{tmp}/a-file/r.json"], "a-file is a file, so nothing can be written under it"),
    (["--plots", "{tmp}/a-file/plots"], "a-file is a file, so nothing can be written under it"),
])
def test_arguments_that_would_fail_after_the_work_are_refused_first(tmp_path, capsys, monkeypatch, extra, said):
    import training.evaluate as evaluate_module

    monkeypatch.setattr(evaluate_module, "load_tagger", lambda *a: pytest.fail("the model was loaded"))
    (tmp_path / "a-file").write_text("x")
    data = tmp_path / "data.jsonl"
    data.write_text('{"text": "Rates rose.", "labels": ["economy"]}\n{"text": "A goal.", "labels": ["sport"]}\n')
    args = ["--data", str(data), "--labels-from-data", *[a.format(tmp=tmp_path) for a in extra]]
    assert main(args) == 2
    assert said in capsys.readouterr().err


def test_fit_calibration_names_a_data_directory_that_is_not_the_shared_one(tmp_path, capsys):
    from training.fit_calibration import main as fit_main

    with pytest.raises(SystemExit) as exited:
        fit_main(["--data-dir", str(tmp_path)])
    assert exited.value.code == 2
    assert "not the shared data directory" in capsys.readouterr().err


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_an_interrupt_is_one_line_and_exit_130_with_the_model_run_in_this_thread(trained_model_dir, tmp_path, capsys,
                                                                                  monkeypatch, how):
    """Ctrl-C mid-run printed a traceback and "terminate called without an active exception" (the
    model ran in a batching thread: exit by SIGABRT); SIGTERM ended it without a word."""
    import signal

    from tests.conftest import TRAIN_SMALL, interrupted
    from training import evaluate as ev

    seen = {}
    real = ev.load_tagger

    def loading(model, settings):
        seen["batching"] = settings.batching
        return real(model, settings)

    def tagging(*a, **k):
        interrupted(how, "run")

    def escaped(*a):
        pytest.fail("SIGTERM reached the test, not the command")

    monkeypatch.setattr(ev, "load_tagger", loading)
    monkeypatch.setattr(ev, "_tag_all", tagging)
    report = tmp_path / "report.json"
    before = signal.signal(signal.SIGTERM, escaped)
    try:
        assert main(["--model", str(trained_model_dir), "--data", str(TRAIN_SMALL), "--report", str(report)]) == 130
    except KeyboardInterrupt:  # not pytest's to see: it would stop the whole run
        pytest.fail("KeyboardInterrupt escaped from the command: a traceback")
    finally:
        signal.signal(signal.SIGTERM, before)
    assert seen["batching"] is False
    assert capsys.readouterr().err.endswith("evaluate: interrupted; nothing was written\n")
    assert not report.exists()
