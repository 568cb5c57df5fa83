"""Bulk tagging: streaming, per-line errors, and resuming an interrupted run."""

from __future__ import annotations

import json

import pytest

from service.batch import main


@pytest.fixture()
def tiny_env(monkeypatch, tiny_model_dir):
    monkeypatch.setenv("NEWSTAG_MODEL", str(tiny_model_dir))


def write_input(path, n=23):
    rows = [json.dumps({"id": f"doc-{i}", "text": f"Article {i} about trade and football."}) for i in range(n)]
    rows[5] = "{broken"
    rows[9] = json.dumps({"id": "blank", "text": "   "})
    path.write_text("\n".join(rows) + "\n")


def test_every_line_gets_a_result_in_order(tmp_path, tiny_env):
    write_input(tmp_path / "in.jsonl")
    assert main(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl"),
                 "--labels", "trade,football", "--batch-size", "4"]) == 0
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(rows) == 23
    assert rows[0]["id"] == "doc-0" and "topics" in rows[0]
    assert rows[5] == {"line": 6, "id": None,
                       "error": "line 6: not valid JSON (Expecting property name enclosed in double quotes)"}
    assert rows[9]["id"] == "blank" and "empty or only whitespace" in rows[9]["error"]
    assert [row["line"] for row in rows] == list(range(1, 24))


def test_resume_keeps_complete_lines_and_finishes_the_same_file(tmp_path, tiny_env):
    write_input(tmp_path / "in.jsonl")
    args = ["--input", str(tmp_path / "in.jsonl"), "--labels", "trade,football", "--batch-size", "4"]
    assert main([*args, "--output", str(tmp_path / "full.jsonl")]) == 0
    full = (tmp_path / "full.jsonl").read_text()
    lines = full.splitlines(keepends=True)
    (tmp_path / "part.jsonl").write_text("".join(lines[:10]) + lines[10][:15])  # cut mid-line
    assert main([*args, "--output", str(tmp_path / "part.jsonl"), "--resume"]) == 0
    assert (tmp_path / "part.jsonl").read_text() == full


def test_missing_input_and_unknown_taxonomy_fail_fast(tmp_path, tiny_env, capsys):
    assert main(["--input", str(tmp_path / "none.jsonl"), "--output", str(tmp_path / "o.jsonl")]) == 2
    (tmp_path / "in.jsonl").write_text('{"text": "x"}\n')
    assert main(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "o.jsonl"),
                 "--taxonomy", "nope"]) == 2
    assert "unknown taxonomy" in capsys.readouterr().err


def test_lines_are_validated_like_api_documents_and_blank_lines_skipped(tmp_path, tiny_env):
    lines = [json.dumps({"text": "Trade talks resumed."}),  # no id: null, and its line number
             "",
             json.dumps({"id": 7, "text": "Numeric ids are refused."}),
             json.dumps({"id": "x", "text": "Extra fields too.", "section": "world"}),
             "   ",
             json.dumps({"id": "2", "text": "An id that looks like a line number."})]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl"),
                 "--labels", "trade,football"]) == 0
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(row["line"], row["id"]) for row in rows] == [(1, None), (3, None), (4, "x"), (6, "2")]
    assert "topics" in rows[0] and "topics" in rows[3]
    assert rows[1]["error"].startswith("line 3: /id:")
    assert rows[2]["error"].startswith("line 4: /section:")


def test_an_existing_output_is_never_replaced_without_overwrite(tmp_path, tiny_env, capsys):
    (tmp_path / "in.jsonl").write_text(json.dumps({"text": "Trade talks resumed."}) + "\n")
    (tmp_path / "out.jsonl").write_text("earlier results\n")
    args = ["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl"), "--labels", "trade"]
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "out.jsonl").read_text() == "earlier results\n"
    assert main([*args, "--overwrite"]) == 0
    assert json.loads((tmp_path / "out.jsonl").read_text())["line"] == 1


@pytest.mark.parametrize("flag", ["--overwrite", "--resume"])
def test_the_input_file_is_never_the_output_even_with_overwrite(tmp_path, tiny_env, capsys, flag):
    """--overwrite with --output the input truncated the articles before reading them."""
    write_input(tmp_path / "in.jsonl")
    articles = (tmp_path / "in.jsonl").read_text()
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "in.jsonl")
    for output in ("in.jsonl", "link.jsonl"):
        assert main(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / output), "--labels", "trade",
                     flag]) == 2
        assert "is the input file" in capsys.readouterr().err
    assert (tmp_path / "in.jsonl").read_text() == articles


def test_resume_counts_input_lines_not_results(tmp_path, tiny_env):
    lines = [json.dumps({"id": f"d{i}", "text": f"Article {i} on trade."}) if i % 3 else "" for i in range(12)]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    args = ["--input", str(tmp_path / "in.jsonl"), "--labels", "trade", "--batch-size", "2"]
    assert main([*args, "--output", str(tmp_path / "full.jsonl")]) == 0
    full = (tmp_path / "full.jsonl").read_text().splitlines(keepends=True)
    assert len(full) == 8  # the four blank lines have no result
    (tmp_path / "part.jsonl").write_text("".join(full[:3]) + full[3][:10])
    assert main([*args, "--output", str(tmp_path / "part.jsonl"), "--resume"]) == 0
    assert (tmp_path / "part.jsonl").read_text() == "".join(full)
