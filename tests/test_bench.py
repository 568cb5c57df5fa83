"""The benchmark scripts keep working: CI runs their --quick modes (the figures come from full runs)."""

from __future__ import annotations

from collections import Counter

import pytest

from bench import peer


def test_peer_benchmark_quick(capsys):
    assert peer.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "RANDOM weights" in out and "single-label" in out and "multi-label" in out and "x\n" in out


def test_ceiling_benchmark_quick(capsys):
    from bench import ceiling

    assert ceiling.main(["--quick", "--tokens", "64"]) == 0
    out = capsys.readouterr().out
    assert "GFLOP per window" in out and "fp32" in out and "bf16" in out


def test_throughput_benchmark_quick(capsys):
    """Starts the real gunicorn server on loopback, drives it briefly, and stops it."""
    from bench import throughput

    assert throughput.main(["--quick", "--data", "seeds/examples.jsonl"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith("fp32")]
    assert [row[2] for row in rows[:2]] == ["1", "2"]
    assert all(int(row[3]) > 0 and row[4] == "0" for row in rows[:2])  # requests done, none failed
    assert "one 500-word article" in out
    assert all(row[-1].endswith("%") and float(row[-1][:-1]) >= float(row[-2][:-1]) for row in rows[:2])  # %all, %ceil


def test_checkouts_benchmark_runs_two_servers_side_by_side(capsys, monkeypatch):
    """bench.checkouts with this checkout on both sides: two real servers, alternated, both answered."""
    from bench import checkouts

    monkeypatch.setenv("NEWSTAG_MULTILINGUAL_MODEL", "off")
    assert checkouts.main(["--before", ".", "--runtime", "torch", "--precision", "fp32", "--rounds", "2",
                           "--seconds", "1", "--latency-runs", "3", "--data", "seeds/examples.jsonl"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert set(rows) == {"before", "after"}
    # name, p50 p25 p75, the two blocks' articles/s, their median
    assert all(float(row[1]) > 0 and len(row) == 7 and float(row[-1]) > 0 for row in rows.values())


def test_burst_benchmark_counts_each_servers_answers(capsys):
    """bench.burst with this checkout on both sides: every request of a small burst answered 200."""
    from bench import burst

    assert burst.main(["--before", ".", "--requests", "2", "--documents", "1", "--rounds", "1", "--timeout", "120",
                       "--data", "seeds/examples.jsonl"]) == 0
    captured = capsys.readouterr()
    rows = {line.split()[0]: line.split() for line in captured.out.splitlines()[3:]}
    assert set(rows) == {"before", "after"}, captured
    # Every request answered and counted once (a broken connection counts nowhere); on a loaded CI
    # machine one may run out of time, so at least one 200 each, with its latencies (a fast one
    # rounds to 0.00 s).
    for row in rows.values():
        assert sum(map(int, row[1:4])) == 2 and int(row[1]) >= 1, captured
        assert 0 <= float(row[4]) <= float(row[6]), captured


def test_window_costs_are_the_named_models(tiny_st_dir, seed_text):
    """With a local model (NEWSTAG_MODEL in bench.throughput), its tokenizer, prompt, window and FLOPs count."""
    from bench.window_costs import article_costs

    [default], [tiny] = article_costs([seed_text]), article_costs([seed_text], tiny_st_dir)
    # The same tokenizer and no prompt, but the tiny model's 128-token window: more, shorter windows.
    assert tiny.windows > default.windows and abs(tiny.tokens - default.tokens) < 2 * tiny.windows
    assert 0 < tiny.flops < default.flops / 20  # a 2-layer, 32-wide model


def test_request_costs_count_the_sentences_read_alone_beside_the_windows(seed_text, monkeypatch):
    """The founding article's topics come with evidence read alone: a second pass the windows do not count."""
    from bench.request_costs import RequestCosts
    from bench.window_costs import article_costs

    monkeypatch.setenv("NEWSTAG_MULTILINGUAL_MODEL", "off")
    [windows] = article_costs([seed_text])
    costs = RequestCosts()
    every = costs(seed_text)
    assert every.sequences > windows.windows and every.tokens > windows.tokens and every.flops > windows.flops
    assert costs(seed_text) is every and costs.counted() == [every]  # each text is tagged once


def test_throughput_skips_precisions_a_model_refuses_on_torch(tiny_st_dir, monkeypatch, capsys):
    from bench import throughput
    from service.engine import model_profiles
    from service.engine.model_files import sha256_of

    digest = sha256_of(tiny_st_dir / "model.safetensors")
    monkeypatch.setitem(model_profiles.PROFILES, digest[:12], model_profiles.ModelProfile(
        refused_precisions={"int8": "measured"}))
    monkeypatch.setenv("NEWSTAG_MODEL", str(tiny_st_dir))
    assert throughput.main(["--data", "seeds/examples.jsonl", "--precision", "int8", "--batching", "on",
                            "--concurrency", "1", "--seconds", "0.5", "--articles", "3"]) == 0  # no server starts
    assert "skipped: refused for this model on torch (measured)" in capsys.readouterr().out


def test_soak_quick_has_no_failures(capsys):
    from bench import soak

    assert soak.main(["--quick", "--data", "seeds/examples.jsonl"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert out.count("check PASS") == 3 and "FAIL" not in out


def test_a_killed_worker_is_replaced_and_only_its_requests_in_flight_fail(capsys):
    from bench import soak

    status = soak.main(["--quick", "--workers", "2", "--kill-worker-at", "2", "--data", "seeds/examples.jsonl"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "killed worker" in out and out.count("check PASS") == 4


def test_padding_benchmark_quick(capsys):
    from bench import padding
    from service.engine import encoder

    assert padding.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "exact" in out and f"step {encoder.PAD_TO}" in out and encoder.PAD_TO == 32  # restored


def test_matcher_leave_one_out_runs_on_small_sets(tmp_path, capsys):
    """Trains on the real embedded model with two small sets, scores the third before and after."""
    import json
    from pathlib import Path

    from bench import matcher_loo

    rows = [json.loads(line) for line in Path("seeds/train-small.jsonl").read_text().splitlines() if line.strip()]
    for k, name in enumerate(["alpha", "beta", "gamma"]):
        with (tmp_path / f"{name}.jsonl").open("w") as out:
            for row in rows[k::3]:
                out.write(json.dumps({"text": row["text"], "labels": [f"{name}-{x}" for x in row["labels"]]}) + "\n")
    (tmp_path / matcher_loo.NAMES).write_text(json.dumps({f"{n}-{x}": x for n in ("alpha", "beta", "gamma")
                                                          for r in rows for x in r["labels"]}))
    assert matcher_loo.main(["--data-dir", str(tmp_path), "--out-dir", str(tmp_path / "out"), "--sets", "alpha",
                             "beta", "gamma", "--only", "gamma", "--max-per-set", "8", "--eval-limit", "10"]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(results) == {"gamma"} and 0 <= results["gamma"]["before"] <= 1 and 0 <= results["gamma"]["after"] <= 1
    assert results["gamma"]["eval_rows"] == 10
    assert (tmp_path / "out" / "without-gamma" / "adapter.safetensors").is_file()
    assert "| gamma | 10 |" in capsys.readouterr().out


def _small_sets(tmp_path, names_and_sections):
    """Copies of seeds/train-small.jsonl under the shared corpora's names, labels renamed."""
    import json
    from pathlib import Path

    rows = [json.loads(line) for line in Path("seeds/train-small.jsonl").read_text().splitlines() if line.strip()]
    for name, sections in names_and_sections.items():
        with (tmp_path / f"{name}.jsonl").open("w") as out:
            for row in rows:
                out.write(json.dumps({"text": row["text"], "labels": [sections[x] for x in row["labels"]]}) + "\n")
    return tmp_path


SECTIONS = {"sport": "sport", "economy": "business", "health": "science", "climate": "science"}


def test_trust_benchmark_runs_on_small_sets(tmp_path, capsys):
    from bench import trust

    data = _small_sets(tmp_path, {name: SECTIONS for name in trust.SETS})
    plot = tmp_path / "reliability.png"
    assert trust.main(["--data-dir", str(data), "--per-set", "12", "--fit-per-corpus", "0",
                       "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "non-news texts with no topic" in out and "evidence sentences that get their topic back" in out
    # own labels for each set; the news and iptc-top taxonomies on each section-labelled set
    assert out.count("| 12 |") == len(trust.SETS) + 2 * len(trust.SECTION_SETS)
    assert "| news, bbc-news-train | 12 |" in out and "| iptc-top, bbc-news-train | 12 |" in out
    assert "the same with the iptc-top taxonomy" in out
    assert f"topics/article, {trust.LONG_WORDS}+ words (articles)" in out
    assert plot.stat().st_size > 1000


def test_topics_per_long_article_counts_only_the_long_ones():
    from bench import trust
    from service.engine.types import TagResult, Topic
    from training.data import Example

    long, short = Example("word " * trust.LONG_WORDS, ("sport",)), Example("A short item.", ("sport",))
    three, one = (TagResult(tuple(Topic(name, 0.9) for name in ("a", "b", "c"))), TagResult((Topic("a", 0.9),)))
    assert trust.topics_per_long_article([long, short, long], [three, one, one]) == "2.00 (2)"
    assert trust.topics_per_long_article([short], [three]) == "- (0)"


def test_section_leads_benchmark_counts_every_item_by_section(tmp_path, capsys):
    import json

    from bench import section_leads

    data = _small_sets(tmp_path, {"bbc-news-train": SECTIONS})
    rows = [json.loads(line) for line in (data / "bbc-news-train.jsonl").read_text().splitlines()]
    assert section_leads.main(["--data-dir", str(data), "--sets", "bbc-news-train", "--fit-per-corpus", "0"]) == 0
    out = capsys.readouterr().out
    total = next(line for line in out.splitlines() if "**all**" in line)
    assert f"| {len(rows)} |" in total
    sport = next(line for line in out.splitlines() if "| sport |" in line)
    items, right = sport.split("|")[3:5]
    assert int(items) == sum(r["labels"][0] == "sport" for r in rows) and float(right) >= 0.5  # the model finds sports


def test_short_news_benchmark_tags_headlines_and_first_sentences_alone(tmp_path, capsys):
    import json

    from bench import short_news

    rows = [{"text": "Floods close the main road\n\nHeavy rain flooded the valley. Drivers were warned.",
             "labels": ["World"]},
            {"text": "Striker signs for champions\n\nThe forward joined on a four-year deal on Monday.",
             "labels": ["Sports"]},
            {"text": "No headline here. Just a body of two sentences.", "labels": ["World"]}]
    (tmp_path / "ag-news-test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert short_news.main(["--data-dir", str(tmp_path), "--sets", "ag-news-test", "--fit-per-corpus", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    own = sum(len(path.read_text().splitlines()) for path in short_news.OWN_ITEMS)
    assert sum(int(line.split("|")[3]) for line in out if line.startswith("| newstag's own")) == own
    assert any(line.startswith("| ag-news-test | headline | 2 |") for line in out)  # the third has none
    assert any(line.startswith("| ag-news-test | first sentence | 3 |") for line in out)
    assert short_news.first_sentence(rows[0]["text"]) == "Heavy rain flooded the valley."


@pytest.mark.parametrize("label", ["COP29", "demining"])
def test_a_news_topic_benchmark_counts_every_item_of_both_sets_by_kind(capsys, label):
    import json

    from bench import news_topic

    topic = news_topic.TOPICS[label]
    assert news_topic.main([label]) == 0
    out = [line.split("|") for line in capsys.readouterr().out.splitlines() if line.startswith("| dev") or
           line.startswith("| held out")]
    for name, path in topic.files().items():
        items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        rows = [row for row in out if row[1].strip() == name]
        assert sum(int(row[3]) for row in rows) == len(items)
        assert {row[2].strip() for row in rows} == {topic.kind_of(item) for item in items}
        assert {f"{label}, named so", f"{label}, named otherwise"} <= {row[2].strip() for row in rows}


def test_tag_cost_benchmark_runs(capsys):
    from bench import tag_cost

    assert tag_cost.main(["--data", "seeds/train-small.jsonl", "--articles", "8", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("| news taxonomy") == 2 and "caller labels" in out


def test_calibration_fit_runs_and_prints_a_calibration(tmp_path, capsys):
    import json

    from training import fit_calibration

    data = _small_sets(tmp_path, {name: SECTIONS for name in fit_calibration.CORPORA})
    (data / "reuters-label-names.json").write_text(json.dumps({}))
    assert fit_calibration.main(["--data-dir", str(data), "--per-corpus", "10"]) == 0
    out = capsys.readouterr().out
    assert "Calibration(weights=(" in out and "non-news" in out


def test_a_calibration_fit_takes_a_labeled_file_of_ones_own_as_a_corpus(tmp_path, capsys):
    import json

    import pytest

    from training import fit_calibration

    data = _small_sets(tmp_path, {name: SECTIONS for name in fit_calibration.CORPORA})
    (data / "reuters-label-names.json").write_text(json.dumps({}))
    (tmp_path / "own").mkdir()
    own = _small_sets(tmp_path / "own", {"french-sections": {"sport": "sport", "economy": "économie",
                                                             "health": "santé", "climate": "climat"}})
    argv = ["--data-dir", str(data), "--per-corpus", "6", "--corpus", str(own / "french-sections.jsonl")]
    assert fit_calibration.main(argv) == 0
    assert "french-sections" in capsys.readouterr().err  # read as a corpus of its own
    with pytest.raises(SystemExit) as exit_info:  # a missing file: a usage error before any model loads
        fit_calibration.main(["--data-dir", str(data), "--corpus", str(tmp_path / "missing.jsonl")])
    assert exit_info.value.code == 2 and "missing.jsonl" in capsys.readouterr().err


def test_a_multilingual_calibration_fit_samples_train_rows_of_each_language(tmp_path, capsys, monkeypatch):
    import json

    from training import calibration_requests, fit_calibration

    non_news: list[int] = []
    real_requests = fit_calibration.non_news_requests

    def counting(backend, texts, *args, **kwargs):
        non_news.append(len(texts))
        return real_requests(backend, texts, *args, **kwargs)

    monkeypatch.setattr(fit_calibration, "non_news_requests", counting)

    data = _small_sets(tmp_path, {name: SECTIONS for name in fit_calibration.CORPORA})
    (data / "reuters-label-names.json").write_text(json.dumps({}))
    rows = [json.loads(line) for line in (data / "bbc-sport.jsonl").read_text().splitlines()]
    with (data / f"{fit_calibration.MULTILINGUAL_CORPUS}.jsonl").open("w") as out:
        for lang in ("rus_Cyrl", "fra_Latn"):
            for i, row in enumerate(rows):
                out.write(json.dumps({**row, "lang": lang, "split": "validation" if i % 3 == 0 else "train"}) + "\n")
    sampled = calibration_requests.sample_by_language(data / f"{fit_calibration.MULTILINGUAL_CORPUS}.jsonl", 5, 2)
    assert list(sampled) == ["fra_Latn", "rus_Cyrl"] and all(len(x) == 5 for x in sampled.values())
    validation = {row["text"] for i, row in enumerate(rows) if i % 3 == 0}
    assert not validation & {e.text for x in sampled.values() for e in x}  # its validation rows stay unseen
    assert fit_calibration.main(["--data-dir", str(data), "--per-corpus", "6", "--multilingual", "4"]) == 0
    assert "sib200-rus_Cyrl" in capsys.readouterr().err  # each language read as a corpus of its own
    english = len(calibration_requests.read_texts(fit_calibration.NON_NEWS_FIT))
    other = len(calibration_requests.read_texts(fit_calibration.NON_NEWS_FIT_MULTILINGUAL))
    assert non_news == [english + other]  # and non-news in other languages beside the English


def test_drift_benchmark_runs_on_small_sets(tmp_path, capsys):
    from bench import drift

    data = _small_sets(tmp_path, {"bbc-news-train": SECTIONS, "inshorts-news": SECTIONS})
    chart = tmp_path / "drift.png"
    assert drift.main(["--data-dir", str(data), "--per-set", "30", "--splits", "3", "--out-dir",
                       str(tmp_path / "out"), "--plot", str(chart)]) == 0
    out = capsys.readouterr().out
    assert "Drift between two periods" in out and "| bbc-news-train | 15 |" in out and "| both pooled | 30 |" in out
    assert len((tmp_path / "out" / "inshorts-news.jsonl").read_text().splitlines()) == 30
    assert chart.stat().st_size > 1000


def test_drift_benchmark_counts_false_alarms_on_small_periods_without_a_model(tmp_path, capsys):
    import json
    import random

    from bench import drift

    rng = random.Random(0)
    (tmp_path / f"{drift.SMALL_CORPUS}.jsonl").write_text("".join(
        json.dumps({"text": f"story {i}", "labels": [rng.choice(["grain", "crude", "earn", "acq"])]}) + "\n"
        for i in range(400)))
    assert drift.main(["--data-dir", str(tmp_path), "--small-periods", "5", "--out-dir", str(tmp_path / "out")]) == 0
    assert "| 300 / 30 | 0 |" in capsys.readouterr().out


SIB_SECTIONS = {"sport": "sports", "economy": "politics", "health": "health", "climate": "science/technology"}


def _multilingual_sets(directory, languages: tuple[str, ...], english_test_split: bool = False,
                       news_sections: dict[str, str] | None = None) -> None:
    """Small SIB-200 (English and ``languages``) and MasakhaNEWS French files from seeds/train-small.jsonl."""
    import json
    from pathlib import Path

    rows = [json.loads(line) for line in Path("seeds/train-small.jsonl").read_text().splitlines() if line.strip()]
    news_sections = news_sections or SIB_SECTIONS
    with (directory / "sib200-multi-train.jsonl").open("w") as multi, (directory / "sib200-eng.jsonl").open("w") as eng:
        for n, row in enumerate(rows):
            labels = [SIB_SECTIONS[row["labels"][0]]]
            split = "test" if english_test_split and n % 5 == 0 else "validation" if n % 5 == 1 else "train"
            eng.write(json.dumps({"id": f"sib200-eng-{n}", "text": row["text"], "labels": labels,
                                  "split": split}) + "\n")
            for lang in languages:
                multi.write(json.dumps({"id": f"sib200-{lang}-{n}", "lang": lang, "text": row["text"],
                                        "labels": labels, "split": "validation" if n % 5 == 1 else "train"}) + "\n")
    with (directory / "masakhanews-fra-dev.jsonl").open("w") as news:
        for row in rows[:10]:
            news.write(json.dumps({"text": row["text"], "labels": [news_sections[row["labels"][0]]]}) + "\n")


def test_multilingual_benchmark_runs_on_small_sets(tmp_path, tiny_st_dir, capsys):
    """Both models' tables, the speed and the prompt comparison, with a tiny model in Gemma's place."""
    from bench import multilingual

    _multilingual_sets(tmp_path, ("fra_Latn", "rus_Cyrl"), english_test_split=True)
    assert multilingual.main(["--data-dir", str(tmp_path), "--gemma", str(tiny_st_dir), "--per-language", "12",
                              "--news", "10", "--speed", "8", "--prompt-sentences", "4", "--prompt-news", "3"]) == 0
    out = capsys.readouterr().out
    assert "| SIB-200 eng_Latn |" in out and "| SIB-200 rus_Cyrl |" in out and "| **SIB-200 mean** |" in out
    assert "| MasakhaNEWS French (10 articles) |" in out and f"| {tiny_st_dir.name} | " in out
    assert out.count("| none | none |") == 1 and out.count("| document |") == 3  # 3 x 3 prompt pairs
    # The template comparison, alone: one row per template, "A + B" averaging both phrasings.
    assert multilingual.main(["--data-dir", str(tmp_path), "--gemma", str(tiny_st_dir), "--per-language", "12",
                              "--news", "10", "--only-templates", "--templates", "news about {}",
                              "news about {} + This text is about {}."]) == 0
    out = capsys.readouterr().out
    assert "| template | eng | fra | rus | SIB mean | SIB lowest | French |" in out
    assert "| `news about {}` |" in out and "| `news about {} + This text is about {}.` |" in out
    assert "| SIB-200 eng_Latn |" not in out and "prompts" not in out


def test_halves_split_each_label_in_two_and_the_multilingual_benchmark_reads_one(tmp_path, tiny_st_dir, capsys):
    """bench.halves: one half of a file to train on, the other to measure on (--news-data)."""
    import json

    from bench import halves, multilingual

    _multilingual_sets(tmp_path, ("fra_Latn",), english_test_split=True)
    news = tmp_path / "masakhanews-fra-dev.jsonl"
    rows = [json.loads(line) for line in news.read_text(encoding="utf-8").splitlines()]
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert halves.main([str(news), str(first), str(second)]) == 0
    parts = [[json.loads(line) for line in p.read_text(encoding="utf-8").splitlines()] for p in (first, second)]
    assert sorted(r["text"] for part in parts for r in part) == sorted(r["text"] for r in rows)  # each row once
    for label in {r["labels"][0] for r in rows}:
        counts = [sum(r["labels"][0] == label for r in part) for part in parts]
        assert counts[1] - counts[0] in (0, 1), (label, counts)
    assert {r["split"] for part in parts for r in part} == {"train"}  # training.matcher reads every row
    assert halves.halves(rows, 7) == halves.halves(rows, 7) != halves.halves(rows, 8)
    assert multilingual.main(["--data-dir", str(tmp_path), "--gemma", str(tiny_st_dir), "--per-language", "4",
                              "--news-data", str(second), "--speed", "2", "--no-prompts", "--only-gemma"]) == 0
    assert f"| French news, b ({len(parts[1])} articles) |" in capsys.readouterr().out


def test_multilingual_benchmark_reads_validation_sentences_and_gemma_with_and_without_its_matcher(
        tmp_path, tiny_st_dir, capsys):
    """--sib-splits validation: only sentences a matcher trained on the train split has not read;
    --gemma-matcher on,off: a column each."""
    from bench import multilingual

    _multilingual_sets(tmp_path, ("fra_Latn",), english_test_split=True)
    sample = multilingual.sib_sample(tmp_path, 100, seed=1, splits=("validation",))
    assert len(sample["eng_Latn"]) == len(sample["fra_Latn"]) == 8  # rows 1, 6, 11, ... of 40
    everything = multilingual.sib_sample(tmp_path, 100, seed=1)
    assert len(everything["eng_Latn"]) == 32  # train and validation; English test rows never
    assert multilingual.main(["--data-dir", str(tmp_path), "--gemma", str(tiny_st_dir), "--per-language", "12",
                              "--news", "4", "--speed", "2", "--no-prompts", "--only-gemma",
                              "--sib-splits", "validation", "--gemma-matcher", "on,off"]) == 0
    out = capsys.readouterr().out
    assert f"| {tiny_st_dir.name} | {tiny_st_dir.name} (no matcher) |" in out
    with pytest.raises(SystemExit):
        multilingual.main(["--data-dir", str(tmp_path), "--sib-splits", "test"])


def test_multilingual_benchmark_compares_gemmas_runtimes_side_by_side(tmp_path, tiny_st_dir, capsys):
    """--gemma-runtimes: a column per runtime and precision, the default model left out with --only-gemma."""
    pytest.importorskip("onnxruntime")
    from bench import multilingual

    _multilingual_sets(tmp_path, ("fra_Latn",), english_test_split=True)
    assert multilingual.main(["--data-dir", str(tmp_path), "--gemma", str(tiny_st_dir), "--per-language", "8",
                              "--news", "4", "--speed", "4", "--no-prompts", "--only-gemma", "--gemma-runtimes",
                              "torch:fp32,onnx:int8", "--onnx-dir", str(tmp_path / "onnx")]) == 0
    out = capsys.readouterr().out
    assert f"| {tiny_st_dir.name} (torch fp32) | fp32 |" in out and f"| {tiny_st_dir.name} (onnx int8) | int8 |" in out
    assert "all-MiniLM-L6-v2" not in out
    assert any("-int8" in d.name for d in (tmp_path / "onnx").iterdir())  # exported for the int8 column


def test_several_templates_average_the_names_phrasings():
    from service.engine.label_vectors import label_phrasings
    from service.engine.types import Label

    label = Label("economy", "Markets and trade.", ("GDP",))
    assert label_phrasings(label, ("news about {}", "This text is about {}.")) == [
        "news about economy", "This text is about economy.", "Markets and trade.", "news about GDP"]
    assert label_phrasings(label, "about {}") == ["about economy", "Markets and trade.", "about GDP"]


def test_bulk_benchmark_quick(capsys):
    """service.batch and the bulk job on Ray (its own local instance, in a subprocess) on seeds/."""
    from bench import bulk

    assert bulk.main(["--quick"]) == 0
    rows = [line.split("|") for line in capsys.readouterr().out.splitlines() if line.startswith("| service.")]
    assert [row[1].strip() for row in rows] == ["service.batch, 1 process × 2 threads",
                                                "service.bulk, 1 worker × 1 thread"]
    assert all(float(row[4]) > 0 and float(row[6]) > 0 and float(row[8]) > 0.1 for row in rows)  # time, CPU, memory


def test_label_language_benchmark_runs_on_small_sets(tmp_path, tiny_st_dir, capsys):
    """Four ways to phrase the labels, each with top-1 and multi-label figures, per language, with a tiny model."""
    from bench import label_language

    _multilingual_sets(tmp_path, ("deu_Latn", "fra_Latn"), news_sections={
        "sport": "sports", "economy": "business", "health": "health", "climate": "technology"})
    assert label_language.main(["--data-dir", str(tmp_path), "--gemma", str(tiny_st_dir), "--per-language", "12",
                                "--news", "10"]) == 0
    out = capsys.readouterr().out
    rows = [line.split(" | ") for line in out.splitlines() if line.startswith(("| SIB-200", "| French news"))]
    ways = ["English names, pinned", "own names, pinned", "own names, own template for every text",
            "own names, as shipped"]
    assert [row[0] for row in rows] == [f"| {texts}, {way}" for texts in (
        "French news, masakhanews-fra-dev (10 articles)", "SIB-200 deu_Latn (12 sentences)",
        "SIB-200 fra_Latn (12 sentences)") for way in ways] and "rus_Cyrl" not in out
    assert all(0 <= float(x) <= 1 for row in rows for x in row[1:5])  # macro-F1, precision, recall, F1
    # Two of the four readings, on validation sentences only and on another news file.
    half = tmp_path / "half.jsonl"
    half.write_text("".join(line + "\n" for line in (tmp_path / "masakhanews-fra-dev.jsonl").read_text(
        encoding="utf-8").splitlines()[:6]), encoding="utf-8")
    assert label_language.main(["--data-dir", str(tmp_path), "--gemma", str(tiny_st_dir), "--per-language", "50",
                                "--news", "10", "--news-data", str(half), "--sib-splits", "validation",
                                "--languages", "deu_Latn", "--ways", "english,shipped"]) == 0
    rows = [line.split(" | ")[0] for line in capsys.readouterr().out.splitlines()
            if line.startswith(("| SIB-200", "| French news"))]
    validation = sum(1 for line in (tmp_path / "sib200-multi-train.jsonl").read_text(encoding="utf-8").splitlines()
                     if '"deu_Latn"' in line and '"validation"' in line)
    assert rows == [f"| {texts}, {way}" for texts in ("French news, half (6 articles)",
                                                      f"SIB-200 deu_Latn ({validation} sentences)")
                    for way in ("English names, pinned", "own names, as shipped")]
    with pytest.raises(SystemExit):
        label_language.main(["--data-dir", str(tmp_path), "--sib-splits", "test"])
    with pytest.raises(SystemExit):
        label_language.main(["--data-dir", str(tmp_path), "--ways", "english,guess"])


def test_own_names_renames_each_rows_labels_in_its_language(tmp_path, capsys):
    """bench.own_names: the same rows with their labels in the row's language; an unknown one is an error."""
    import json

    from bench import own_names

    source, destination = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    rows = [{"id": "a", "lang": "deu_Latn", "text": "Der Kanzler sprach.", "labels": ["politics"], "split": "train"},
            {"id": "b", "lang": "fra", "text": "Le match.", "labels": ["sports"], "split": "train"},
            {"id": "c", "lang": "zho_Hans", "text": "比赛。", "labels": ["sports"], "split": "validation"}]
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert own_names.main([str(source), str(destination)]) == 0
    written = [json.loads(line) for line in destination.read_text(encoding="utf-8").splitlines()]
    assert [r["labels"] for r in written] == [["Politik"], ["sport"], ["体育"]]
    assert [(r["id"], r["split"], r["text"]) for r in written] == [(r["id"], r["split"], r["text"]) for r in rows]
    for bad in ({"lang": "xx", "labels": ["sports"]}, {"lang": "fra", "labels": ["travel"]}):
        source.write_text(json.dumps({"id": "d", "text": "x", **bad}) + "\n", encoding="utf-8")
        assert own_names.main([str(source), str(tmp_path / "never.jsonl")]) == 2
        assert not (tmp_path / "never.jsonl").exists()
    assert "line 1: no" in capsys.readouterr().err


def test_runtimes_benchmark_quick_runs_onnx_through_http(capsys):
    """bench.runtimes exports the graph first, then drives an ONNX server and names the CPU."""
    from bench import runtimes

    assert runtimes.main(["--quick", "--runtime", "onnx", "--data", "seeds/examples.jsonl"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("CPU: ") and "load average" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("onnx-fp32")]
    assert [row[2] for row in rows[:2]] == ["1", "2"]
    assert all(int(row[3]) > 0 and row[4] == "0" for row in rows[:2])


def test_sentence_rules_benchmark_runs_with_the_default_model(tmp_path, capsys, monkeypatch):
    from bench import sentence_rules

    monkeypatch.setenv("NEWSTAG_MULTILINGUAL_MODEL", "off")  # main() would set it for the rest of the session
    cache = tmp_path / "reads.json"
    assert sentence_rules.main(["--rules", "0.55,0.05,4", "0.3,0.05,4", "--cache", str(cache),
                                "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("| 0.55 | 0.05 | 4 |") == 1 and out.count("| 0.3 | 0.05 | 4 |") == 1
    reads = sentence_rules.load(cache)  # the cache keeps what the genre check said
    assert any(r.not_news for r in reads["junk (English)"])
    assert not any(r.not_news for r in reads["founding en"])


def test_onnx_fusions_benchmark_quick_compares_the_shipped_session_with_every_fusion(capsys):
    """bench.onnx_fusions: the shipped session runs Add + LayerNormalization, ONNX Runtime's own fuses them."""
    from bench import onnx_fusions

    assert onnx_fusions.main(["--quick"]) == 0
    out = capsys.readouterr().out
    shipped = next(line for line in out.splitlines() if line.startswith("fp32 shipped runs:"))
    fused = next(line for line in out.splitlines() if line.startswith("fp32 all fusions runs:"))
    assert "LayerNormalization 12" in shipped and "SkipLayerNormalization" not in shipped
    assert "SkipLayerNormalization 12" in fused
    rows = [line.split() for line in out.splitlines() if line.startswith("fp32 ") and "x" in line.split()[1]]
    assert [row[1] for row in rows] == ["2x32", "1x64"] and all(float(row[5]) < 1e-3 for row in rows)


def test_a_load_client_resends_on_a_kept_alive_connection_the_server_closed():
    """gunicorn closes a connection idle past its keepalive; a client alternating between two
    servers meets that as a broken connection, which is not the request's failure."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from bench.server import Client

    class ClosesAfterEachAnswer(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive as far as the client knows

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            self.close_connection = True  # as a keepalive timeout does: no "Connection: close" said

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), ClosesAfterEachAnswer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = Client(server.server_address[1])
        assert [client.classify(b"{}") for _ in range(3)] == [200, 200, 200]
        client.close()
    finally:
        server.shutdown()
        server.server_close()


def test_hostile_bodies_are_within_the_body_limit_so_they_reach_the_app():
    """bench.hostile measures what a request costs past the body limit's check: each must pass it."""
    from bench import hostile
    from service.config import Settings

    limit = Settings.from_env({}).max_body_bytes
    sizes = {what: len(body) for what, body in hostile.bodies().items()}
    assert len(sizes) == 3 and all(size < limit for size in sizes.values()), sizes


def test_section_news_benchmark_scores_every_article_of_each_section(capsys, tmp_path):
    import json

    from bench import section_news

    rows = [json.loads(line) for line in section_news.DATA.read_text().splitlines() if line.strip()]
    assert len(rows) == 90 and set(Counter(row["label"] for row in rows).values()) == {10}
    sample = tmp_path / "few.jsonl"  # three sections, two articles each: the mechanics, fast
    sample.write_text("".join(json.dumps(row) + "\n" for row in rows if row["label"] in {"Sport", "Kultur", "Etat"}
                              and int(row["id"].split("-")[1]) % 5 < 1))
    assert section_news.main(["--data", str(sample)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"few.jsonl: {len(sample.read_text().splitlines())} articles, 3 sections")
    assert "- single-label: macro-F1 **" in out and "topics per article" in out
