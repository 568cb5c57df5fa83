"""NEWSTAG_RUNTIME=onnx: parity with torch on the real model, the checksummed export cache, HTTP."""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from service.config import Settings
from service.engine import Tagger, onnx_cache
from service.engine.onnx_cache import GRAPH_FILE, MANIFEST_FILE
from service.engine.onnx_runtime import open_session
from service.errors import ConfigError, ModelLoadError

pytest.importorskip("onnxruntime")


def _load(onnx_dir: Path, **settings) -> Tagger:
    return Tagger.load(Settings.from_env({}, onnx_dir=onnx_dir, **settings).engine_options())


def _export_dir(onnx_dir: Path, precision: str) -> Path:
    [found] = [d for d in onnx_dir.iterdir() if d.is_dir() and f"-{precision}-" in d.name]
    return found


@pytest.fixture(scope="session")
def onnx_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="session")
def onnx_fp32(onnx_dir) -> Tagger:
    """The real model (matcher merged) exported once for the session, fp32."""
    return _load(onnx_dir, runtime="onnx", precision="fp32")


@pytest.fixture(scope="session")
def torch_fp32() -> Tagger:
    return Tagger.load(Settings.from_env({}, precision="fp32", runtime="torch").engine_options())


def _vectors(tagger: Tagger, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    encoder = tagger.backend.encoder
    vectors = encoder.encode_documents([encoder.prepare(t) for t in texts])
    return np.concatenate([v.windows for v in vectors]), np.concatenate([v.sentences for v in vectors])


@pytest.fixture(scope="session")
def articles(seed_text, examples) -> list[str]:
    return [seed_text, *(e["text"] for e in examples)]


def test_onnx_fp32_embeds_real_articles_as_torch_does(onnx_fp32, torch_fp32, articles):
    assert onnx_fp32.backend.runtime == "onnx" and onnx_fp32.backend.precision == "fp32"
    assert torch_fp32.backend.runtime == "torch"
    (ow, os_), (tw, ts) = _vectors(onnx_fp32, articles), _vectors(torch_fp32, articles)
    assert ow.shape == tw.shape and os_.shape == ts.shape and len(ts) > len(articles)
    assert (ow * tw).sum(1).min() >= 0.9999
    assert (os_ * ts).sum(1).min() >= 0.9999
    ours, theirs = onnx_fp32.tag(articles), torch_fp32.tag(articles)
    assert [[t.label for t in r.topics] for r in ours] == [[t.label for t in r.topics] for r in theirs]


def test_the_export_is_fused_and_checksummed(onnx_fp32, onnx_dir, tmp_path):
    directory = _export_dir(onnx_dir, "fp32")
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    assert manifest["fused_operators"]["Attention"] == 6  # all-MiniLM-L6-v2: one per layer
    # residual + layer norm left unfused, in the file and in the session (DISABLED_OPTIMIZERS)
    assert manifest["fused_operators"]["LayerNormalization"] == 12
    assert "SkipLayerNormalization" not in manifest["fused_operators"]
    assert manifest["source"]["adapter_sha256"]  # exported with the matcher merged
    from service.engine.model_files import sha256_of

    assert manifest["sha256"] == sha256_of(directory / GRAPH_FILE)
    import onnx

    as_run = tmp_path / "as-run.onnx"
    session = open_session((directory / GRAPH_FILE).read_bytes(), 1, as_run)
    # threads spin within a run and stop when it ends (measured: docs/benchmarks.md, "Session 23")
    options = session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert options.get_session_config_entry("session.force_spinning_stop") == "1"
    assert options.get_session_config_entry("session.set_denormal_as_zero") == "1"  # "Session 24: denormals"
    operators = Counter(node.op_type for node in onnx.load(str(as_run)).graph.node)
    assert operators["LayerNormalization"] == 12 and operators["SkipLayerNormalization"] == 0


def test_the_thread_that_runs_a_graph_flushes_denormals_during_the_run_only(onnx_fp32, monkeypatch):
    # The caller's thread computes its share of each run; a padded row's masked attention
    # weights are denormal, which this CPU multiplies slowly ("Session 24: denormals").
    # After the run the thread's flags are its own again: left on, they broke the property
    # tests that ran later in the same thread (hypothesis cannot make denormals then).
    import threading

    import torch

    from service.engine.onnx_runtime import flushes_denormals

    model = onnx_fp32.backend.encoder._onnx
    during: list[bool] = []

    class Recording:
        def run(self, *args, **kwargs):
            during.append(flushes_denormals())
            return session.run(*args, **kwargs)

    session = model.session
    monkeypatch.setattr(model, "session", Recording())
    ids = torch.full((1, 8), 1000, dtype=torch.long)
    after: list[bool] = []

    def work() -> None:
        torch.set_flush_denormal(False)  # a new thread inherits its creator's flags: start from IEEE's
        model(ids, torch.ones_like(ids))
        after.append(flushes_denormals())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert during == [True] and after == [False]


def test_opening_a_session_leaves_the_threads_flags_alone(onnx_dir):
    """ONNX Runtime sets the denormal flags on the thread that opens the process's first
    session (a fresh process, then); open_session puts them back."""
    import subprocess
    import sys

    graph = _export_dir(onnx_dir, "fp32") / GRAPH_FILE
    script = ("import sys; from pathlib import Path\n"
              "from service.engine.onnx_runtime import flushes_denormals, open_session\n"
              "before = flushes_denormals()\n"
              "open_session(Path(sys.argv[1]).read_bytes(), 1)\n"
              "print(before, flushes_denormals())\n")
    out = subprocess.run([sys.executable, "-c", script, str(graph)], capture_output=True, text=True, timeout=120,
                         check=True)
    assert out.stdout.split() == ["False", "False"], out.stderr[-2000:]


def test_onnx_int8_stays_close_to_fp32(onnx_dir, torch_fp32, articles):
    int8 = _load(onnx_dir, runtime="onnx", precision="int8")
    assert (int8.backend.runtime, int8.backend.precision) == ("onnx", "int8")
    (qw, qs), (tw, ts) = _vectors(int8, articles), _vectors(torch_fp32, articles)
    # per-channel int8 weights: cosine 0.99+ (torch's per-tensor int8 reaches about 0.95)
    assert (qw * tw).sum(1).mean() >= 0.99 and (qs * ts).sum(1).mean() >= 0.99
    assert (_export_dir(onnx_dir, "int8") / GRAPH_FILE).stat().st_size < (
        _export_dir(onnx_dir, "fp32") / GRAPH_FILE).stat().st_size / 3


def test_auto_uses_a_verified_export_and_never_exports(onnx_fp32, onnx_dir, tmp_path):
    assert _load(onnx_dir, runtime="auto", precision="fp32").backend.runtime == "onnx"
    assert _load(tmp_path, runtime="auto", precision="fp32").backend.runtime == "torch"
    assert not any(tmp_path.iterdir())


# The cache's rules, on the tiny random model: its export takes about a second.

def _tiny(model_dir: Path, onnx_dir: Path, **settings) -> Tagger:
    return _load(onnx_dir, model=model_dir, precision="fp32", **settings)


def test_an_onnx_encoder_keeps_no_torch_weights(tiny_model_dir, tmp_path):
    tagger = _tiny(tiny_model_dir, tmp_path, runtime="onnx")
    encoder = tagger.backend.encoder
    assert encoder.runtime == "onnx" and {p.device.type for p in encoder.model.parameters()} == {"meta"}
    assert tagger.tag(["The central bank raised interest rates."])[0].model  # the graph alone runs it
    torch_encoder = _tiny(tiny_model_dir, tmp_path, runtime="torch").backend.encoder
    assert {p.device.type for p in torch_encoder.model.parameters()} == {"cpu"}


def test_a_tampered_graph_is_exported_again_when_the_directory_is_writable(tiny_model_dir, tmp_path, caplog):
    assert _tiny(tiny_model_dir, tmp_path, runtime="onnx").backend.runtime == "onnx"
    graph = _export_dir(tmp_path, "fp32") / GRAPH_FILE
    original = graph.read_bytes()
    graph.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with caplog.at_level(logging.WARNING, "newstag.onnx"):
        assert _tiny(tiny_model_dir, tmp_path, runtime="onnx").backend.runtime == "onnx"
    assert "fails its SHA-256 check" in caplog.text and "exporting it again" in caplog.text
    manifest = json.loads((graph.parent / MANIFEST_FILE).read_text())
    from service.engine.model_files import sha256_of

    assert sha256_of(graph) == manifest["sha256"]


def test_a_tampered_graph_in_a_read_only_directory_is_refused(tiny_model_dir, tmp_path, monkeypatch):
    _tiny(tiny_model_dir, tmp_path, runtime="onnx")
    graph = _export_dir(tmp_path, "fp32") / GRAPH_FILE
    graph.write_bytes(graph.read_bytes() + b"\0")
    monkeypatch.setattr(onnx_cache, "writable", lambda directory: False)
    for runtime in ("onnx", "auto"):  # auto does not quietly fall back past a tampered graph
        with pytest.raises(ModelLoadError, match="SHA-256 check.*refusing to load it"):
            _tiny(tiny_model_dir, tmp_path, runtime=runtime)


def test_a_graph_of_other_weights_is_refused(tiny_model_dir, tmp_path, monkeypatch):
    _tiny(tiny_model_dir, tmp_path, runtime="onnx")
    manifest_file = _export_dir(tmp_path, "fp32") / MANIFEST_FILE
    manifest = json.loads(manifest_file.read_text())
    manifest["source"]["weights_sha256"] = "0" * 64
    manifest_file.write_text(json.dumps(manifest))
    monkeypatch.setattr(onnx_cache, "writable", lambda directory: False)
    with pytest.raises(ModelLoadError, match="exported from other weights"):
        _tiny(tiny_model_dir, tmp_path, runtime="onnx")


def test_an_empty_read_only_directory_runs_torch_and_says_so(tiny_model_dir, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(onnx_cache, "writable", lambda directory: False)
    with caplog.at_level(logging.WARNING, "newstag.onnx"):
        tagger = _tiny(tiny_model_dir, tmp_path / "ro", runtime="onnx")
    assert tagger.backend.runtime == "torch"
    assert "not writable: running torch" in caplog.text


def test_a_graph_an_older_newstag_exported_is_named_when_none_is_loaded(tiny_model_dir, tmp_path, monkeypatch,
                                                                        caplog):
    """After an upgrade the cache held the old export format's graph, and the log said only "no ONNX graph"."""
    _tiny(tiny_model_dir, tmp_path, runtime="onnx")
    current = _export_dir(tmp_path, "fp32")
    old = current.with_name(current.name.replace(f"-v{onnx_cache.EXPORT_FORMAT}", "-v3"))
    current.rename(old)
    monkeypatch.setattr(onnx_cache, "writable", lambda directory: False)
    with caplog.at_level(logging.WARNING, "newstag.onnx"):
        assert _tiny(tiny_model_dir, tmp_path, runtime="onnx").backend.runtime == "torch"
    assert f"exported by another newstag or ONNX Runtime are there, {old.name}, but {current.name} is wanted" \
        in caplog.text


def test_a_graph_of_an_earlier_matcher_adapter_is_named_and_auto_warns(tmp_path, monkeypatch, caplog):
    """An upgrade in place changed the shipped matcher adapter (30ed5b22, then 1e58afed) and the
    export format: the cache held the default model's graph of the old adapter, and NEWSTAG_RUNTIME=auto
    ran torch saying only "no ONNX graph" at INFO, the same line as on a machine that never exported one."""
    source = onnx_cache.GraphSource("ab" * 32, "1e58afed" * 8, "fp32")
    weights = "ab" * 6
    old = tmp_path / f"{weights}+30ed5b22-fp32-ort1.30.0-v2"
    for name in (old.name, f"{weights}-fp32-ort1.30.0-v4",  # the base without an adapter (fine-tuned models')
                 f"{weights}+30ed5b22-int8-ort1.30.0-v2", f"{'cd' * 6}+30ed5b22-fp32-ort1.30.0-v2"):
        (tmp_path / name).mkdir()
    with caplog.at_level(logging.INFO, "newstag.onnx"):
        assert onnx_cache.load_graph(None, tmp_path, source, may_export=False) is None  # type: ignore[arg-type]
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert (f"graphs of these weights exported by another newstag or ONNX Runtime are there, {old.name}, but "
            f"{source.directory_name()} is wanted") in record.getMessage()
    caplog.clear()
    monkeypatch.setattr(onnx_cache, "writable", lambda directory: False)
    with caplog.at_level(logging.WARNING, "newstag.onnx"):
        assert onnx_cache.load_graph(None, tmp_path, source, may_export=True) is None  # type: ignore[arg-type]
    assert f"are there, {old.name}, but" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, "newstag.onnx"):  # nothing of these weights: as before, at INFO
        assert onnx_cache.load_graph(None, tmp_path / "empty", source, may_export=False) is None  # type: ignore[arg-type]
    assert [r.levelno for r in caplog.records] == [logging.INFO]


def test_precisions_without_a_graph(tiny_model_dir, tmp_path):
    with pytest.raises(ConfigError, match="no ONNX graph"):
        _load(tmp_path, model=tiny_model_dir, runtime="onnx", precision="bf16")
    # auto precision under runtime=onnx is the fp32 graph, whatever the CPU
    assert _load(tmp_path, model=tiny_model_dir, runtime="onnx", precision="auto").backend.precision == "fp32"
    with pytest.raises(ConfigError, match="NEWSTAG_RUNTIME"):
        Settings.from_env({"NEWSTAG_RUNTIME": "tensorrt"})
    settings = Settings.from_env({"NEWSTAG_RUNTIME": "onnx", "NEWSTAG_ONNX_DIR": str(tmp_path)})
    assert (settings.engine_options().model.encoder.runtime, settings.onnx_dir) == ("onnx", tmp_path)


def test_the_http_service_runs_on_onnx(onnx_fp32, onnx_dir, tmp_path, monkeypatch, seed_text):
    from service import create_app

    monkeypatch.setenv("NEWSTAG_RUNTIME", "onnx")
    monkeypatch.setenv("NEWSTAG_ONNX_DIR", str(onnx_dir))
    monkeypatch.setenv("NEWSTAG_PRECISION", "fp32")
    app = create_app({"LOAD_IN_BACKGROUND": False, "database_url": f"sqlite:///{tmp_path / 'f.db'}"})
    runtime = app.extensions["newstag.runtime"]
    assert runtime.taggers()[runtime.default_name].backend.runtime == "onnx"
    response = app.test_client().post("/v1/classify", json={"text": seed_text})
    assert response.status_code == 200, response.get_data(as_text=True)
    expected = [t.label for t in onnx_fp32.tag([seed_text])[0].topics]
    assert [t["label"] for t in response.get_json()["topics"]] == expected and expected


def test_newstag_export_onnx_makes_the_graphs_an_image_ships(tiny_model_dir, tmp_path, monkeypatch, capsys):
    from service.cli import main

    monkeypatch.setenv("NEWSTAG_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("NEWSTAG_ONNX_DIR", str(tmp_path))
    assert main(["export-onnx"]) == 0
    assert "fp32: ONNX graph verified" in capsys.readouterr().out
    for precision in ("fp32", "int8"):
        assert (_export_dir(tmp_path, precision) / GRAPH_FILE).is_file()
    assert main(["export-onnx", "--precision", "bf16"]) == 2


def test_export_onnx_into_a_directory_it_cannot_write_says_so(tiny_model_dir, tmp_path, monkeypatch, capsys):
    """It said NEWSTAG_PRECISION=int8 (never set) was not supported, and to run export-onnx: itself."""
    from service.cli import main

    monkeypatch.setenv("NEWSTAG_ONNX_DIR", str(tmp_path))
    monkeypatch.setattr(onnx_cache, "writable", lambda directory: False)  # a read-only mount
    for precision in ("int8", "fp32"):
        assert main(["export-onnx", "--model", str(tiny_model_dir), "--precision", precision]) == 2
        err = capsys.readouterr().err
        assert f"into {tmp_path}" in err and ("make it writable" in err or "which cannot be written" in err), err
        assert "newstag export-onnx --model" not in err


def test_a_graph_that_passes_its_checksum_but_is_no_graph_is_a_load_error_naming_it(tiny_model_dir, tmp_path):
    _tiny(tiny_model_dir, tmp_path, runtime="onnx")
    directory = _export_dir(tmp_path, "fp32")
    (directory / GRAPH_FILE).write_bytes(b"not a protobuf at all")
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    from service.engine.model_files import sha256_of

    (directory / MANIFEST_FILE).write_text(json.dumps({**manifest, "sha256": sha256_of(directory / GRAPH_FILE)}))
    with pytest.raises(ModelLoadError, match="ONNX Runtime cannot load the graph in .*newstag export-onnx"):
        _tiny(tiny_model_dir, tmp_path, runtime="onnx")


def test_an_onnx_directory_that_is_a_file_is_refused_and_auto_is_told_how_to_fix_a_tampered_graph(
        tiny_model_dir, tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a directory"):
        _tiny(tiny_model_dir, tmp_path / "a-file", runtime="onnx")
    _tiny(tiny_model_dir, tmp_path, runtime="onnx")
    graph = _export_dir(tmp_path, "fp32") / GRAPH_FILE
    graph.write_bytes(graph.read_bytes() + b"\0")
    with pytest.raises(ModelLoadError, match=r"export it again: newstag export-onnx\)$"):  # not "make it writable"
        _tiny(tiny_model_dir, tmp_path, runtime="auto")


def test_staging_left_by_a_killed_export_is_removed_and_a_live_ones_is_not(tmp_path):
    from service.engine.onnx_cache import _remove_abandoned_staging
    gone = tmp_path / ".53aa51172d14-int8-ort1.30.0-v4.999999999.tmp"
    live = tmp_path / f".53aa51172d14-fp32-ort1.30.0-v4.{os.getpid()}.tmp"
    for staging in (gone, live):
        staging.mkdir()
        (staging / "model.raw.onnx").write_bytes(b"half")
    _remove_abandoned_staging(tmp_path)
    assert not gone.exists() and live.exists()


@pytest.mark.parametrize("precision", ["", ",", "fp32,garbage"])
def test_export_onnx_checks_every_precision_before_exporting_any(precision, tmp_path, monkeypatch, capsys):
    from service.cli import main
    monkeypatch.setenv("NEWSTAG_ONNX_DIR", str(tmp_path / "onnx"))
    assert main(["export-onnx", "--precision", precision]) == 2
    assert "give fp32, int8 or both" in capsys.readouterr().err
    assert not (tmp_path / "onnx").exists()  # nothing was exported first


def test_the_server_refuses_to_start_on_a_tampered_graph_no_worker_may_replace(onnx_fp32, onnx_dir, tmp_path,
                                                                               monkeypatch):
    """A worker found it only as it loaded: the server ran without ever being ready, where
    configuration.md says it does not start. gunicorn's master now checks before it forks."""
    import shutil

    from service.preflight import check_startup

    copy = tmp_path / "onnx"
    shutil.copytree(_export_dir(onnx_dir, "fp32"), copy / _export_dir(onnx_dir, "fp32").name)
    settings = Settings.from_env({}, onnx_dir=copy, runtime="auto", precision="fp32")
    check_startup(settings)  # intact: starts
    graph = _export_dir(copy, "fp32") / GRAPH_FILE
    graph.write_bytes(graph.read_bytes() + b"\0")
    with pytest.raises(ModelLoadError, match="fails its SHA-256 check.*export it again: newstag export-onnx"):
        check_startup(settings)  # auto never exports: refused
    check_startup(replace(settings, runtime="onnx"))  # a worker will export it again: starts
    monkeypatch.setattr(onnx_cache, "writable", lambda directory: False)  # a read-only cache (the image's)
    with pytest.raises(ModelLoadError, match="fails its SHA-256 check"):
        check_startup(replace(settings, runtime="onnx"))
