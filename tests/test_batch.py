"""Bulk tagging: streaming, per-line errors, and resuming an interrupted run."""

from __future__ import annotations

import codecs
import json
import os
import shutil
from pathlib import Path

import pytest

from service.batch import main
from service.batch_output import job_file
from tests.conftest import unwritable_dir


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
    shutil.copy(job_file(tmp_path / "full.jsonl"), job_file(tmp_path / "part.jsonl"))
    assert main([*args, "--output", str(tmp_path / "part.jsonl"), "--resume"]) == 0
    assert (tmp_path / "part.jsonl").read_text() == full


def test_a_fine_tuned_model_tags_the_file_and_a_resume_with_another_model_is_refused(tmp_path, trained_model_dir,
                                                                                     capsys):
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"id": str(i), "text": text}) + "\n" for i, text in enumerate(
        ["The striker scored twice in the cup final. Fans sang until midnight.",
         "The central bank raised interest rates to curb inflation."])))
    args = ["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl")]
    assert main([*args, "--model", str(trained_model_dir)]) == 0
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [row["model"] for row in rows] == ["desk-topics"] * 2, rows[0]["model"]
    assert [row["topics"][0]["label"] for row in rows] == ["sport", "economy"]
    assert main([*args, "--resume"]) == 2  # the default model would mix its rows with the fine-tuned one's
    assert "model" in capsys.readouterr().err
    for extra, said in ((["--taxonomy", "news"], "has its own labels: a taxonomy does not apply"),
                        ([], "no such directory")):
        model = trained_model_dir if extra else tmp_path / "nowhere"
        assert main([*args[:3], str(tmp_path / "o2.jsonl"), "--model", str(model), *extra]) == 2
        assert said in capsys.readouterr().err


def test_resume_with_the_model_retrained_in_place_is_refused(tmp_path, trained_model_dir, capsys):
    """The job file recorded the model's path alone: a model retrained in the same directory
    (as training.md suggests) resumed the job, and the output mixed two models' rows."""
    import hashlib

    from safetensors.numpy import load_file, save_file

    model = shutil.copytree(trained_model_dir, tmp_path / "desk")
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"id": str(i), "text": f"The striker scored {i} goals."})
                                               + "\n" for i in range(6)))
    args = ["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl"), "--model", str(model),
            "--batch-size", "2"]
    assert main(args) == 0
    (tmp_path / "out.jsonl").write_text("".join((tmp_path / "out.jsonl").read_text().splitlines(keepends=True)[:2]))
    head = load_file(model / "head.safetensors")  # retrained: other weights, pinned again
    save_file({name: value + 0.01 for name, value in head.items()}, model / "head.safetensors")
    manifest = json.loads((model / "newstag.json").read_text())
    manifest["sha256"]["head.safetensors"] = hashlib.sha256((model / "head.safetensors").read_bytes()).hexdigest()
    (model / "newstag.json").write_text(json.dumps(manifest))
    assert main([*args, "--resume"]) == 2
    assert "other model_version (the model in that directory was retrained since)" in capsys.readouterr().err


def test_missing_input_and_unknown_taxonomy_fail_fast(tmp_path, tiny_env, capsys):
    assert main(["--input", str(tmp_path / "none.jsonl"), "--output", str(tmp_path / "o.jsonl")]) == 2
    (tmp_path / "in.jsonl").write_text('{"text": "x"}\n')
    assert main(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "o.jsonl"),
                 "--taxonomy", "nope"]) == 2
    assert "unknown taxonomy" in capsys.readouterr().err


