"""The drift report: its statistics, its verdict on seeded synthetic tag files (no drift
between two halves of one shuffled corpus; the labels that moved named when the mix
changes), the files it reads, and the command."""

from __future__ import annotations

import json
import math
import random
import sys
from collections import Counter
from pathlib import Path

import pytest

from service.drift import DriftInputError, Rule, TagSet, compare, read_tags
from service.drift.__main__ import main
from service.drift.comparison import NO_TOPIC
from service.drift.statistics import fisher_exact_p_value, holm, js_divergence, ks_test, psi, psi_noise, psi_reading

# A newsroom-like mix: a few big labels and a long tail (each article gets each label on its own).
MIX = {f"topic {k:02d}": share for k, share in enumerate(
    [0.30, 0.20, 0.15, 0.10, 0.08, 0.05, 0.04, 0.03, 0.02, 0.01, 0.01, 0.005] + [0.003] * 20)}


def tag_rows(n: int, mix: dict[str, float], seed: int, score: tuple[float, float] = (5, 2),
             french: float = 0.03) -> list[dict]:
    """Rows as ``service.batch`` writes them, drawn from ``mix`` with a seeded RNG."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        topics = sorted(({"label": label, "score": round(rng.betavariate(*score), 4), "evidence": []}
                         for label, p in mix.items() if rng.random() < p), key=lambda t: -t["score"])
        rows.append({"line": i + 1, "id": f"a{i}", "topics": topics,
                     "language": "fr" if rng.random() < french else "en", "warnings": []})
    return rows


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def halves(tmp_path: Path, rows: list[dict], seed: int) -> tuple[Path, Path]:
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    cut = len(shuffled) // 2
    return write(tmp_path / f"a{seed}.jsonl", shuffled[:cut]), write(tmp_path / f"b{seed}.jsonl", shuffled[cut:])


# Statistics ---------------------------------------------------------------------------

def test_the_share_test_is_fishers_exact_test_as_scipy_computes_it():
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(0)
    cases = [(60, 400, 95, 420), (2, 12, 2, 212), (0, 30, 2, 300), (5, 5, 0, 7), (3, 7, 3, 7), (1, 1, 0, 1),
             (20000, 100000, 21000, 100000)]
    cases += [(rng.randint(0, a), a, rng.randint(0, b), b) for a, b in
              ((rng.randint(1, 300), rng.randint(1, 300)) for _ in range(300))]
    for hits_a, n_a, hits_b, n_b in cases:
        want = stats.fisher_exact([[hits_a, n_a - hits_a], [hits_b, n_b - hits_b]])[1]
        assert fisher_exact_p_value(hits_a, n_a, hits_b, n_b) == pytest.approx(want, rel=1e-9, abs=1e-15)
    assert fisher_exact_p_value(0, 100, 0, 200) == 1.0  # no article has the label in either period
    assert fisher_exact_p_value(100, 100, 200, 200) == 1.0


def test_a_few_articles_of_a_small_period_are_not_drift(tmp_path, capsys):
    """The audit's case: 2 of 12 corrections against 2 of 212 read as +15.7 points, p < 0.001,
    under the z-test; exactly, p = 0.015 before the correction over the labels."""
    assert fisher_exact_p_value(2, 212, 2, 12) == pytest.approx(0.0149175, rel=1e-5)
    then = write(tmp_path / "then.jsonl", [{"text": f"t{i}", "labels": ["markets" if i < 2 else "sports", "news"]}
                                          for i in range(212)])
    now = write(tmp_path / "now.jsonl", [{"text": f"n{i}", "labels": ["markets" if i < 2 else "sports", "news"]}
                                        for i in range(12)])
    assert main([str(then), str(now), "--fail-on-drift", "--json"]) == 0
    markets = next(c for c in json.loads(capsys.readouterr().out)["periods"]["labels"] if c["label"] == "markets")
    assert markets["p_value"] == 0.0149 and not markets["moved"]


def test_small_periods_of_one_population_raise_no_more_false_alarms_than_alpha(tmp_path):
    """300 articles against 30 of the same mix, 100 times: the z-test saw drift in about one
    report in ten (a label absent from THEN in 2 of the 30 read as p < 0.001); alpha is 0.01."""
    rng = random.Random(0)
    rows = [{"text": str(i), "labels": [label for label, share in MIX.items() if rng.random() < share] or ["topic 00"]}
            for i in range(3300)]
    alarms = 0
    for seed in range(100):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        report = compare(read_tags(write(tmp_path / "then.jsonl", shuffled[:300])),
                         read_tags(write(tmp_path / "now.jsonl", shuffled[300:330])))
        alarms += report.drift
    assert alarms <= 2


def test_holm_adjusts_as_the_textbook_example():
    # Holm (1979) by hand: sorted 0.01, 0.02, 0.03, 0.04 -> 0.04, 0.06, 0.06, 0.06.
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.9]) == [1.0, 1.0]


def test_psi_and_js_on_hand_checked_cases():
    same = [50, 30, 20]
    assert psi(same, same) == pytest.approx(0.0, abs=1e-12) and js_divergence(same, same) == pytest.approx(0.0)
    by_hand = (0.9 - 0.5) * math.log(0.9 / 0.5) + (0.1 - 0.5) * math.log(0.1 / 0.5)
    assert psi([5000, 5000], [9000, 1000]) == pytest.approx(by_hand, rel=1e-3)
    assert js_divergence([10, 0], [0, 10]) == pytest.approx(1.0)  # nothing in common: one bit
    assert psi_reading(0.05) == "stable" and psi_reading(0.2) == "moderate shift" and psi_reading(0.3) == "major shift"
    assert psi_noise(11, 500, 500) == pytest.approx(10 * (2 / 500))


def test_psi_of_two_samples_of_one_population_is_near_its_noise_estimate():
    rng = random.Random(5)
    weights = [0.4, 0.25, 0.15, 0.1, 0.05, 0.03, 0.02]
    values = []
    for _ in range(200):
        a = Counter(rng.choices(range(7), weights, k=800))
        b = Counter(rng.choices(range(7), weights, k=800))
        values.append(psi([a[i] for i in range(7)], [b[i] for i in range(7)]))
    assert sum(values) / len(values) == pytest.approx(psi_noise(7, 800, 800), rel=0.2)


def test_the_ks_test_agrees_with_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(3)
    a = [rng.betavariate(5, 2) for _ in range(300)]
    for b in ([rng.betavariate(5, 2) for _ in range(280)], [rng.betavariate(4, 3) for _ in range(280)]):
        d, p = ks_test(a, b)
        expected = stats.ks_2samp(a, b, method="asymp")
        assert d == pytest.approx(expected.statistic, abs=1e-12)
        assert p == pytest.approx(expected.pvalue, abs=0.02)


# The verdict on synthetic tags ---------------------------------------------------------

def test_two_halves_of_one_shuffled_corpus_report_no_drift(tmp_path):
    rows = tag_rows(1000, MIX, seed=1)
    for seed in range(10):  # ten different shuffles of the same corpus
        then, now = halves(tmp_path, rows, seed)
        report = compare(read_tags(then), read_tags(now))
        assert not report.drift, (seed, [c.name for c in report.moved])
        assert report.top_score is not None and not report.top_score.moved
        assert psi_reading(report.psi) == "stable" and report.psi_within_noise


def test_a_changed_mix_names_the_labels_that_moved(tmp_path):
    changed = {**MIX, "topic 00": 0.15, "topic 05": 0.15}  # a story took over: one label halves, one triples
    then = read_tags(write(tmp_path / "then.jsonl", tag_rows(500, MIX, seed=1)))
    now = read_tags(write(tmp_path / "now.jsonl", tag_rows(500, changed, seed=2, score=(4, 3))))
    report = compare(then, now)
    assert report.drift and {c.name for c in report.moved} == {"topic 00", "topic 05"}
    assert report.labels[0].name == "topic 00" and report.labels[0].change < -0.1  # largest change first
    assert report.top_score is not None and report.top_score.moved and report.top_score.now["p50"] < 0.7
    assert report.psi > 0.1 > report.psi_noise and not report.psi_within_noise


def test_a_rising_no_topic_share_and_a_new_language_are_named(tmp_path):
    quieter = {label: share / 3 for label, share in MIX.items()}
    then = read_tags(write(tmp_path / "then.jsonl", tag_rows(600, MIX, seed=1)))
    now = read_tags(write(tmp_path / "now.jsonl", tag_rows(600, quieter, seed=2, french=0.3)))
    report = compare(then, now)
    assert report.no_topic is not None and report.no_topic.name == NO_TOPIC and report.no_topic.moved
    assert report.no_topic.now_share > report.no_topic.then_share + 0.2
    assert {c.name for c in report.languages if c.moved} == {"en", "fr"}


def test_on_large_samples_a_significant_but_small_change_does_not_count():
    """200,000 articles: 1 share point is far beyond chance, and still below --min-change."""
    then = TagSet("then", "batch output", articles=200_000, label_counts=Counter(sport=40_000, economy=30_000))
    now = TagSet("now", "batch output", articles=200_000, label_counts=Counter(sport=42_000, economy=30_000))
    [sport] = [c for c in compare(then, now).labels if c.name == "sport"]
    assert sport.p_adjusted < 1e-10 and not sport.moved
    assert [c.name for c in compare(then, now, Rule(min_change=0.005)).moved] == ["sport"]


def test_the_no_topic_share_is_compared_only_between_tagged_periods():
    """Against training data or a feedback export (0% no topic by construction), any articles
    without a topic failed a scheduled --fail-on-drift job."""
    tagged = TagSet("now", "batch output", articles=1_000, label_counts=Counter(sport=500, economy=370), no_topic=130)
    for kind in ("training data", "feedback export"):
        labelled = TagSet("then", kind, articles=1_000, label_counts=Counter(sport=550, economy=450))
        report = compare(labelled, tagged)
        assert report.no_topic is None and NO_TOPIC not in [c.name for c in report.moved]
    earlier = TagSet("then", "batch output", articles=1_000, label_counts=Counter(sport=550, economy=440), no_topic=10)
    assert compare(earlier, tagged).no_topic.moved


# Reading files -------------------------------------------------------------------------

def test_batch_rows_with_errors_are_left_out_and_counted(tmp_path):
    rows = tag_rows(20, MIX, seed=1)
    rows.insert(3, {"line": 4, "id": None, "error": "line 4: 'text' must be a non-empty string"})
    tags = read_tags(write(tmp_path / "t.jsonl", rows))
    assert tags.articles == 20 and tags.skipped == 1 and tags.kind == "batch output"
    assert tags.no_topic == sum(not r.get("topics") for r in rows if "topics" in r)
    assert len(tags.top_scores) == 20 - tags.no_topic


def test_a_feedback_export_is_read_by_taxonomy(tmp_path):
    rows = [{"text": "a", "labels": ["economy", "trade"], "taxonomy": "news"},
            {"text": "b", "labels": ["sports"], "taxonomy": "news"},
            {"text": "c", "labels": ["Sport"], "taxonomy": "iptc-top"}]
    path = write(tmp_path / "feedback.jsonl", rows)
    mixed = read_tags(path)
    assert mixed.kind == "feedback export" and mixed.articles == 3 and not mixed.has_scores
    assert "mixes label sets" in " ".join(compare(mixed, mixed).notes)
    news = read_tags(path, taxonomy="news")
    assert news.articles == 2 and news.skipped == 1 and news.label_counts == Counter(economy=1, trade=1, sports=1)
    assert compare(news, news).no_topic is None  # editors always name a topic


@pytest.mark.parametrize("content, message", [
    ('{"line": 1, "topics": []}\n{"text": "x", "labels": ["a"]}\n', ":2: a feedback export row in a file of batch"),
    ('{"line": 1, "topics": []}\nnot json\n', ":2: not valid JSON"),
    ('[1, 2]\n', ":1: each line must be a JSON object"),
    ('{"line": 1, "topics": "sport"}\n', ":1: 'topics' must be a list"),
    ('{"id": "x"}\n', ":1: a row needs 'topics' (batch output) or 'labels'"),
    ('\n\n', "no tagged articles"),
    ('{"line": 1, "topics": [{"label": "economy", "score": NaN}]}\n', ":1: a topic's 'score' must be a number"),
    ('{"line": 1, "topics": [{"label": "economy", "score": 7}]}\n', ":1: a topic's 'score' must be a number"),
    ('{"line": 1, "topics": [{"label": "economy", "score": "high"}]}\n', ":1: a topic's 'score' must be"),
    ('{"line": 1, "topics": [{"label": " ", "score": 0.9}]}\n', ":1: 'topics' must be a list of objects with a non"),
    ('{"text": "x", "labels": [""]}\n', ":1: a row needs 'topics' (batch output) or 'labels'"),
    # Python's JSON reader raises ValueError and RecursionError for these: a traceback and exit 1.
    ('{"line": 1, "topics": [], "n": ' + "1" * 5000 + '}\n', ":1: the JSON has a number too long to read"),
    ('{"line": 1, "topics": ' + "[" * 100_000 + "]" * 100_000 + '}\n', ":1: the JSON is nested too deeply"),
    # Read, then the report crashed printing them (UnicodeEncodeError), exit 1.
    ('{"line": 1, "topics": [{"label": "\\ud800", "score": 0.9}]}\n', ":1: 'topics' is not valid Unicode"),
    ('{"line": 1, "topics": [], "language": "e\\udc80"}\n', ":1: 'language' is not valid Unicode"),
    ('{"text": "x", "labels": ["a"], "taxonomy": "\\ud800"}\n', ":1: 'taxonomy' is not valid Unicode"),
])
def test_unreadable_files_name_the_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(DriftInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_tags(path)


def test_parquet_and_missing_files_are_refused_with_the_reason(tmp_path):
    with pytest.raises(DriftInputError, match="Parquet is not read here"):
        read_tags(tmp_path / "tags.parquet")
    with pytest.raises(DriftInputError, match="No such file"):
        read_tags(tmp_path / "missing.jsonl")


def test_the_real_batch_output_and_feedback_export_are_read(tmp_path, tagger, examples, monkeypatch):
    """The files the service writes, not hand-made ones: service.batch output and /v1/feedback/export."""
    from service import batch, create_app
    from service.engine import Tagger

    monkeypatch.setattr(Tagger, "load", classmethod(lambda cls, options, **_: tagger))
    articles = write(tmp_path / "articles.jsonl", [{"id": e["id"], "text": e["text"]} for e in examples])
    out = tmp_path / "tagged.jsonl"
    assert batch.main(["--input", str(articles), "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    tags = read_tags(out)
    assert tags.kind == "batch output" and tags.articles == len(rows) == len(examples)
    assert tags.label_counts == Counter(t["label"] for r in rows for t in r["topics"])
    assert tags.languages == Counter(r["language"] for r in rows)

    client = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False,
                         "database_url": f"sqlite:///{tmp_path}/fb.db"}).test_client()
    for row in rows[:3]:
        labels = [t["label"] for t in row["topics"][:1]] or ["economy"]
        named = {"model": row["model"], "model_version": tagger.backend.model_version} if row["line"] > 1 else {}
        assert client.post("/v1/feedback", json={"text": f"article {row['line']}", "labels": labels,
                                                 "taxonomy": "news", **named}).status_code == 201
    export = tmp_path / "feedback.jsonl"
    export.write_bytes(client.get("/v1/feedback/export").data)
    feedback = read_tags(export)
    assert feedback.kind == "feedback export" and feedback.articles == 3 and feedback.taxonomies == {"news": 3}
    # Rows name their model and version (null when the correction did not): the model is counted.
    assert feedback.models == {"all-MiniLM-L6-v2": 2}


def test_saved_classify_answers_are_read_a_result_a_row(tmp_path, tagger, examples):
    """A saved documents answer ({"results": [...]}) failed with "a row needs 'topics' ...
    or 'labels'", though the docs said saved answers with topics read as batch rows."""
    from service import create_app

    client = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False,
                         "database_url": f"sqlite:///{tmp_path}/fb.db"}).test_client()
    documents = [{"id": e["id"], "text": e["text"]} for e in examples]
    answers = [client.post("/v1/classify", json={"documents": documents[:4]}),
               client.post("/v1/classify", json={"documents": documents[4:]}),
               client.post("/v1/classify", json={"text": examples[0]["text"]})]
    assert all(a.status_code == 200 for a in answers)
    saved = tmp_path / "answers.jsonl"
    saved.write_bytes(b"".join(a.data.rstrip(b"\n") + b"\n" for a in answers))  # one answer a line
    results = answers[0].json["results"] + answers[1].json["results"] + [answers[2].json]
    tags = read_tags(saved)
    assert tags.kind == "batch output" and tags.articles == len(examples) + 1
    assert tags.label_counts == Counter(t["label"] for r in results for t in r["topics"])
    assert tags.languages == Counter(r["language"] for r in results)
    assert tags.taxonomies == {"news": len(examples) + 1} and tags.models == {"all-MiniLM-L6-v2": len(examples) + 1}
    with pytest.raises(DriftInputError, match=rf"of taxonomy 'iptc-top' \(rows left out: {len(examples) + 1} of "
                                              r"another taxonomy \(news"):
        read_tags(saved, taxonomy="iptc-top")  # each result has the taxonomy its answer names
    bad = write(tmp_path / "bad.jsonl", [{"results": [{"id": "a", "topics": [{"label": "economy"}]},
                                                      {"id": "b", "topics": "economy"}]}])
    with pytest.raises(DriftInputError, match=r"bad.jsonl:1: results\[1\]: 'topics' must be a list"):
        read_tags(bad)
    with pytest.raises(DriftInputError, match=r"bad.jsonl:1: 'results' must be a list of objects"):
        read_tags(write(tmp_path / "bad.jsonl", [{"results": "none"}]))


