"""int8 graphs per instruction set: 7-bit weights where the CPU's u8s8 kernels could saturate (no VNNI)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from service.config import Settings
from service.engine import Tagger, int8_kernels, onnx_cache
from service.engine.int8_kernels import cpu_flags, int8_range
from service.engine.onnx_cache import GRAPH_FILE, MANIFEST_FILE
from service.errors import ConfigError

pytest.importorskip("onnxruntime")

AVX2 = frozenset({"sse4_2", "avx", "avx2", "fma"})
AVX512 = AVX2 | {"avx512f", "avx512bw", "avx512vl"}  # Skylake-SP: AVX-512, no VNNI


@pytest.mark.parametrize(("flags", "machine", "kernels"), [
    (AVX2, "x86_64", "u8s8"),
    (AVX512, "x86_64", "u8s8"),
    (AVX512 | {"avx512_vnni"}, "x86_64", "vnni"),
    (AVX2 | {"avx_vnni"}, "x86_64", "vnni"),  # Alder Lake and later: VNNI without AVX-512
    (AVX512 | {"amx_tile", "amx_int8"}, "AMD64", "vnni"),
    (frozenset({"asimd", "asimddp"}), "aarch64", "other"),
])
def test_the_int8_kernels_follow_the_instruction_set(flags, machine, kernels):
    assert int8_kernels.int8_kernels(flags, machine) == kernels
    assert int8_range("auto", kernels) == ("reduced" if kernels == "u8s8" else "full")
    assert int8_range("full", kernels) == "full" and int8_range("reduced", kernels) == "reduced"


def test_cpu_flags_are_read_from_cpuinfo_and_unknown_x86_gets_7_bit_weights(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_vnni\nbugs\t\t: spectre\n")
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512_vnni"}
    assert cpu_flags(tmp_path / "missing") is None
    monkeypatch.setattr(int8_kernels, "cpu_flags", lambda: None)  # macOS, Windows: not known
    assert int8_kernels.int8_kernels(None, "x86_64") == "u8s8"
    with pytest.raises(ConfigError, match="NEWSTAG_ONNX_INT8_RANGE"):
        int8_range("7bit")
    with pytest.raises(ConfigError, match="NEWSTAG_ONNX_INT8_RANGE"):
        Settings.from_env({"NEWSTAG_ONNX_INT8_RANGE": "7bit"})


def _int8_load(model_dir: Path, onnx_dir: Path, flags: frozenset[str], monkeypatch, **settings) -> Tagger:
    monkeypatch.setattr(int8_kernels, "cpu_flags", lambda: flags)
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    options = Settings.from_env({}, model=model_dir, onnx_dir=onnx_dir, precision="int8", **settings)
    return Tagger.load(options.engine_options())


def _int8_weights(export: Path) -> np.ndarray:
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(export / GRAPH_FILE)).graph
    weights = [numpy_helper.to_array(t) for t in graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert weights  # every MatMul and the fused attention's projection are quantised
    return np.concatenate([w.astype(np.int32).ravel() for w in weights])


def _export(onnx_dir: Path, int8_range: str) -> Path:
    [found] = [d for d in onnx_dir.iterdir() if d.is_dir() and json.loads(
        (d / MANIFEST_FILE).read_text())["source"]["int8_range"] == int8_range]
    return found


def test_each_cpu_gets_the_weights_its_kernels_need_recorded_in_the_manifest(tiny_model_dir, tmp_path, monkeypatch):
    avx2 = _int8_load(tiny_model_dir, tmp_path, AVX2, monkeypatch, runtime="onnx")
    assert (avx2.backend.runtime, avx2.backend.precision) == ("onnx", "int8")
    reduced = _export(tmp_path, "reduced")
    manifest = json.loads((reduced / MANIFEST_FILE).read_text())
    assert manifest["int8"] == {"range": "reduced", "reduce_range": True, "exported_on": "u8s8"}
    # 7 bits: |w| <= 64, so a pair of u8 x s8 products (at most 2 x 255 x 64 = 32,640) fits in int16
    assert np.abs(_int8_weights(reduced)).max() <= 64
    vnni = _int8_load(tiny_model_dir, tmp_path, AVX512 | {"avx512_vnni"}, monkeypatch, runtime="onnx")
    assert vnni.backend.runtime == "onnx"
    full = _export(tmp_path, "full")
    assert json.loads((full / MANIFEST_FILE).read_text())["int8"]["exported_on"] == "vnni"
    assert np.abs(_int8_weights(full)).max() == 127 and full.name != reduced.name
    texts = ["The central bank raised interest rates. Markets fell in early trading."]
    ours = [t.backend.encoder.encode_texts(texts) for t in (avx2, vnni)]
    reference = Tagger.load(Settings.from_env({}, model=tiny_model_dir, precision="fp32").engine_options())
    theirs = reference.backend.encoder.encode_texts(texts)
    assert all(float((v * theirs).sum()) >= 0.95 for v in ours)  # both are still the same model


def test_a_graph_exported_for_vnni_is_not_loaded_on_a_cpu_without(tiny_model_dir, tmp_path, monkeypatch, caplog):
    _int8_load(tiny_model_dir, tmp_path, AVX2 | {"avx_vnni"}, monkeypatch, runtime="onnx")
    monkeypatch.setattr(onnx_cache, "writable", lambda directory: False)  # as a read-only image
    with caplog.at_level(logging.INFO, "newstag.onnx"):
        assert _int8_load(tiny_model_dir, tmp_path, AVX2, monkeypatch, runtime="auto").backend.runtime == "torch"
    assert "there is one with full-range int8 weights" in caplog.text and "but reduced is wanted" in caplog.text
    # asked for explicitly, the full-range graph is used, with a warning
    with caplog.at_level(logging.WARNING, "newstag.encoder"):
        forced = _int8_load(tiny_model_dir, tmp_path, AVX2, monkeypatch, runtime="auto", onnx_int8_range="full")
    assert forced.backend.runtime == "onnx" and "may saturate" in caplog.text


def test_export_onnx_makes_both_ranges_for_an_image_that_runs_anywhere(tiny_model_dir, tmp_path, monkeypatch, capsys):
    from service.cli import main

    monkeypatch.setenv("NEWSTAG_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("NEWSTAG_ONNX_DIR", str(tmp_path))
    assert main(["export-onnx", "--precision", "int8", "--int8-range", "both"]) == 0
    out = capsys.readouterr().out
    assert "int8: ONNX graph verified" in out and "full range" in out and "reduced range" in out
    assert _export(tmp_path, "full") != _export(tmp_path, "reduced")


def test_the_image_bakes_graphs_every_x86_cpu_can_load_read_only(tiny_model_dir, tmp_path, monkeypatch, capsys):
    """The Dockerfile's NEWSTAG_ONNX=1 step, run on the tiny model: an AVX2 and a VNNI machine
    both find their int8 graph in the read-only directory; without the argument, no directory."""
    import re
    import shlex

    from service.cli import main
    from tests.conftest import ROOT

    dockerfile = (ROOT / "Dockerfile").read_text()
    [command] = re.findall(r"NEWSTAG_ONNX_DIR=/opt/onnx\s*\\?\s*newstag (export-onnx[^;]*);;", dockerfile)
    assert "COPY --from=build /opt/onnx /app/onnx" in dockerfile
    assert "ENV NEWSTAG_ONNX_DIR=${NEWSTAG_ONNX:+/app/onnx}" in dockerfile and "ARG NEWSTAG_ONNX=\n" in dockerfile
    assert Settings.from_env({"NEWSTAG_ONNX_DIR": ""}).onnx_dir is None  # unset: the default cache
    monkeypatch.setenv("NEWSTAG_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("NEWSTAG_ONNX_DIR", str(tmp_path))
    assert main(shlex.split(command.replace("\\\n", " "))) == 0
    monkeypatch.setattr(onnx_cache, "writable", lambda directory: False)
    for flags in (AVX2, AVX512 | {"avx512_vnni"}):
        assert _int8_load(tiny_model_dir, tmp_path, flags, monkeypatch, runtime="auto").backend.runtime == "onnx"
    fp32 = Tagger.load(Settings.from_env({}, model=tiny_model_dir, onnx_dir=tmp_path, precision="fp32",
                                         runtime="auto").engine_options())
    assert fp32.backend.runtime == "onnx"
