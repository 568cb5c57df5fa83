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
    assert rows[5] == {"id": 6, "error": "line 6: not valid JSON (Expecting property name enclosed in double quotes)"}
    assert rows[9]["id"] == "blank" and "non-empty" in rows[9]["error"]


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
