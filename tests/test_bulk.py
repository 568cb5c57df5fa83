"""The bulk job on a real local Ray instance, with the tiny random model: the same topics as
service.batch, carried columns, error rows, and a killed run resumed with each id once."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from service.batch import main as batch_main
from service.bulk import main
from service.engine import NewstagError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ray_local():
    """One small Ray instance for the module's jobs (each job starts its own actor pool on it)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture()
def tiny_env(monkeypatch, tiny_model_dir):
    monkeypatch.setenv("NEWSTAG_MODEL", str(tiny_model_dir))


def read_output(path: Path) -> list[dict]:
    if list(path.glob("*.jsonl")):
        return [json.loads(line) for p in sorted(path.glob("part-*.jsonl")) for line in p.read_text().splitlines()]
    return pads.dataset(sorted(path.glob("part-*.parquet")), format="parquet").to_table().to_pylist()


def articles(n: int) -> list[dict]:
    return [{"id": f"doc-{i}", "text": f"Article {i}: the minister discussed trade. The striker scored twice.",
             "section": ["world", "sport"][i % 2], "url": f"https://example.org/{i}", "meta": {"words": 9 + i}}
            for i in range(n)]


def test_jsonl_fields_of_any_value_give_shards_that_read_as_one_table(tmp_path, tiny_env, ray_local):
    """Typed shard by shard, {} failed its shard on every run, and a field null in one shard and
    text in the next could not be read together (the documented reader)."""
    rows = [{"id": f"d{i}", "text": f"Article {i} about trade.", "meta": {} if i == 0 else {"n": i},
             "source": None if i < 3 else "reuters", "score": [1, "x", 2.5, True, None, [1]][i]} for i in range(6)]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out"), "--shard-rows", "3",
                 "--labels", "trade"]) == 0
    out = sorted(read_output(tmp_path / "out"), key=lambda r: r["input_row"])
    assert [r["error"] for r in out] == [None] * 6
    assert [r["meta"] for r in out] == ["{}"] + [f'{{"n": {i}}}' for i in range(1, 6)]
    assert [r["source"] for r in out] == [None] * 3 + ["reuters"] * 3
    assert [r["score"] for r in out] == ["1", "x", "2.5", "true", None, "[1]"]


def test_jsonl_output_is_strict_json_whatever_the_parquet_columns_hold(tmp_path, tiny_env, ray_local):
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq
    table = pa.table({"id": ["a", "b", "c"], "text": ["Trade talks.", "More trade.", "Trade again."],
                      "price": [1.5, float("nan"), float("inf")], "blob": [b"\x00\xff", None, b"x"],
                      "day": [datetime.date(2024, 5, 1)] * 3})
    pq.write_table(table, tmp_path / "in.parquet")
    assert main(["--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "out"), "--format", "jsonl",
                 "--labels", "trade"]) == 0
    lines = (tmp_path / "out" / "part-000000.jsonl").read_text().splitlines()
    rows = [json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} is not JSON")) for line in lines]
    assert [r["price"] for r in rows] == [1.5, None, None]
    assert [r["blob"] for r in rows] == ["AP8=", None, "eA=="] and rows[0]["day"] == "2024-05-01"


