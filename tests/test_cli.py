from __future__ import annotations

import io
import json

import pytest

from service.cli import main


def test_tag_json_gives_the_mission_topics_with_exact_offsets(capsys, seed_text):
    from tests.conftest import SEED_ARTICLE

    assert main(["tag", str(SEED_ARTICLE), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    labels = [t["label"] for t in payload["topics"]]
    assert {"bilateral relations", "economy", "COP29", "demining"} <= set(labels)
    assert payload["taxonomy"] == "news" and payload["model"]["name"] == "all-MiniLM-L6-v2"  # as the API names it
    assert set(payload["model"]) == {"name", "kind", "version"}
    for topic in payload["topics"]:
        for ev in topic["evidence"]:
            assert seed_text[ev["start"]:ev["end"]] == ev["text"]


def test_tag_reads_stdin_and_prints_topics_with_evidence(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"The striker scored twice. The crowd sang.")))
    assert main(["tag", "-", "--labels", "football, banking", "--single-label"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("football")
    assert "[0:25] The striker scored twice." in out[1]


def test_tag_says_why_a_text_gets_no_topic(capsys, monkeypatch):
    """The warnings --json gives are in the plain output too: "no topic" alone hides that the
    model read the text as not news."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"Hello")))
    assert main(["tag", "-"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "no topic"  # not the threshold: the genre check
    assert out[1].startswith("warning (not-news): The text does not read like news")


def test_tag_options_reach_the_tagger(capsys, tmp_path):
    article = tmp_path / "a.txt"
    article.write_text("Oil prices rose after OPEC cut output. Markets fell.")
    assert main(["tag", str(article), "--labels", "a,b,c", "--threshold", "0", "--top-k", "2",
                 "--no-evidence", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["topics"]) == 2 and payload["taxonomy"] is None
    assert all(t["evidence"] == [] for t in payload["topics"])


def test_errors_are_one_line_and_exit_2(capsys, tmp_path):
    assert main(["tag", str(tmp_path / "missing.txt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("newstag: error: cannot read") and err.count("\n") == 1
    empty = tmp_path / "empty.txt"
    empty.write_text("  ")
    assert main(["tag", str(empty)]) == 2
    assert "empty.txt is empty" in capsys.readouterr().err
    assert main(["tag", str(empty), "--taxonomy", "nope"]) == 2


def test_taxonomies_lists_the_builtin_ones(capsys, builtin_topic_counts):
    assert main(["taxonomies"]) == 0
    out = capsys.readouterr().out
    counts = builtin_topic_counts
    assert f"news (default): {counts['news']} topics" in out and f"iptc-top: {counts['iptc-top']} topics" in out


def test_taxonomies_lists_one_without_a_title_cleanly(capsys, tmp_path, monkeypatch):
    (tmp_path / "desk.yaml").write_text("name: desk\ntopics:\n  - name: council\n")
    monkeypatch.setenv("NEWSTAG_TAXONOMIES_DIR", str(tmp_path))
    assert main(["taxonomies"]) == 0
    assert "\ndesk: 1 topic.\n" in "\n" + capsys.readouterr().out  # was "desk: 1 topics. ", a blank title


@pytest.mark.parametrize("args, message", [
    ([], "is empty"),  # an empty file (written below when the case asks for it)
    (["--threshold", "2"], "--threshold must be between 0 and 1"),
    (["--top-k", "0"], "--top-k must be at least 1"),
    (["--taxonomy", "nope"], "unknown taxonomy 'nope'"),
    (["--taxonomy", "news", "--labels", "a,b"], "not both"),
])
def test_bad_options_fail_before_the_model_loads(tmp_path, capsys, monkeypatch, args, message):
    def no_model(*_args, **_kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr("service.tagging.Tagger.load", no_model)
    (tmp_path / "a.txt").write_text("Oil prices rose." if args else " \n")
    assert main(["tag", str(tmp_path / "a.txt"), *args]) == 2
    assert message in capsys.readouterr().err



def test_model_tags_with_a_fine_tuned_model_directory(capsys, tmp_path, trained_model_dir):
    (tmp_path / "a.txt").write_text("The striker scored twice in the cup final. Fans sang until midnight.")
    assert main(["tag", str(tmp_path / "a.txt"), "--model", str(trained_model_dir), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["model"]["name"] == "desk-topics" and payload["taxonomy"] is None
    assert payload["topics"][0]["label"] == "sport"


def test_a_served_models_bare_name_points_to_its_directory(capsys, tmp_path, trained_model_dir, monkeypatch):
    """`--model desk-topics`, the name /v1/models gives, said only "no such directory"."""
    (tmp_path / "a.txt").write_text("Oil prices rose.")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSTAG_MODELS_DIR", str(trained_model_dir.parent))
    assert main(["tag", "a.txt", "--model", trained_model_dir.name]) == 2
    assert f"the model of that name in NEWSTAG_MODELS_DIR is --model {trained_model_dir}" in capsys.readouterr().err


def test_model_errors_come_before_loading(capsys, tmp_path, trained_model_dir, monkeypatch):
    monkeypatch.setattr("service.tagging.Tagger.load", lambda *_, **__: (_ for _ in ()).throw(AssertionError()))
    (tmp_path / "a.txt").write_text("Oil prices rose.")
    assert main(["tag", str(tmp_path / "a.txt"), "--model", str(tmp_path / "nowhere")]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert main(["tag", str(tmp_path / "a.txt"), "--model", str(trained_model_dir), "--taxonomy", "news"]) == 2
    assert "has its own labels" in capsys.readouterr().err


def test_newstag_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: newstag ")
    for command in ("tag", "taxonomies", "export-onnx", "serve", "batch", "bulk", "drift"):
        assert f"    {command} " in out


def test_bulk_hands_on_its_options_and_says_what_is_missing_without_ray(tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as stop:
        main(["bulk", "--help"])
    assert stop.value.code == 0 and capsys.readouterr().out.startswith("usage: newstag bulk ")
    assert main(["bulk", "--input", str(tmp_path / "none.jsonl"), "--output", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.startswith("bulk: error: --input ")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    assert main(["bulk", "--input", "x.jsonl", "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("newstag bulk: error: the bulk job needs ray,") and "pip install 'newstag[bulk]'" in err


def test_batch_and_drift_hand_their_options_to_their_own_commands(tmp_path, capsys, monkeypatch):
    def no_model(*_args, **_kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr("service.batch.Tagger.load", no_model)
    assert main(["batch", "--input", str(tmp_path / "missing.jsonl"), "--output", str(tmp_path / "out.jsonl")]) == 2
    assert capsys.readouterr().err.startswith("batch: error: no such input file")
    with pytest.raises(SystemExit) as stop:
        main(["batch", "--help"])
    assert stop.value.code == 0 and capsys.readouterr().out.startswith("usage: newstag batch ")
    assert main(["drift", str(tmp_path / "then.jsonl"), str(tmp_path / "now.jsonl")]) == 2
    assert capsys.readouterr().err.startswith("drift: error: ")


def test_a_model_directory_that_fails_inside_a_library_is_one_line_not_a_traceback(capsys, tmp_path, monkeypatch,
                                                                                   trained_model_dir):
    import shutil

    from service.engine import classifier

    shutil.copytree(trained_model_dir, tmp_path / "odd")
    (tmp_path / "a.txt").write_text("Oil prices rose.")

    def odd_encoder(*args, **kwargs):
        raise ValueError("invalid literal for int() with base 10: 'lots'")

    # The encoder of a model on the embedded base may already be loaded for another model of
    # this process (shared_encoders.py): the failure is where it would be loaded or shared.
    monkeypatch.setattr(classifier.shared_encoders, "acquire", odd_encoder)
    assert main(["tag", str(tmp_path / "a.txt"), "--model", str(tmp_path / "odd")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"newstag: error: --model {tmp_path / 'odd'} cannot be loaded: ValueError: invalid literal for "
                   "int() with base 10: 'lots'"]
    # A value the directory's checks refuse is said by them, naming the file.
    monkeypatch.undo()
    manifest = json.loads((tmp_path / "odd" / "newstag.json").read_text())
    (tmp_path / "odd" / "newstag.json").write_text(json.dumps({**manifest, "max_tokens": "lots"}))
    assert main(["tag", str(tmp_path / "a.txt"), "--model", str(tmp_path / "odd")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"newstag: error: {tmp_path / 'odd' / 'newstag.json'}: 'max_tokens' must be a whole number of "
                   "tokens, at least 16 (training's --max-length), not 'lots'"]


def test_tag_reads_the_file_as_it_is_a_bom_left_out_and_crlf_kept_for_the_offsets(capsys, tmp_path):
    raw = "The striker scored twice.\r\nThe crowd sang until midnight.\r\n"
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbf" + raw.encode())
    assert main(["tag", str(tmp_path / "a.txt"), "--labels", "football,banking", "--json", "--threshold", "0"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert 27 in {ev["start"] for topic in payload["topics"] for ev in topic["evidence"]}  # after the \r\n
    for topic in payload["topics"]:
        for ev in topic["evidence"]:
            assert raw[ev["start"]:ev["end"]] == ev["text"]
    (tmp_path / "bad.txt").write_bytes(b"Oil \xff rose.")
    assert main(["tag", str(tmp_path / "bad.txt")]) == 2
    assert capsys.readouterr().err.strip() == f"newstag: error: {tmp_path / 'bad.txt'} is not valid UTF-8 (byte 4)"
    (tmp_path / "long.txt").write_text("word " * 30_000)
    assert main(["tag", str(tmp_path / "long.txt")]) == 2
    assert "long.txt has 150000 characters; the limit is 100000" in capsys.readouterr().err


def test_taxonomies_says_when_the_default_taxonomy_is_not_installed(capsys, monkeypatch):
    monkeypatch.setenv("NEWSTAG_TAXONOMY", "nope")
    assert main(["taxonomies"]) == 2
    assert "unknown taxonomy 'nope'" in capsys.readouterr().err


def test_serve_help_says_which_defaults_newstag_replaces(capsys):
    # gunicorn's help alone listed 127.0.0.1:8000 and 1 sync worker, which newstag serve does not run with.
    with pytest.raises(SystemExit) as stop:
        main(["serve", "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.index("bind 0.0.0.0:$PORT") < out.index("usage: newstag serve")
    assert "worker class gthread" in out and "not what newstag serve runs with" in out


def test_labels_are_split_on_the_commas_of_other_scripts():
    """"经济，体育，政治" (full-width commas) and the Arabic comma made one label."""
    from service.tagging import TagOptions

    assert TagOptions.parse_labels("经济，体育，政治") == ("经济", "体育", "政治")
    assert TagOptions.parse_labels("اقتصاد، رياضة، سياسة") == ("اقتصاد", "رياضة", "سياسة")
    assert TagOptions.parse_labels("経済、スポーツ") == ("経済", "スポーツ")
    assert TagOptions.parse_labels("economy, business and finance") == ("economy", "business and finance")