def test_lines_are_read_as_the_bulk_job_reads_them_and_blank_lines_skipped(tmp_path, tiny_env):
    lines = [json.dumps({"text": "Trade talks resumed."}),  # no id: null, and its line number
             "",
             json.dumps({"id": 7, "text": "A numeric id is its string, as in bulk."}),
             json.dumps({"id": "x", "text": "Other fields are ignored.", "section": "world"}),
             "   ",
             json.dumps({"id": "2", "text": "An id that looks like a line number."}),
             b'{"id": "bytes", "text": "Oil \xff prices rose."}'.decode("latin-1"),
             json.dumps({"id": "long", "text": "x" * 100_001}),
             json.dumps({"id": "", "text": "An empty id."})]
    (tmp_path / "in.jsonl").write_bytes(codecs.BOM_UTF8 + "\n".join(lines).encode("latin-1") + b"\r\n")
    assert main(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl"),
                 "--labels", "trade,football"]) == 0
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(row["line"], row["id"]) for row in rows] == [
        (1, None), (3, "7"), (4, "x"), (6, "2"), (7, None), (8, "long"), (9, None)]
    assert all("topics" in row for row in rows[:4])  # the BOM before line 1 is not part of it
    assert "section" not in rows[2]
    assert rows[4] == {"line": 7, "id": None, "error": "line 7: not valid UTF-8 (byte 29)"}
    assert rows[5]["error"] == "line 8: 'text' has 100001 characters; the limit is 100000"
    assert rows[6]["error"].startswith("line 9: 'id' must be a string of 1 to 200 characters")


def test_options_and_paths_that_cannot_work_are_refused_before_the_model_loads(tmp_path, tiny_env, capsys,
                                                                               monkeypatch):
    from service import batch

    monkeypatch.setattr(batch.Tagger, "load", lambda *a, **k: pytest.fail("the model was loaded"))
    (tmp_path / "in.jsonl").write_text(json.dumps({"text": "Trade talks resumed."}) + "\n")
    (tmp_path / "folder").mkdir()
    given = ["--input", str(tmp_path / "in.jsonl"), "--output"]
    for extra, said in ((["o.jsonl", "--threshold", "5"], "--threshold must be between 0 and 1"),
                        (["o.jsonl", "--top-k", "0"], "--top-k must be at least 1"),
                        (["o.jsonl", "--batch-size", "0"], "--batch-size must be at least 1"),
                        (["o.jsonl", "--labels", ""], "--labels names no label"),
                        (["o.jsonl", "--labels", " , "], "--labels names no label"),
                        (["folder"], "is a directory"),
                        (["no/such/dir/o.jsonl"], "no such directory"),
                        # checked only once the model had loaded (17-20 s)
                        (["o.jsonl", "--taxonomy", "nope"], "unknown taxonomy 'nope' (known: "),
                        (["o.jsonl", "--labels", ",".join(f"l{i}" for i in range(101))],
                         "--labels: at most 100 labels per call, got 101"),
                        (["o.jsonl", "--labels", "Energy,trade,energy"],
                         "--labels names the same label twice, 'Energy' and 'energy' (names are compared ignoring"),
                        ([str(unwritable_dir(tmp_path) / "o.jsonl")], "cannot write there (a read-only filesystem")):
        assert main([*given, str(tmp_path / extra[0]), *extra[1:]]) == 2, extra
        err = capsys.readouterr().err
        assert said in err and err.count("\n") == 1, (extra, err)
    assert not (tmp_path / "o.jsonl").exists()
    for flags in (["--input", "-", "--output", str(tmp_path / "o.jsonl")], [*given, "-"]):  # a file named "-" it was
        assert main(flags) == 2
        assert "batch reads its input twice" in capsys.readouterr().err
    assert not Path("-").exists()
    # An input that is not a file: it said "no such input file".
    os.mkfifo(tmp_path / "pipe.jsonl")
    for given, said in ((tmp_path / "folder", "is a directory: name a JSONL file"),
                        (tmp_path / "pipe.jsonl", "is not a regular file (a pipe or a device)")):
        assert main(["--input", str(given), "--output", str(tmp_path / "o.jsonl")]) == 2
        assert f"batch: error: --input {given} {said}" in capsys.readouterr().err