# The command ---------------------------------------------------------------------------

def test_the_command_prints_text_json_and_a_chart(tmp_path, capsys):
    changed = {**MIX, "topic 00": 0.1, "topic 06": 0.2}
    then = write(tmp_path / "then.jsonl", tag_rows(400, MIX, seed=1))
    now = write(tmp_path / "now.jsonl", tag_rows(400, changed, seed=2))
    assert main([str(then), str(now), "--plots", str(tmp_path / "plots")]) == 0
    text = capsys.readouterr().out
    assert "DRIFT: 2 labels moved" in text and "Moved: topic 00 -" in text and "topic 06 +" in text
    assert "PSI" in text and "No topic:" in text and "Top score" in text
    png = tmp_path / "plots" / "drift.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000

    assert main([str(then), str(now), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["drift"] is True and sorted(data["periods"]["moved"]) == ["topic 00", "topic 06"]
    assert data["periods"]["psi"]["reading"] in ("moderate shift", "major shift")
    assert {"p10", "p50", "p90", "mean"} <= set(data["periods"]["top_score"]["now"])
    assert data["training"] is None

    assert main([str(then), str(now), "--fail-on-drift"]) == 1
    capsys.readouterr()


def test_a_plots_path_that_cannot_hold_the_chart_is_an_error_not_a_traceback(tmp_path, capsys):
    then = write(tmp_path / "then.jsonl", tag_rows(50, MIX, seed=1))
    with pytest.raises(SystemExit) as stop:  # a file where the directory should be: before any work
        main([str(then), str(then), "--plots", str(then)])
    assert stop.value.code == 2 and "is a file: name a directory" in capsys.readouterr().err
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "drift.png").mkdir()  # the chart's own name taken by a directory: the write fails
    assert main([str(then), str(then), "--plots", str(locked)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("drift: error: cannot write the chart") and "Traceback" not in err


def test_plots_without_matplotlib_fail_at_once_and_say_why(tmp_path, capsys, monkeypatch):
    """Serving installs leave matplotlib out (requirements-train.txt)."""
    then = write(tmp_path / "then.jsonl", tag_rows(50, MIX, seed=1))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    with pytest.raises(SystemExit) as stop:
        main([str(then), str(then), "--plots", str(tmp_path / "plots")])
    assert stop.value.code == 2
    assert "--plots needs matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "plots").exists()
    assert main([str(then), str(then), "--fail-on-drift"]) == 0
    assert "No drift" in capsys.readouterr().out


def test_the_command_explains_bad_input(tmp_path, capsys):
    assert main([str(tmp_path / "missing.jsonl"), str(tmp_path / "other.jsonl")]) == 2
    assert "drift: error:" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "one.jsonl")])
    assert exit_info.value.code == 2 and "give THEN and NOW" in capsys.readouterr().err
    for alpha in ("0", "1", "-0.1"):  # 0 let nothing count as moved: the report silently off
        with pytest.raises(SystemExit) as exit_info:
            main([str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"), "--alpha", alpha])
        assert exit_info.value.code == 2 and "--alpha: must be above 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "population stability index" in capsys.readouterr().out


# A fine-tuned model's training data ------------------------------------------------------

def test_training_writes_its_label_shares(trained_model_dir):
    shares = json.loads((trained_model_dir / "label_shares.json").read_text())
    assert shares["rows"] == 40 and shares["labels"]["sport"] == {"articles": 12, "share": 0.3}
    assert shares["source"]["files"] == ["train-small.jsonl"]


def test_tags_are_compared_with_a_models_training_data(trained_model_dir, tmp_path, capsys):
    # 40 training rows, sport 12 of them: production tagging sport on 80% of 300 articles is far from 30%.
    mix = {"sport": 0.8, "economy": 0.1, "health": 0.1, "climate": 0.1}
    now = write(tmp_path / "now.jsonl", tag_rows(300, mix, seed=4))
    assert main([str(now), "--model", str(trained_model_dir), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["periods"] is None and data["training"]["then"]["kind"] == "training data"
    assert data["training"]["then"]["articles"] == 40 and "sport" in data["training"]["moved"]

    assert main([str(now), str(now), "--model", str(trained_model_dir)]) == 0
    text = capsys.readouterr().out
    assert "No drift" in text and f"Against the training data of model {trained_model_dir}" in text


def test_a_model_without_label_shares_falls_back_or_says_why(trained_model_dir, tmp_path, capsys):
    import shutil

    older = tmp_path / "older-model"
    shutil.copytree(trained_model_dir, older)
    (older / "label_shares.json").unlink()  # trained before the file existed: the manifest has the counts
    now = write(tmp_path / "now.jsonl", tag_rows(50, {"sport": 0.3}, seed=1))
    assert main([str(now), "--model", str(older), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["training"]["then"]["articles"] == 40 and "newstag.json" in data["training"]["then"]["source"]

    (older / "newstag.json").unlink()
    assert main([str(now), "--model", str(older)]) == 2
    assert "not a fine-tuned newstag model" in capsys.readouterr().err


def test_a_file_that_cannot_be_read_is_exit_2_with_one_line_never_the_drift_exit_1(tmp_path, capsys):
    """--fail-on-drift defines 1 as "drift found": a crash on a bad line was a false alarm."""
    good = write(tmp_path / "good.jsonl", tag_rows(20, MIX, seed=1))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"line": 1, "topics": [{"label": "\\ud800", "score": 0.9}], "language": "en"}\n')
    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"line": 1, "topics": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    for then, now in ((good, bad), (deep, good)):
        assert main([str(then), str(now), "--fail-on-drift"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("drift: error: ") and err.count("\n") == 1 and ".jsonl:1: " in err


@pytest.mark.parametrize("shares, said", [
    ('{"rows": true, "labels": {"sport": 1}}', "needs a positive 'rows' (a whole number)"),
    ('{"rows": 10, "labels": {"sport": true}}', "label 'sport' has no valid article count"),
    ('{"rows": 10, "labels": {"\\ud800": 1}}', "is not a label name (empty, or not valid Unicode)"),
    ('{"rows": 10, "labels": ' + "[" * 100_000 + "]" * 100_000 + "}", "the JSON is nested too deeply to read"),
])
def test_label_shares_that_cannot_be_counts_or_printed_are_refused(tmp_path, capsys, shares, said):
    """"rows": true read as 1 article; a nested file was a RecursionError traceback; a lone
    surrogate in a label name crashed the report as it printed it."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "label_shares.json").write_text(shares)
    now = write(tmp_path / "now.jsonl", tag_rows(20, {"sport": 0.3}, seed=1))
    assert main([str(now), "--model", str(model), "--fail-on-drift"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("drift: error: ") and said in err and err.count("\n") == 1


def test_a_byte_order_mark_before_the_first_row_is_read_past(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"line": 1, "topics": [{"label": "economy", "score": 0.9}]}\n')
    assert read_tags(path).label_counts == Counter(economy=1)


def test_bulk_error_rows_are_left_out_and_typed_labels_can_be_chosen(tmp_path):
    bulk = tmp_path / "part-000000.jsonl"
    bulk.write_text('{"id": "a", "topics": [{"label": "economy", "score": 0.9}], "error": null}\n'
                    '{"id": "b", "topics": null, "error": "line 2: no \'text\'"}\n')
    tags = read_tags(bulk)
    assert tags.articles == 1 and tags.skipped == 1
    export = tmp_path / "export.jsonl"
    export.write_text('{"text": "x", "labels": ["economy"], "taxonomy": "news"}\n'
                      '{"text": "y", "labels": ["desk"], "taxonomy": null}\n')
    typed = read_tags(export, taxonomy="(typed labels)")  # as the mixed-label-sets note names them
    assert typed.articles == 1 and typed.label_counts == Counter(desk=1)


def test_an_empty_taxonomy_is_the_typed_labels_and_rows_left_out_say_why(tmp_path, capsys):
    """The export gives the typed labels with ?taxonomy= (empty); --taxonomy "" kept none of
    them and said the rows were "lines the job could not tag"."""
    typed = write(tmp_path / "typed.jsonl", [{"text": str(i), "labels": ["desk"], "taxonomy": None, "model": None}
                                             for i in range(46)])
    assert read_tags(typed, taxonomy="").label_counts == Counter(desk=46)
    assert main([str(typed), str(typed), "--taxonomy", ""]) == 0
    assert "46 articles (feedback export)" in capsys.readouterr().out
    mixed = write(tmp_path / "mixed.jsonl", [{"text": str(i), "labels": ["sports"], "taxonomy": "news"}
                                             for i in range(40)]
                  + [{"text": str(i), "labels": ["sport"], "taxonomy": "iptc-top"} for i in range(6)]
                  + [{"line": 47, "id": "x", "error": "text: empty"}])
    assert main([str(mixed), str(mixed), "--taxonomy", ""]) == 2
    assert capsys.readouterr().err == (f"drift: error: {mixed}: no tagged articles with typed labels (rows left out: "
                                       "1 line the job could not tag; 46 of another taxonomy (news 40, iptc-top 6))\n")


def test_taxonomy_keeps_the_bulk_rows_of_that_taxonomy_and_a_mix_is_named(tmp_path, capsys):
    """Bulk rows name their taxonomy: --taxonomy applied to feedback rows only, and a bulk file
    mixing news and iptc-top compared with --taxonomy news read as drift (exit 1)."""
    def bulk_row(i: int, taxonomy: str | None, label: str) -> dict:
        return {"id": str(i), "topics": [{"label": label, "score": 0.9, "code": None}], "warnings": [],
                "error": None, "model": "m", "model_version": "x", "taxonomy": taxonomy, "input_row": i}

    news = [bulk_row(i, "news", ["energy", "sport"][i % 2]) for i in range(200)]
    iptc = [bulk_row(i, "iptc-top", "economy, business and finance") for i in range(200, 400)]
    typed = [bulk_row(i, None, "desk") for i in range(400, 410)]
    then, now = write(tmp_path / "then.jsonl", news), write(tmp_path / "now.jsonl", news + iptc + typed)
    assert main([str(then), str(now), "--taxonomy", "news", "--fail-on-drift"]) == 0
    out = capsys.readouterr().out
    assert "No drift" in out and "NOW: rows left out: 210 of another taxonomy (iptc-top 200, (typed labels) 10)" in out
    assert read_tags(now, taxonomy="(typed labels)").label_counts == Counter(desk=10)
    assert main([str(then), str(now)]) == 0
    assert 'NOW mixes label sets ((typed labels), iptc-top, news): pass --taxonomy (--taxonomy "" for the typed ' \
        'labels)' in capsys.readouterr().out
    batch = write(tmp_path / "batch.jsonl", tag_rows(20, MIX, seed=1))  # service.batch's rows name none
    assert main([str(batch), str(batch), "--taxonomy", "news"]) == 0
    assert "20 rows do not name their taxonomy (newstag batch writes none), so --taxonomy kept them all" in \
        capsys.readouterr().out


def test_periods_where_no_article_has_a_topic_read_as_stable_within_noise(tmp_path, capsys):
    rows = [{"line": i, "id": str(i), "topics": [], "language": "en", "warnings": []} for i in range(50)]
    path = write(tmp_path / "none.jsonl", rows)
    assert main([str(path), str(path)]) == 0
    assert "Label mix: PSI 0.000, stable; within what sampling alone gives" in capsys.readouterr().out


def test_periods_tagged_by_different_models_say_so_and_training_data_is_called_train(tmp_path):
    then, now = tmp_path / "then.jsonl", tmp_path / "now.jsonl"
    then.write_text("".join('{"topics": [{"label": "politics", "score": 0.9}], "model": "all-MiniLM-L6-v2"}\n'
                            for _ in range(5)))
    now.write_text("".join('{"topics": [{"label": "elections", "score": 0.9}], "model": {"name": "desk"}}\n'
                           for _ in range(5)))
    notes = compare(read_tags(then), read_tags(now)).notes
    assert "THEN was tagged by all-MiniLM-L6-v2 and NOW by desk: a change of model" in " ".join(notes)
    from service.drift.comparison import against_training

    training = against_training(read_tags(then), read_tags(now)).notes
    assert any(n.startswith("TRAIN has only 5 articles") for n in training)
    assert not any(n.startswith("THEN") for n in training)


def test_two_batch_outputs_of_different_label_sets_are_said_to_be_apart(tmp_path, tagger, examples, monkeypatch,
                                                                       capsys):
    """Tagged with iptc-top, then news: every label "moved" (PSI 7) and nothing said why."""
    from service import batch
    from service.drift.__main__ import main as drift
    from service.engine import Tagger

    monkeypatch.setattr(Tagger, "load", classmethod(lambda cls, options, **_: tagger))
    articles = write(tmp_path / "articles.jsonl", [{"id": e["id"], "text": e["text"]} for e in examples])
    for name, taxonomy in (("then", "iptc-top"), ("now", "news"), ("again", "news")):
        assert batch.main(["--input", str(articles), "--output", str(tmp_path / f"{name}.jsonl"),
                           "--taxonomy", taxonomy]) == 0
    capsys.readouterr()
    assert drift([str(tmp_path / "then.jsonl"), str(tmp_path / "now.jsonl")]) == 0
    err = capsys.readouterr().err
    assert "drift: warning:" in err and "taxonomy iptc-top" in err and "taxonomy news" in err
    assert drift([str(tmp_path / "now.jsonl"), str(tmp_path / "again.jsonl")]) == 0
    assert "warning" not in capsys.readouterr().err
    # The same label set, tagged by another build (an upgrade in place keeps the version number; job
    # files before session 44 record no code): a third of the labels moved with the code, and no word.
    again_job = tmp_path / "again.jsonl.job.json"
    recorded = json.loads(again_job.read_text())
    for earlier in ({k: v for k, v in recorded.items() if k != "code"}, {**recorded, "code": "0123456789ab"}):
        again_job.write_text(json.dumps(earlier))
        assert drift([str(tmp_path / "again.jsonl"), str(tmp_path / "now.jsonl")]) == 0
        err = capsys.readouterr().err
        assert "drift: warning:" in err and "were tagged by different builds of newstag" in err
    # A fine-tuned model retrained in its directory: the same path, another version.
    for name, version in (("again", "0123456789ab"), ("now", "ba9876543210")):
        (tmp_path / f"{name}.jsonl.job.json").write_text(json.dumps({**recorded, "model": "/models/desk",
                                                                     "model_version": version}))
    assert drift([str(tmp_path / "again.jsonl"), str(tmp_path / "now.jsonl")]) == 0
    assert ("were tagged by different versions of model /models/desk (retrained in its directory: 0123456789ab, "
            "then ba9876543210)") in capsys.readouterr().err


def test_feedback_rows_name_a_label_and_a_file_of_failed_rows_says_so(tmp_path, capsys):
    """[] was read as an article with no topic (a correction always names one); a file whose
    rows all failed said only "no tagged articles"."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text(json.dumps({"text": "a", "labels": [], "taxonomy": None}) + "\n")
    failed = tmp_path / "failed.jsonl"
    failed.write_text("".join(json.dumps({"line": i, "id": str(i), "error": "text: empty"}) + "\n" for i in (1, 2)))
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps({"id": "1", "topics": [{"label": "economy", "score": 0.9}]}) + "\n")
    assert main([str(empty), str(one)]) == 2
    assert "empty.jsonl:1: a row needs 'topics'" in capsys.readouterr().err
    assert main([str(failed), str(one)]) == 2
    assert "failed.jsonl: no tagged articles (rows left out: 2 lines the job could not tag)" in capsys.readouterr().err
    assert main([str(one), str(one)]) == 0
    assert ": 1 article (batch output)" in capsys.readouterr().out


def test_an_empty_period_is_status_2_and_a_period_of_one_article_says_one_article(tmp_path, capsys):
    """A quiet period (an empty file) is no report of no drift; a lone article's note read
    "NOW has only 1 articles"."""
    then = write(tmp_path / "then.jsonl", tag_rows(200, MIX, seed=3))
    empty = write(tmp_path / "empty.jsonl", [])
    assert main([str(then), str(empty), "--fail-on-drift"]) == 2
    assert "no tagged articles" in capsys.readouterr().err
    one = write(tmp_path / "one.jsonl", tag_rows(1, {"topic 00": 1.0}, seed=4))
    assert main([str(then), str(one), "--json"]) == 0
    notes = json.loads(capsys.readouterr().out)["periods"]["notes"]
    assert "NOW has only 1 article: only large changes can show as drift" in notes