def test_same_topics_as_service_batch_with_columns_carried_and_error_rows(tmp_path, tiny_env, ray_local):
    rows = [json.dumps(a) for a in articles(23)]
    rows[4] = "{broken"
    rows[8] = json.dumps({"id": "blank", "text": "   ", "section": "world"})
    rows[12] = json.dumps({"text": "No id at all."})
    rows[15] = json.dumps({"id": "clash", "text": "A field named like an output column.", "topics": ["x"]})
    lines = [line.encode() for line in rows]
    lines[19] = b'{"id": "latin1", "text": "caf\xe9"}'  # not UTF-8
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(lines) + b"\n\n")
    options = ["--taxonomy", "news", "--threshold", "0", "--top-k", "3"]

    assert main(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out"), "--shard-rows", "7",
                 *options]) == 0
    # service.batch takes the API's documents (id and text only): the same lines, less the other columns.
    plain = [json.dumps({"id": a["id"], "text": a["text"]}) for a in articles(23)]
    (tmp_path / "plain.jsonl").write_text("\n".join(plain) + "\n")
    assert batch_main(["--input", str(tmp_path / "plain.jsonl"), "--output", str(tmp_path / "batch.jsonl"),
                       "--no-evidence", *options]) == 0

    out = read_output(tmp_path / "out")
    assert sorted(r["input_row"] for r in out) == list(range(1, 24))  # every line once, the blank one none
    by_row = {r["input_row"]: r for r in out}
    batch = {r["line"]: r for r in map(json.loads, (tmp_path / "batch.jsonl").read_text().splitlines())}
    tagged = [n for n in by_row if by_row[n]["error"] is None]
    assert len(tagged) == 18
    for n in tagged:
        mine, theirs = by_row[n]["topics"], batch[n]["topics"]
        assert [t["label"] for t in mine] == [t["label"] for t in theirs]
        assert [t["code"] for t in mine] == [t.get("code") for t in theirs]
        assert [t["score"] for t in mine] == pytest.approx([t["score"] for t in theirs], abs=1e-3)
        assert by_row[n]["id"] == batch[n]["id"] == f"doc-{n - 1}"
        assert by_row[n]["warnings"] == batch[n]["warnings"]  # why topics are missing, as batch and the API say
    first = by_row[1]
    # JSONL fields are text in Parquet: strings as they are, other JSON values as JSON text (one type in every shard).
    assert (first["section"], first["url"], first["meta"]) == ("world", "https://example.org/0", '{"words": 9}')
    assert first["model"] == "tiny-encoder0" and len(first["model_version"]) == 12 and first["taxonomy"] == "news"
    assert first["input_file"] == str((tmp_path / "in.jsonl").resolve())
    errors = {n: (by_row[n]["id"], by_row[n]["error"]) for n in by_row if by_row[n]["error"]}
    assert errors == {
        5: (None, "line 5: not valid JSON (Expecting property name enclosed in double quotes)"),
        9: ("blank", "line 9: 'text' is empty or only whitespace"),
        13: (None, "line 13: no 'id'"),
        16: ("clash", "line 16: field(s) topics would be overwritten by the output's: rename them"),
        20: (None, "line 20: not valid UTF-8 (byte 29)"),
    }
    assert all(by_row[n]["topics"] is None for n in errors)
    assert by_row[9]["section"] == "world"  # an error row keeps its columns too


def test_parquet_columns_keep_their_types_and_jsonl_output(tmp_path, tiny_env, ray_local):
    when = [dt.datetime(2024, 1, d + 1, tzinfo=dt.UTC) for d in range(6)]
    table = pa.table({"id": pa.array(range(100, 106), pa.int32()), "text": [a["text"] for a in articles(6)],
                      "published": pa.array(when, pa.timestamp("ms", tz="UTC")),
                      "words": pa.array(range(6), pa.int16())})
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=4)
    pq.write_table(table.slice(0, 2).set_column(1, "text", pa.array(["", "Trade talks resumed."])),
                   tmp_path / "b.parquet")
    assert main(["--input", str(tmp_path / "*.parquet"), "--output", str(tmp_path / "pq"), "--shard-rows", "3",
                 "--labels", "trade,football", "--evidence", "--workers", "1"]) == 0
    out = pq.read_table(sorted((tmp_path / "pq").glob("part-*.parquet"))[0])
    assert out.schema.field("published").type == pa.timestamp("ms", tz="UTC")
    assert out.schema.field("words").type == pa.int16() and out.column("id").to_pylist() == ["100", "101", "102"]
    assert {"text", "start", "end", "score"} <= set(out.column("topics").to_pylist()[0][0]["evidence"][0])
    assert len(list((tmp_path / "pq").glob("part-*.parquet"))) == 4  # row groups 4+2 in 3-row shards, then 2

    assert main(["--input", str(tmp_path / "b.parquet"), "--output", str(tmp_path / "js"), "--format", "jsonl",
                 "--labels", "trade,football", "--single-label"]) == 0
    rows = read_output(tmp_path / "js")
    assert [(r["id"], r["error"]) for r in rows] == [("100", "row 1: 'text' is empty or only whitespace"),
                                                   ("101", None)]
    assert rows[1]["published"].startswith("2024-01-02") and len(rows[1]["topics"]) == 1
    assert rows[1]["taxonomy"] is None  # caller labels


