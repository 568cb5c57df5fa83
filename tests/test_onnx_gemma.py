"""Gemma 3 text encoders (EmbeddingGemma's architecture) on ONNX Runtime, on a tiny random model.

Its export builds the attention masks itself (onnx_graph._GemmaHiddenStates): with a sliding
window of 8 tokens and texts of 20-60, a mask that let every layer see every token would
not match torch. The real model's parity and speed: docs/benchmarks.md, "EmbeddingGemma on
ONNX Runtime".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import Gemma3TextConfig, Gemma3TextModel

from service.config import Settings
from service.engine import Tagger
from tests.conftest import _save_tokenizer

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

TEXTS = ["Short one.",
         "The parliament voted on the budget after a long debate about taxes, schools and roads in the north.",
         "Flooding closed the main road. Rescue teams reached the villages by boat on Tuesday morning, "
         "and the army sent trucks with water, food and blankets to the people who had lost their homes."]


@pytest.fixture(scope="module")
def tiny_gemma_dir(tmp_path_factory) -> Path:
    """A randomly initialised 5-layer bidirectional Gemma 3 encoder (sliding windows of 8 tokens but in layer 2)."""
    target = tmp_path_factory.mktemp("tiny-gemma")
    torch.manual_seed(0)
    config = Gemma3TextConfig(vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=5,
                              num_attention_heads=2, num_key_value_heads=1, head_dim=16, sliding_window=8,
                              layer_types=["sliding_attention"] * 2 + ["full_attention"] + ["sliding_attention"] * 2,
                              use_bidirectional_attention=True,
                              max_position_embeddings=256, pad_token_id=0)
    Gemma3TextModel(config).save_pretrained(target, safe_serialization=True)
    _save_tokenizer(target)  # any tokenizer will do for a random model
    return target


def _vectors(model_dir: Path, onnx_dir: Path, **settings) -> tuple[Tagger, np.ndarray]:
    tagger = Tagger.load(Settings.from_env({}, model=model_dir, onnx_dir=onnx_dir, batching=False,
                                           **settings).engine_options())
    encoder = tagger.backend.encoder  # type: ignore[attr-defined]
    vectors = encoder.encode_documents([encoder.prepare(t) for t in TEXTS])  # one padded batch
    return tagger, np.concatenate([np.concatenate([v.windows, v.sentences]) for v in vectors])


def test_the_fp32_graph_embeds_as_torch_does(tiny_gemma_dir, tmp_path):
    torch_tagger, reference = _vectors(tiny_gemma_dir, tmp_path, runtime="torch", precision="fp32")
    onnx_tagger, vectors = _vectors(tiny_gemma_dir, tmp_path, runtime="onnx", precision="fp32")
    assert torch_tagger.backend.encoder.runtime == "torch"  # type: ignore[attr-defined]
    assert onnx_tagger.backend.encoder.runtime == "onnx"  # type: ignore[attr-defined]
    assert max(len(t.split()) for t in TEXTS) > 8  # longer than the sliding window
    cosines = (reference * vectors).sum(1)
    assert cosines.min() >= 0.9999, cosines


def test_int8_keeps_the_mlp_output_projection_and_the_end_layers_in_fp32(tiny_gemma_dir, tmp_path):
    _, reference = _vectors(tiny_gemma_dir, tmp_path, runtime="torch", precision="fp32")
    tagger, vectors = _vectors(tiny_gemma_dir, tmp_path, runtime="onnx", precision="int8")
    assert tagger.backend.precision == "int8"
    [graph_file] = tmp_path.glob("*-int8*/model.onnx")
    nodes = onnx.load(str(graph_file)).graph.node
    down = [n.op_type for n in nodes if "/mlp/down_proj/" in n.name]
    assert down == ["MatMul"] * 5  # one per layer, left in fp32
    middle = {n.op_type for n in nodes if "/layers.2/" in n.name and "_proj/" in n.name and "down_proj" not in n.name}
    assert middle and "MatMul" not in middle  # the middle layer's other products are int8 ...
    ends = {n.op_type for n in nodes if any(f"/layers.{i}/" in n.name for i in (0, 1, 3, 4)) and "_proj/" in n.name}
    assert ends == {"MatMul"}  # ... the two layers at each end are whole in fp32
    assert (reference * vectors).sum(1).min() > 0.9


def test_the_image_exports_gemmas_int8_graphs_for_every_x86_cpu(tiny_gemma_dir, tmp_path, monkeypatch, capsys):
    """The Dockerfile's step for the multilingual model, run on the tiny Gemma: both int8 weight ranges."""
    import re
    import shlex

    from service.cli import main
    from tests.conftest import ROOT

    dockerfile = (ROOT / "Dockerfile").read_text()
    [command] = re.findall(r"newstag (export-onnx --model /opt/base-models/embeddinggemma-300m[^;]*);", dockerfile)
    monkeypatch.setenv("NEWSTAG_ONNX_DIR", str(tmp_path))
    assert main([*shlex.split(command.replace("/opt/base-models/embeddinggemma-300m", str(tiny_gemma_dir)))]) == 0
    out = capsys.readouterr().out
    assert "full range" in out and "reduced range" in out
    exported = sorted(d.name for d in tmp_path.iterdir() if d.is_dir() and not d.name.startswith("."))
    assert len(exported) == 2 and "-int8-7bit-" in exported[0] + exported[1]  # 7-bit (AVX2) and 8-bit (VNNI)
    assert all("-int8-" in name for name in exported)