def test_resume_refuses_an_output_of_another_input_or_other_options_and_leaves_it_as_it_was(tmp_path, tiny_env,
                                                                                          capsys, monkeypatch):
    write_input(tmp_path / "in.jsonl", n=10)
    args = ["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl"), "--labels", "trade"]
    assert main(args) == 0
    done = (tmp_path / "out.jsonl").read_text()
    # One of this version number but other code (an upgrade in place: the version stays 0.1.0, and
    # job files before session 44 record no code): resumed, its rows and the new ones differed.
    recorded = json.loads(job_file(tmp_path / "out.jsonl").read_text())
    for earlier in ({k: v for k, v in recorded.items() if k != "code"}, {**recorded, "code": "0123456789ab"}):
        job_file(tmp_path / "out.jsonl").write_text(json.dumps(earlier))
        assert main([*args, "--resume"]) == 2
        assert (f"out.jsonl was written by another build of newstag {recorded['newstag']} (its code differs from "
                "this one's, so its rows and this run's would not agree): --overwrite to start again"
                in capsys.readouterr().err)
    job_file(tmp_path / "out.jsonl").write_text(json.dumps(recorded))
    assert main([*args[:-1], "trade,football", "--resume"]) == 2
    assert "written with other options" in capsys.readouterr().err
    # Settings that change results count too: a resumed run under another text limit mixed two kinds of rows.
    monkeypatch.setenv("NEWSTAG_MAX_TEXT_CHARS", "20")
    assert main([*args, "--resume"]) == 2
    assert "written with other settings" in capsys.readouterr().err
    monkeypatch.delenv("NEWSTAG_MAX_TEXT_CHARS")
    with (tmp_path / "in.jsonl").open("a") as more:
        more.write(json.dumps({"text": "One more article about trade."}) + "\n")
    assert main([*args, "--resume"]) == 2
    assert "written with other input" in capsys.readouterr().err
    # A job file of an older newstag, which recorded no version (and other fields): named as such.
    recorded = json.loads(job_file(tmp_path / "out.jsonl").read_text())
    job_file(tmp_path / "out.jsonl").write_text(json.dumps({k: v for k, v in recorded.items() if k != "newstag"}))
    assert main([*args, "--resume"]) == 2
    assert "was written by an older newstag (this is newstag " in capsys.readouterr().err
    job_file(tmp_path / "out.jsonl").unlink()
    assert main([*args, "--resume"]) == 2
    assert "is missing" in capsys.readouterr().err
    assert (tmp_path / "out.jsonl").read_text() == done
    # A file this command did not write, its last line unterminated: refused, not cut.
    (tmp_path / "notes.jsonl").write_text('{"a": 1}\n{"b": 2}')
    shutil.copy(tmp_path / "in.jsonl", tmp_path / "in2.jsonl")
    assert main(["--input", str(tmp_path / "in2.jsonl"), "--output", str(tmp_path / "notes.jsonl"), "--resume"]) == 2
    assert (tmp_path / "notes.jsonl").read_text() == '{"a": 1}\n{"b": 2}'
    assert main([*args, "--overwrite"]) == 0  # starting again is always possible
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 11


def test_resume_after_the_taxonomy_file_was_edited_in_place_is_refused(tmp_path, tiny_env, capsys, monkeypatch):
    """A file in NEWSTAG_TAXONOMIES_DIR edited in place keeps its name: resumed, the rows tagged
    with the old topics sat beside the new ones' in one output (bulk refused it already)."""
    taxonomies = tmp_path / "taxonomies"
    taxonomies.mkdir()
    desk = taxonomies / "desk.yaml"
    topics = "name: desk\ntitle: Desk\ntopics:\n  - name: trade\n  - name: football\n"
    desk.write_text(topics)
    monkeypatch.setenv("NEWSTAG_TAXONOMIES_DIR", str(taxonomies))
    write_input(tmp_path / "in.jsonl", n=10)
    args = ["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl"), "--taxonomy", "desk"]
    assert main(args) == 0
    done = (tmp_path / "out.jsonl").read_text()
    lines = done.splitlines(keepends=True)
    (tmp_path / "out.jsonl").write_text("".join(lines[:4]))  # as if interrupted
    assert main([*args, "--resume"]) == 0  # unchanged: resumed
    assert (tmp_path / "out.jsonl").read_text() == done
    (tmp_path / "out.jsonl").write_text("".join(lines[:4]))
    desk.write_text(topics.replace("football\n", "football\n    description: Matches, clubs and players.\n"))
    assert main([*args, "--resume"]) == 2
    assert "written with another version of the taxonomy (its file was edited since" in capsys.readouterr().err
    assert (tmp_path / "out.jsonl").read_text() == "".join(lines[:4])
    assert main([*args, "--overwrite"]) == 0