def test_a_killed_run_resumed_gives_each_id_exactly_once(tmp_path, tiny_env, ray_local):
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(a) + "\n" for a in articles(600)))
    args = ["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out"), "--shard-rows", "4",
            "--taxonomy", "news", "--evidence"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    job = subprocess.Popen([sys.executable, "-m", "service.bulk", *args, "--workers", "1"], cwd=tmp_path, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    written: list[Path] = []
    try:
        deadline = time.monotonic() + 240
        while len(written) < 3 and job.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            written = list((tmp_path / "out").glob("part-*.parquet")) if (tmp_path / "out").exists() else []
    finally:
        family = psutil.Process(job.pid).children(recursive=True) if job.poll() is None else []
        os.killpg(job.pid, signal.SIGKILL)  # the whole job at once, as a lost machine or kill -9 would
        for process in family:  # Ray's own processes, should any have left the group
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        job.wait(timeout=60)
        psutil.wait_procs(family, timeout=60)
    assert len(written) >= 3, job.stderr.read().decode()[-3000:] if job.stderr else ""
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("part-*.parquet")}
    assert len(before) < 150, "the job finished before it could be killed: nothing was tested"
    (tmp_path / "out" / ".part-000149.parquet.tmp-deadbeef").write_bytes(b"half a shard")  # a write cut short

    assert main(args) == 0
    out = read_output(tmp_path / "out")
    assert sorted(r["id"] for r in out) == sorted(f"doc-{i}" for i in range(600))  # each exactly once
    assert all(r["error"] is None and len(r["topics"]) > 0 for r in out)
    assert len(list((tmp_path / "out").glob("part-*.parquet"))) == 150
    assert not list((tmp_path / "out").glob(".*tmp*"))
    # Shards written before the kill are kept as they were, not tagged again.
    assert {name: (tmp_path / "out" / name).stat().st_mtime_ns for name in before} == before

    # Once complete, the same command has nothing left to do, and other options are refused.
    assert main(args) == 0
    assert main([*args, "--threshold", "0.2"]) == 2
    assert len(read_output(tmp_path / "out")) == 600


