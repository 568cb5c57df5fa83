"""NEWSTAG_RUNTIME=onnx for fine-tuned classifiers: their encoder's graph, parity, the cache's rules."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from service.engine import onnx_cache
from service.engine.classifier import ClassifierBackend
from service.engine.model_files import DEFAULT_MODEL_SHA256, sha256_of
from service.engine.onnx_cache import GRAPH_FILE, MANIFEST_FILE
from service.errors import ModelLoadError
from service.options import EncoderOptions
from tests.conftest import TRAIN_SMALL

pytest.importorskip("onnxruntime")

TEXTS = ["The central bank raised interest rates again. Markets fell sharply in early trading.",
         "The striker scored twice in the second half. The coach praised the young team's defence.",
         "A new vaccine trial began this week in three hospitals."]


def _backend(directory: Path, runtime: str, onnx_dir: Path, precision: str = "fp32") -> ClassifierBackend:
    return ClassifierBackend.load(directory, EncoderOptions(precision=precision, runtime=runtime, onnx_dir=onnx_dir))


def _exports(onnx_dir: Path) -> list[Path]:
    return sorted(d for d in onnx_dir.iterdir() if d.is_dir() and not d.name.startswith("."))


def _vectors(backend: ClassifierBackend) -> np.ndarray:
    encoder = backend.encoder
    out = encoder.encode_documents([encoder.prepare(t) for t in TEXTS])
    return np.concatenate([np.concatenate([v.windows, v.sentences]) for v in out])


def _scores(backend: ClassifierBackend) -> np.ndarray:
    labels = list(backend.labels)
    return np.stack([s.label_scores for s in backend.score([backend.prepare(t) for t in TEXTS], labels)])


@pytest.fixture(scope="module")
def full_model_dir(tiny_model_dir: Path, tmp_path_factory) -> Path:
    """A full-mode classifier: the tiny random encoder fine-tuned, so weights of its own."""
    from training.finetune import main

    output = tmp_path_factory.mktemp("full") / "desk-full"
    assert main(["--train", str(TRAIN_SMALL), "--output", str(output), "--base", str(tiny_model_dir),
                 "--mode", "full", "--epochs", "1", "--batch-size", "8", "--max-length", "64", "--seed", "3"]) == 0
    return output


def test_a_full_mode_encoder_gets_its_own_checksummed_export_and_matches_torch(full_model_dir, tmp_path):
    onnx = _backend(full_model_dir, "onnx", tmp_path)
    torch_ = _backend(full_model_dir, "torch", tmp_path)
    assert (onnx.runtime, torch_.runtime) == ("onnx", "torch")
    [export] = _exports(tmp_path)
    manifest = json.loads((export / MANIFEST_FILE).read_text())
    own = json.loads((full_model_dir / "newstag.json").read_text())["sha256"]["model.safetensors"]
    assert manifest["source"]["weights_sha256"] == own != DEFAULT_MODEL_SHA256
    assert export.name.startswith(own[:12]) and manifest["sha256"] == sha256_of(export / GRAPH_FILE)
    ours, theirs = _vectors(onnx), _vectors(torch_)
    assert ours.shape == theirs.shape and len(ours) > len(TEXTS)
    assert (ours * theirs).sum(1).min() >= 0.9999
    np.testing.assert_allclose(_scores(onnx), _scores(torch_), atol=1e-4)


def test_a_full_mode_int8_graph_runs_and_stays_near_torch(full_model_dir, tmp_path):
    int8 = _backend(full_model_dir, "onnx", tmp_path, "int8")
    assert (int8.runtime, int8.precision) == ("onnx", "int8")
    cosine = (_vectors(int8) * _vectors(_backend(full_model_dir, "torch", tmp_path))).sum(1)
    assert cosine.mean() >= 0.95  # a 2-layer random model at width 32: a loose bound, the real one is 0.99+


def test_a_classifier_keeps_the_caches_rules(full_model_dir, tmp_path, monkeypatch, caplog):
    # auto never exports; a read-only, empty cache runs torch and says so
    assert _backend(full_model_dir, "auto", tmp_path).runtime == "torch" and not _exports(tmp_path)
    monkeypatch.setattr(onnx_cache, "writable", lambda directory: False)
    with caplog.at_level(logging.WARNING, "newstag.onnx"):
        assert _backend(full_model_dir, "onnx", tmp_path / "ro").runtime == "torch"
    assert "not writable: running torch" in caplog.text
    monkeypatch.undo()
    _backend(full_model_dir, "onnx", tmp_path)
    assert _backend(full_model_dir, "auto", tmp_path).runtime == "onnx"  # found, verified, used
    [export] = _exports(tmp_path)
    (export / GRAPH_FILE).write_bytes((export / GRAPH_FILE).read_bytes() + b"\0")
    monkeypatch.setattr(onnx_cache, "writable", lambda directory: False)
    with pytest.raises(ModelLoadError, match="SHA-256 check.*refusing to load it"):
        _backend(full_model_dir, "auto", tmp_path)


def test_a_head_model_on_the_default_base_reuses_the_bases_export(trained_model_dir, tmp_path, capsys):
    """One export of the embedded base (without the matcher: the head was trained on the base as
    it ships) serves every head or hybrid model on it; export-onnx --model makes it."""
    from service.cli import main

    assert json.loads((trained_model_dir / "newstag.json").read_text())["encoder"]["sha256"] == DEFAULT_MODEL_SHA256
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NEWSTAG_ONNX_DIR", str(tmp_path))
        assert main(["export-onnx", "--precision", "fp32", "--model", str(trained_model_dir)]) == 0
    assert f"fp32: ONNX graph verified in {tmp_path} ({trained_model_dir.name})" in capsys.readouterr().out
    [export] = _exports(tmp_path)
    source = json.loads((export / MANIFEST_FILE).read_text())["source"]
    assert source == {**source, "weights_sha256": DEFAULT_MODEL_SHA256, "adapter_sha256": None}
    onnx = _backend(trained_model_dir, "auto", tmp_path)  # auto: the graph is there, nothing exported
    assert onnx.runtime == "onnx" and _exports(tmp_path) == [export]
    torch_ = _backend(trained_model_dir, "torch", tmp_path)
    assert (_vectors(onnx) * _vectors(torch_)).sum(1).min() >= 0.9999
    np.testing.assert_allclose(_scores(onnx), _scores(torch_), atol=1e-4)