def test_ctrl_c_keeps_whole_results_exits_130_and_resume_finishes_the_same_file(tmp_path, tiny_env, capsys,
                                                                               monkeypatch):
    from service import batch

    write_input(tmp_path / "in.jsonl")
    args = ["--input", str(tmp_path / "in.jsonl"), "--labels", "trade,football", "--batch-size", "4"]
    assert main([*args, "--output", str(tmp_path / "full.jsonl")]) == 0
    real, calls = batch._tag_batch, []

    def interrupted(*a):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a)

    monkeypatch.setattr(batch, "_tag_batch", interrupted)
    assert main([*args, "--output", str(tmp_path / "part.jsonl")]) == 130
    assert "run the same command with --resume" in capsys.readouterr().err
    assert len((tmp_path / "part.jsonl").read_text().splitlines()) == 8
    monkeypatch.setattr(batch, "_tag_batch", real)
    assert main([*args, "--output", str(tmp_path / "part.jsonl"), "--resume"]) == 0
    assert (tmp_path / "part.jsonl").read_text() == (tmp_path / "full.jsonl").read_text()


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
    shutil.copy(job_file(tmp_path / "full.jsonl"), job_file(tmp_path / "part.jsonl"))
    assert main([*args, "--output", str(tmp_path / "part.jsonl"), "--resume"]) == 0
    assert (tmp_path / "part.jsonl").read_text() == "".join(full)


def test_lines_pythons_json_reader_refuses_otherwise_or_cannot_write_out_are_error_rows(tmp_path, tiny_env):
    """A 5,000-digit number, nesting 100,000 deep and a lone surrogate in the id crashed the run
    (the batch's rows lost) and --resume stopped at the same line on every run."""
    text = "Article about trade."
    start = '{"id": "a", "text": "' + text + '"'
    lines = [start + "}",
             start + ', "n": ' + "1" * 5000 + "}",
             start + ', "n": ' + "[" * 100_000 + "]" * 100_000 + "}",
             '{"id": "\\ud800", "text": "' + text + '"}',
             start + ', "ignored": "\\ud800"}']  # batch writes no other field
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl"),
                 "--labels", "trade"]) == 0
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(row["line"], row["id"], row.get("error")) for row in rows] == [
        (1, "a", None),
        (2, None, "line 2: the JSON has a number too long to read (over 4,300 digits)"),
        (3, None, "line 3: the JSON is nested too deeply to read"),
        (4, None, "line 4: 'id' is not valid Unicode (it has a lone surrogate)"),
        (5, "a", None)]


def test_progress_into_a_log_is_not_redrawn_after_every_batch(tmp_path, tiny_env, capsys):
    """progress.py promises a log at most a line every 30 s; a refresh after each batch wrote one per batch."""
    write_input(tmp_path / "in.jsonl")
    assert main(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl"),
                 "--labels", "trade", "--batch-size", "2"]) == 0
    draws = capsys.readouterr().err.split("\r")[1:]  # stderr here is not a terminal
    # The bar as it starts and as it ends (and once more a 30 s, should the machine be that slow),
    # where a redraw per batch gave 14.
    assert len(draws) <= 4, draws
    assert "23/23" in draws[-1]