def test_bad_arguments_fail_before_anything_starts(tmp_path, tiny_env, capsys):
    (tmp_path / "in.jsonl").write_text(json.dumps({"id": "a", "text": "Trade."}) + "\n")
    (tmp_path / "notes.txt").write_text("x")
    pq.write_table(pa.table({"id": ["a"], "body": ["Trade."]}), tmp_path / "nobody.parquet")
    pq.write_table(pa.table({"id": ["a"], "text": ["Trade."], "model": ["v1"]}), tmp_path / "clash.parquet")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("someone else's")
    (tmp_path / "arch" / "tagged").mkdir(parents=True)
    (tmp_path / "arch" / "in.jsonl").write_text(json.dumps({"id": "a", "text": "Trade."}) + "\n")
    (tmp_path / "arch" / "tagged" / "part-000000.jsonl").write_text(json.dumps({"id": "a", "topics": []}) + "\n")
    (tmp_path / "g" / "2026").mkdir(parents=True)
    (tmp_path / "g" / "2026" / "in.jsonl").write_text(json.dumps({"id": "a", "text": "Trade."}) + "\n")
    inp, out = ["--input", str(tmp_path / "in.jsonl")], str(tmp_path / "o")
    cases = [
        (["--input", str(tmp_path / "none*.jsonl"), "--output", out], "no JSONL or Parquet file matches it"),
        (["--input", str(tmp_path / "notes.txt"), "--output", out], "not a JSONL or Parquet file"),
        (["--input", str(tmp_path / "nobody.parquet"), "--output", out], "no text column"),
        (["--input", str(tmp_path / "clash.parquet"), "--output", out], "column(s) model would be overwritten"),
        ([*inp, "--output", out, "--taxonomy", "nope"], "unknown taxonomy"),
        ([*inp, "--output", out, "--threshold", "2"], "--threshold must be between 0 and 1"),
        ([*inp, "--output", out, "--labels", "a,b", "--taxonomy", "news"], "give --labels or --taxonomy"),
        ([*inp, "--output", out, "--shard-rows", "0"], "--shard-rows must be at least 1"),
        # refused by every worker, once Ray had started
        ([*inp, "--output", out, "--labels", "Energy,energy"], "the same label twice, 'Energy' and 'energy'"),
        ([*inp, "--output", out, "--model", str(tmp_path / "busy")], "model directory has no config.json"),
        ([*inp, "--output", str(tmp_path / "busy")], "not empty and holds no bulk job"),
        ([*inp, "--output", str(tmp_path / "notes.txt")], "is a file: name a directory"),
        # an output inside the input directory: refused on the first run, since every run after it (the one that
        # would finish an interrupted job) would read its shards as articles
        (["--input", str(tmp_path / "arch"), "--output", str(tmp_path / "arch" / "tagged")],
         "is inside the input directory"),
        # and where a glob would find its shards: refused only on the second run before
        (["--input", str(tmp_path / "g" / "**" / "*.jsonl"), "--output", str(tmp_path / "g" / "tagged"),
          "--format", "jsonl"], "is where --input"),
        ([*inp, "--output", out, "--threads-per-worker", "0"], "--threads-per-worker must be at least 1"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("bulk: error:") and message in err, (argv, err)
        assert "Traceback" not in err
    assert (tmp_path / "busy" / "keep.txt").read_text() == "someone else's"
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("pattern, output, refused", [
    ("g/**/*.jsonl", "g/tagged", True),
    ("g/**", "g/tagged", True),
    ("g/*/*.jsonl", "g/tagged", True),
    ("g/*/*.parquet", "g/tagged", False),  # the shards are .jsonl here
    ("g/*.jsonl", "g/tagged", False),  # one level only: the shards are two down
    ("g/2026/*.jsonl", "g/tagged", False),
    ("g/**/*.jsonl", "g/.tagged", False),  # glob's wildcards skip hidden names
    ("g/**/*.jsonl", "out", False),
    ("g/**/*1.jsonl", "g/tagged", True),  # not the first shard, but the second and the eleventh
    ("g/**/part-00000[5-9].jsonl", "g/tagged", True),
])
def test_an_output_where_an_input_glob_finds_its_shards_is_refused(tmp_path, monkeypatch, pattern, output, refused):
    from service.bulk.plan import check_apart, input_files

    monkeypatch.chdir(tmp_path)
    (tmp_path / "g" / "2026").mkdir(parents=True)
    (tmp_path / "g" / "2026" / "a.jsonl").write_text("{}\n")
    (tmp_path / "g" / "top.jsonl").write_text("{}\n")
    files = input_files(["g"]).files  # none inside the output: only the pattern can refuse it
    if refused:
        with pytest.raises(NewstagError, match=re.escape(f"is where --input {pattern} finds files")):
            check_apart(files, Path(output), [pattern], "jsonl")
    else:
        check_apart(files, Path(output), [pattern], "jsonl")


def test_a_second_job_on_the_same_output_is_refused_while_the_first_runs(tmp_path, tiny_env, capsys):
    from service.bulk.output import OutputDir

    (tmp_path / "in.jsonl").write_text(json.dumps({"id": "a", "text": "Trade."}) + "\n")
    first = OutputDir(tmp_path / "out", "parquet")
    first.claim({"a": "job"}, overwrite=False)  # holds the lock, as a running job does
    try:
        assert main(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out")]) == 2
        assert "another bulk job is writing there now" in capsys.readouterr().err
    finally:
        first.release()


def test_a_job_an_older_newstag_wrote_is_named_as_such_not_as_other_settings(tmp_path):
    """A job file from before the version was recorded (and its engine moved into 'settings') was
    refused as a job 'with other engine, settings'."""
    from service import __version__
    from service.bulk.output import OutputDir

    old = OutputDir(tmp_path / "out", "parquet")
    old.claim({"engine": "embedding", "inputs": ["a"]}, overwrite=False)
    old.release()
    again = OutputDir(tmp_path / "out", "parquet")
    with pytest.raises(NewstagError, match=r"holds a job that was written by an older newstag \(this is newstag "):
        again.claim({"newstag": __version__, "inputs": ["a"], "settings": {"engine": "embedding"}}, overwrite=False)
    again.release()
    changed = OutputDir(tmp_path / "other", "parquet")
    changed.claim({"newstag": __version__, "inputs": ["a"]}, overwrite=False)
    changed.release()
    with pytest.raises(NewstagError, match="holds a job that was written with other inputs"):
        OutputDir(tmp_path / "other", "parquet").claim({"newstag": __version__, "inputs": ["b"]}, overwrite=False)


def test_a_job_of_other_code_under_the_same_version_is_refused(tmp_path, monkeypatch):
    """The version stays 0.1.0 from one commit to the next: a job an earlier build wrote (no
    'code' before session 44) was resumed, its shards beside the new build's disagreeing."""
    from service import __version__
    from service.bulk import cli
    from service.bulk.output import OutputDir
    from service.tagging import code_fingerprint

    claimed = []

    def claim(self, job, overwrite):
        claimed.append(job)
        raise NewstagError("stopped here")

    (tmp_path / "in.jsonl").write_text(json.dumps({"id": "a", "text": "Trade talks resumed."}) + "\n")
    monkeypatch.setattr(cli.OutputDir, "claim", claim)
    assert cli.main(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out")]) == 2
    assert claimed[0]["code"] == code_fingerprint() and len(code_fingerprint()) == 12
    monkeypatch.undo()
    old = OutputDir(tmp_path / "old", "parquet")
    old.claim({"newstag": __version__, "inputs": ["a"]}, overwrite=False)
    old.release()
    with pytest.raises(NewstagError, match=r"holds a job that was written by another build of newstag "
                                           r"\S+ \(its code differs from this one's"):
        OutputDir(tmp_path / "old", "parquet").claim({"newstag": __version__, "code": code_fingerprint(),
                                                      "inputs": ["a"]}, overwrite=False)


def test_a_taxonomy_file_edited_since_the_job_is_refused_not_mixed_in(tmp_path, monkeypatch):
    """A file in NEWSTAG_TAXONOMIES_DIR edited in place keeps its name and directory: the same
    command run again kept the shards of the old topics beside the new ones' (or, the job
    finished, said "nothing left to do" and tagged nothing with the new topics)."""
    from service.bulk import cli
    from service.tagging import job_difference

    claimed = []

    def claim(self, job, overwrite):
        claimed.append(json.loads(json.dumps(job)))
        raise NewstagError("stopped here")

    taxonomies = tmp_path / "taxonomies"
    taxonomies.mkdir()
    desk = taxonomies / "desk.yaml"
    topics = "name: desk\ntitle: Desk\ntopics:\n  - name: economy\n  - name: sport\n"
    desk.write_text(topics)
    (tmp_path / "in.jsonl").write_text(json.dumps({"id": "a", "text": "Trade talks resumed."}) + "\n")
    monkeypatch.setenv("NEWSTAG_TAXONOMIES_DIR", str(taxonomies))
    monkeypatch.setattr(cli.OutputDir, "claim", claim)
    command = ["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out"), "--taxonomy", "desk"]
    for _ in range(2):
        assert cli.main(command) == 2
    desk.write_text(topics + "  - name: politics\n")
    assert cli.main(command) == 2
    desk.write_text(topics.replace("sport\n", "sport\n    description: Matches and athletes.\n"))
    assert cli.main(command) == 2
    assert cli.main([*command[:4], "--labels", "economy,sport"]) == 2
    first, same, added, described, labels = claimed
    assert job_difference(first, same) is None
    assert job_difference(first, added) .startswith("was written with another version of the taxonomy (its file")
    assert job_difference(first, described) .startswith("was written with another version of the taxonomy (its file")
    assert labels["taxonomy_content"] is None


def test_overwrite_refuses_a_directory_of_other_files_before_it_removes_anything(tmp_path):
    """--overwrite deleted the earlier job's shards, then refused the directory for a README beside them."""
    from service import __version__
    from service.bulk.output import JOB_FILE, OutputDir

    job = {"newstag": __version__, "inputs": ["a"]}
    out = tmp_path / "out"
    first = OutputDir(out, "parquet")
    first.claim(job, overwrite=False)
    (out / "part-000000.parquet").write_bytes(b"shard")
    first.release()
    (out / "README.txt").write_text("my notes")
    again = OutputDir(out, "parquet")
    again.claim({**job, "inputs": ["b"]}, overwrite=True)  # it held a job: replaced, the notes kept
    again.release()
    assert sorted(p.name for p in out.iterdir()) == ["README.txt", JOB_FILE, "_newstag_job.lock"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "part-000000.parquet").write_bytes(b"someone else's")
    (mine / "notes.txt").write_text("x")
    with pytest.raises(NewstagError, match="is not empty and holds no bulk job"):
        OutputDir(mine, "parquet").claim(job, overwrite=True)
    assert (mine / "part-000000.parquet").read_bytes() == b"someone else's"  # nothing removed
    with pytest.raises(NewstagError, match="is a file: name a directory"):
        OutputDir(mine / "notes.txt", "parquet").claim(job, overwrite=False)


def test_a_run_refused_before_it_wrote_a_shard_leaves_no_job_behind(tmp_path):
    """Its job file blocked the corrected command ("holds a job that was written with other options")."""
    from service import __version__
    from service.bulk.output import OutputDir

    refused = OutputDir(tmp_path / "out", "parquet")
    refused.claim({"newstag": __version__, "inputs": ["a"], "options": 1}, overwrite=False)
    refused.abandon()
    refused.release()
    assert not (tmp_path / "out").exists()  # made by the run, and left as it was found
    corrected = OutputDir(tmp_path / "out", "parquet")
    corrected.claim({"newstag": __version__, "inputs": ["a"], "options": 2}, overwrite=False)
    (tmp_path / "out" / "part-000000.parquet").write_bytes(b"shard")
    corrected.abandon()  # a shard was written: the job stays, to be resumed
    corrected.release()
    assert (tmp_path / "out" / "_newstag_job.json").is_file()


def test_sigterm_while_ray_starts_is_an_interrupt_that_leaves_nothing_behind(tmp_path, monkeypatch, capsys):
    """ray.init sets a SIGTERM handler of its own that calls sys.exit(15): a job stopped while Ray
    started ended with status 15, no word, and a job file that refused a corrected command."""
    import ray

    from service.bulk import cli

    def init(**kwargs):
        sys.exit(15)  # what Ray's handler does when SIGTERM comes during ray.init

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    (tmp_path / "in.jsonl").write_text(json.dumps({"id": "a", "text": "Trade talks resumed."}) + "\n")
    assert cli.main(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out")]) == 130
    assert "bulk: interrupted" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # made by the run, and left as it was found


def test_a_cluster_or_a_worker_size_that_cannot_be_had_is_refused_at_once(ray_local):
    """An unreachable RAY_ADDRESS made ray.init retry for minutes, deaf to SIGTERM and Ctrl-C; a worker
    wider than the machine's CPUs (without --workers) waited forever for Ray to place it."""
    import time

    from service.bulk.runner import _check_reachable, pool_size
    started = time.monotonic()
    with pytest.raises(NewstagError, match="cannot reach the Ray cluster at 127.0.0.1:1"):
        _check_reachable("127.0.0.1:1")
    assert time.monotonic() - started < 10
    with pytest.raises(NewstagError, match="--threads-per-worker 3 needs 3 CPUs for one worker; Ray has 2"):
        pool_size(None, 3, local=True)
    assert pool_size(None, 1, local=True) == 2


def test_a_shard_the_output_filesystem_refuses_stops_the_job_and_other_failures_do_not(tmp_path, tiny_env,
                                                                                     monkeypatch):
    """With the disk full, the job tagged every remaining shard only to fail to write each one.
    The worker's own code (no Ray): a full disk marks the failed shard; a failed read does not."""
    import errno

    from service.bulk import worker
    from service.bulk.plan import plan
    from service.bulk.runner import Tally, follow
    from service.config import Settings
    from service.tagging import TagOptions

    (tmp_path / "in.jsonl").write_text("".join(json.dumps(a) + "\n" for a in articles(4)))
    shards = plan([tmp_path / "in.jsonl"], 2)
    tagger = worker.ShardTagger(Settings.from_env(), None, TagOptions(("trade",)), str(tmp_path), "jsonl", 2)

    def full(path, *a):
        raise OSError(errno.ENOSPC, "No space left on device")

    real = worker.write_shard
    monkeypatch.setattr(worker, "write_shard", full)
    stop = tagger._shard(shards[0])
    assert stop["failed"] == "OSError: [Errno 28] No space left on device" and stop["output_full"]
    monkeypatch.setattr(worker, "write_shard", real)
    (tmp_path / "in.jsonl").unlink()  # the input removed meanwhile: this shard fails, the next may not
    go_on = tagger._shard(shards[1])
    assert go_on["failed"].startswith("FileNotFoundError") and not go_on["output_full"]

    pulled = []

    def summaries():
        for summary in (go_on, stop, {**go_on, "name": "never"}):
            pulled.append(summary)
            yield summary

    tally = Tally(total_rows=6, shards=3)
    follow(summaries(), tally)
    assert len(pulled) == 2 and tally.finished == 2  # the third shard's result is never waited for
    assert tally.stopped == "OSError: [Errno 28] No space left on device" and len(tally.failed) == 2


def test_an_input_with_no_records_says_so_and_writes_nothing(tmp_path, capsys):
    """It said "nothing left to do: all 0 shards are in OUT" and made the output directory."""
    (tmp_path / "empty.jsonl").write_text("")
    assert main(["--input", str(tmp_path / "empty.jsonl"), "--output", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().err == (f"bulk: nothing to tag: the input (1 file) has no records; nothing written "
                                       f"to {tmp_path / 'out'}\n")
    assert not (tmp_path / "out").exists()


def test_compressed_inputs_are_named_not_skipped_silently(tmp_path, capsys):
    """A directory of .jsonl.gz files ran as 'no JSONL or Parquet files there', and one beside
    plain files was left out without a word."""
    import gzip

    from service.bulk.plan import compressed_note, input_files

    line = json.dumps({"id": "a", "text": "Trade."}) + "\n"
    (tmp_path / "only").mkdir()
    with gzip.open(tmp_path / "only" / "2025.jsonl.gz", "wt") as handle:
        handle.write(line)
    assert main(["--input", str(tmp_path / "only"), "--output", str(tmp_path / "out")]) == 2
    assert "1 compressed file (2025.jsonl.gz) not read: decompress them first" in capsys.readouterr().err
    assert main(["--input", str(tmp_path / "only" / "2025.jsonl.gz"), "--output", str(tmp_path / "out")]) == 2
    assert "a compressed file" in capsys.readouterr().err and not (tmp_path / "out").exists()

    (tmp_path / "only" / "2026.jsonl").write_text(line)
    for given in (tmp_path / "only", tmp_path / "only" / "*"):
        inputs = input_files([str(given)])
        assert inputs.files == [tmp_path / "only" / "2026.jsonl"]
        assert inputs.compressed == [tmp_path / "only" / "2025.jsonl.gz"]
        assert "1 compressed file (2025.jsonl.gz) among the inputs are not read" in compressed_note(inputs)
    assert compressed_note(input_files([str(tmp_path / "only" / "2026.jsonl")])) is None


def test_whole_number_ids_pandas_wrote_as_floats_are_read_as_numbers(tmp_path):
    """pandas writes an integer id column with one missing value as floats: every row was an
    error row ('id' must be a string or an integer) and the job still exited 0."""
    from service.bulk.plan import input_files, plan
    from service.bulk.records import read_shard
    from service.config import Settings

    pq.write_table(pa.table({"id": [17.0, None, 2.5, float("nan")], "text": ["Trade."] * 4}), tmp_path / "a.parquet")
    [shard] = plan(input_files([str(tmp_path / "a.parquet")]).files, 100)
    records = read_shard(shard, Settings.from_env(None)).records
    assert [(r.id, r.error) for r in records] == [
        ("17", None), (None, "row 2: no 'id'"),
        (None, "row 3: 'id' must be a string of 1 to 200 characters or a whole number"), (None, "row 4: no 'id'")]
    assert records[0].text == "Trade."


def test_sigterm_stops_the_job_as_ctrl_c_does_keeping_its_shards(tmp_path, tiny_env):
    """Ray's own SIGTERM handler ended the driver with exit status 15 and a crash dump of
    Ray's threads; a container or a scheduler stopping the job sends SIGTERM."""
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(a) + "\n" for a in articles(600)))
    args = ["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out"), "--shard-rows", "4"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    job = subprocess.Popen([sys.executable, "-m", "service.bulk", *args, "--workers", "1"], cwd=tmp_path, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while job.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            if len(list(tmp_path.glob("out/part-*.parquet"))) >= 2:
                break
        job.send_signal(signal.SIGTERM)  # the driver alone, as `kill PID` or a container's stop
        _, err = job.communicate(timeout=90)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait(timeout=60)
    err = err.decode()
    assert job.returncode == 130, err[-3000:]
    assert "bulk: interrupted; the shards written are kept" in err and "Traceback" not in err, err[-3000:]
    kept = read_output(tmp_path / "out")  # whole shards only (resuming them: the killed-run test above)
    assert kept and len(kept) % 4 == 0 and len({r["id"] for r in kept}) == len(kept)
