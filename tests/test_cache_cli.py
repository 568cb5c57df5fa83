"""`newstag cache`: the label-vector and ONNX cache files this build never reads, and --prune."""

from __future__ import annotations

import subprocess
import sys

from service.cache_cli import main
from service.engine.onnx_cache import EXPORT_FORMAT, GraphSource, stale_graph
from service.engine.phrase_store import FORMAT, engine_code_version, stale_store
from tests.conftest import ROOT


def _current_store(model: str = "53aa51172d14+1e58afed") -> str:
    return f"{model}-bf16-torch-auto-256-{engine_code_version()}-v{FORMAT}.safetensors"


def test_stale_names_say_why_and_current_or_foreign_ones_are_left_alone():
    other_code = "0" * 8 if engine_code_version() != "0" * 8 else "1" * 8
    assert stale_store(_current_store()) is None
    assert "another build's engine code" in stale_store(f"x-fp32-torch-any-256-{other_code}-v{FORMAT}.safetensors")
    assert "file format v9" in stale_store(f"x-fp32-torch-any-256-{engine_code_version()}-v9.safetensors")
    assert "no engine code" in stale_store("x-bf16-torch-auto-256-v1.safetensors")
    assert "interrupted write" in stale_store(".label-vectors-abc123.tmp")
    assert stale_store("notes.txt") is None
    current = GraphSource("53aa51172d14" + "0" * 52, None, "int8", "full").directory_name()
    assert stale_graph(current) is None
    assert "export format v1" in stale_graph(current.rsplit("-v", 1)[0] + "-v1")
    assert "onnxruntime 0.0.1" in stale_graph(f"53aa51172d14-fp32-ort0.0.1-v{EXPORT_FORMAT}")
    assert "interrupted export" in stale_graph(f".{current}.999999999.tmp")  # no such process
    assert stale_graph("my-notes") is None


def test_prune_removes_what_this_build_never_reads_and_nothing_else(tmp_path, monkeypatch, capsys):
    labels, graphs = tmp_path / "labels", tmp_path / "onnx"
    labels.mkdir()
    graphs.mkdir()
    monkeypatch.setenv("NEWSTAG_LABEL_CACHE", str(labels))
    monkeypatch.setenv("NEWSTAG_ONNX_DIR", str(graphs))
    (labels / _current_store()).write_bytes(b"k" * 100)
    (labels / "x-bf16-torch-auto-256-v1.safetensors").write_bytes(b"s" * 2**20)
    (labels / "README").write_text("the operator's own file")
    current = GraphSource("53aa51172d14" + "0" * 52, None, "fp32").directory_name()
    (graphs / current).mkdir()
    (graphs / current / "model.onnx").write_bytes(b"g")
    old = graphs / f"53aa51172d14-fp32-ort0.0.1-v{EXPORT_FORMAT}"
    old.mkdir()
    (old / "model.onnx").write_bytes(b"o" * 3 * 2**20)
    (graphs / ".lock").write_text("")

    assert main([]) == 0
    listing = capsys.readouterr().out
    assert f"{labels}: 1 read by this build, 1 not (1.0 MB)" in listing
    assert f"{graphs}: 1 read by this build, 1 not (3.0 MB)" in listing
    assert "onnxruntime 0.0.1" in listing and "README" not in listing
    assert old.exists()  # listing removes nothing

    assert main(["--prune"]) == 0
    assert "removed 4.0 MB" in capsys.readouterr().out
    assert sorted(p.name for p in labels.iterdir()) == sorted([_current_store(), "README"])
    assert sorted(p.name for p in graphs.iterdir()) == sorted([current, ".lock"])


def test_a_reader_that_goes_away_is_no_traceback(tmp_path):
    """`newstag cache | head -1`: BrokenPipeError, and a second one from the flush at exit."""
    labels = tmp_path / "labels"
    labels.mkdir()
    for i in range(2000):  # more than a pipe holds (64 KB): the command is still writing when the reader goes
        (labels / f"m{i}-fp32-torch-any-256-v1.safetensors").write_bytes(b"x")
    env = {"NEWSTAG_LABEL_CACHE": str(labels), "NEWSTAG_ONNX_DIR": str(tmp_path / "onnx"), "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen([sys.executable, "-m", "service.cli", "cache"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()  # the reader goes away after one line
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141 and "Traceback" not in stderr, stderr