def test_a_write_error_mid_run_is_one_line_and_resume_continues_after_the_last_whole_line(tmp_path, tiny_env, capsys,
                                                                                         monkeypatch):
    """A full disk gave three chained tracebacks and left half a line. The output's writes here
    stop part-way through a line with ENOSPC, as a filling disk's do."""
    import errno
    import os

    from service import batch_output

    write_input(tmp_path / "in.jsonl")
    args = ["--input", str(tmp_path / "in.jsonl"), "--labels", "trade,football", "--batch-size", "4"]
    assert main([*args, "--output", str(tmp_path / "full.jsonl")]) == 0
    capsys.readouterr()
    full = (tmp_path / "full.jsonl").read_text()
    limit = len(full.encode()) // 2  # within a line, several batches in
    assert full.encode()[limit - 1:limit] != b"\n"
    real_write, part_path = os.write, str(tmp_path / "part.jsonl")

    def filling_disk(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}") != part_path:
            return real_write(fd, data)
        room = limit - os.fstat(fd).st_size
        if room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, bytes(data[:room]))

    with monkeypatch.context() as patched:
        patched.setattr(batch_output.os, "write", filling_disk)
        status = main([*args, "--output", part_path])
    stderr = capsys.readouterr().err
    err = stderr.split("\r")[-1].splitlines()[-1]
    assert status == 1 and "Traceback" not in stderr
    assert err.startswith(f"batch: error: cannot write {part_path}: No space left on device; the ")
    assert err.endswith("run the same command with --resume to continue")
    part = (tmp_path / "part.jsonl").read_text()
    assert part.endswith("\n") and full.startswith(part) and 0 < len(part) <= limit  # no half line
    assert main([*args, "--output", part_path, "--resume"]) == 0
    assert (tmp_path / "part.jsonl").read_text() == full


class Escaped(Exception):
    """What the test's own handler raises: the signal reached the test, not the command."""


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_an_interrupt_while_the_model_loads_is_one_line_and_exit_130(tmp_path, tiny_env, capsys, monkeypatch, how):
    """Ctrl-C during Tagger.load printed a KeyboardInterrupt traceback; SIGTERM, at any time,
    ended the run without a word (exit 143)."""
    import signal

    from service import batch
    from tests.conftest import interrupted

    def loading(*a, **k):
        interrupted(how, "load")

    def escaped(*a):
        raise Escaped(how)

    write_input(tmp_path / "in.jsonl")
    monkeypatch.setattr(batch.Tagger, "load", loading)
    before = signal.signal(signal.SIGTERM, escaped)  # the test's, not the default: that would end the test run
    try:
        status = main(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl"),
                       "--labels", "trade"])
        assert signal.getsignal(signal.SIGTERM) is escaped  # put back as it was
    except KeyboardInterrupt:  # not pytest's to see: it would stop the whole run
        pytest.fail("KeyboardInterrupt escaped from the command: a traceback")
    finally:
        signal.signal(signal.SIGTERM, before)
    err = capsys.readouterr().err
    assert status == 130 and err == "\nbatch: interrupted before tagging began; nothing was written\n"
    assert not (tmp_path / "out.jsonl").exists()


def test_sigterm_mid_run_keeps_the_results_written_as_ctrl_c_does(tmp_path, tiny_env, capsys, monkeypatch):
    import os
    import signal

    from service import batch

    write_input(tmp_path / "in.jsonl")
    real, calls = batch._tag_batch, []

    def terminated(*a):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*a)

    monkeypatch.setattr(batch, "_tag_batch", terminated)
    before = signal.signal(signal.SIGTERM, lambda *a: pytest.fail("SIGTERM reached the test"))
    args = ["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl"), "--labels", "trade",
            "--batch-size", "4"]
    try:
        assert main(args) == 130
        assert "the 8 results written are kept" in capsys.readouterr().err
        assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 8
        calls.clear()  # resumed, and stopped again after two more batches: all 16 are kept, not this run's 8
        assert main([*args, "--resume"]) == 130
    finally:
        signal.signal(signal.SIGTERM, before)
    assert "the 16 results written are kept" in capsys.readouterr().err
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 16


def test_overwrite_that_cannot_write_its_job_file_leaves_the_old_output_whole(tmp_path, monkeypatch):
    """--overwrite emptied the output, then failed on the job file beside it (a directory it may
    not write): the old results were lost to a run that never began."""

    from service.batch_output import job_file, open_output
    from service.engine import NewstagError

    output = tmp_path / "out.jsonl"
    output.write_text('{"line": 1, "id": null, "topics": []}\n')
    job_file(output).write_text('{"old": true}')

    def refused(self, *a, **k):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as patched:
        patched.setattr(Path, "write_text", refused)
        with pytest.raises(NewstagError, match="Permission denied"):
            open_output(output, {"new": True}, None)
    assert output.read_text() == '{"line": 1, "id": null, "topics": []}\n'
    assert job_file(output).read_text() == '{"old": true}'
    open_output(output, {"new": True}, None).close()  # where it can: emptied, the new job recorded
    assert output.read_text() == "" and json.loads(job_file(output).read_text()) == {"new": True}


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
def test_a_compressed_input_is_read_as_the_jsonl_it_holds_and_resumed(tmp_path, tiny_env, suffix):
    """A .jsonl.gz gave one error row per line ('not valid UTF-8') and exit 0."""
    import bz2
    import gzip
    import lzma

    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}[suffix]
    write_input(tmp_path / "in.jsonl")
    with opener(tmp_path / f"in.jsonl{suffix}", "wb") as handle:
        handle.write((tmp_path / "in.jsonl").read_bytes())
    args = ["--labels", "trade,football", "--batch-size", "4"]
    assert main(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "plain.jsonl"), *args]) == 0
    packed = ["--input", str(tmp_path / f"in.jsonl{suffix}"), *args]
    assert main([*packed, "--output", str(tmp_path / "packed.jsonl")]) == 0
    plain = (tmp_path / "plain.jsonl").read_text()
    assert (tmp_path / "packed.jsonl").read_text() == plain
    (tmp_path / "part.jsonl").write_text("".join(plain.splitlines(keepends=True)[:7]))
    shutil.copy(job_file(tmp_path / "packed.jsonl"), job_file(tmp_path / "part.jsonl"))
    assert main([*packed, "--output", str(tmp_path / "part.jsonl"), "--resume"]) == 0
    assert (tmp_path / "part.jsonl").read_text() == plain


def test_a_compressed_input_cut_short_is_one_line_not_a_traceback(tmp_path, tiny_env, capsys):
    import gzip

    write_input(tmp_path / "in.jsonl", n=400)
    packed = gzip.compress((tmp_path / "in.jsonl").read_bytes())
    (tmp_path / "cut.jsonl.gz").write_bytes(packed[: len(packed) // 2])
    assert main(["--input", str(tmp_path / "cut.jsonl.gz"), "--output", str(tmp_path / "out.jsonl"),
                 "--labels", "trade"]) == 1
    err = capsys.readouterr().err
    assert "cannot read" in err and "a compressed file cut short or damaged?" in err and "Traceback" not in err


def test_a_run_where_no_line_could_be_tagged_exits_1(tmp_path, tiny_env, capsys):
    """Every line an error row ("txt" for "text", empty texts) exited 0: a scheduled job could not notice."""
    (tmp_path / "bad.jsonl").write_text('{"text": ""}\n{"txt": "hello"}\n')
    assert main(["--input", str(tmp_path / "bad.jsonl"), "--output", str(tmp_path / "o.jsonl"), "--labels", "a"]) == 1
    assert "no line could be tagged" in capsys.readouterr().err
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 2
    (tmp_path / "some.jsonl").write_text('{"text": ""}\n{"text": "Trade talks resumed."}\n')
    assert main(["--input", str(tmp_path / "some.jsonl"), "--output", str(tmp_path / "o2.jsonl"), "--labels", "a"]) == 0
