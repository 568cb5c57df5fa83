"""Export an encoder (its adapter already merged) to an ONNX graph ONNX Runtime runs fast.

Three steps, all local: ``torch.onnx.export`` of the model's last hidden states (dynamic
batch and sequence axes); for BERT models, two rewrites that let ONNX Runtime's BERT
optimizer recognise the attention block (below), then ``onnxruntime.transformers.optimizer``
fusing attention, embedding + layer norm and bias + GELU (residual + layer norm stays two
operators: slower fused, ``onnx_runtime.DISABLED_OPTIMIZERS``); Gemma 3 encoders have no
such optimizer: ONNX Runtime's own graph optimisations run when a session loads the graph;
and, for int8, ONNX Runtime's dynamic quantisation (int8 weights per output channel, 7-bit
where the CPU's int8 kernels need it: int8_kernels.py; uint8 activations quantised per
batch). Measured parity and speed: docs/benchmarks.md, "Speed II".

Only the export at install time or first start imports this module (onnx, the optimizer);
a worker that loads a cached graph needs onnxruntime alone.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import ModelLoadError

if TYPE_CHECKING:
    from transformers import PreTrainedModel

log = logging.getLogger("newstag.onnx")

OPSET = 17
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "last_hidden_state"
# Added to the attention scores of padding, as BERT did before transformers 5 (the fused
# Attention kernel takes the mask itself and uses the same value).
MASK_VALUE = -10000.0


class _HiddenStates(torch.nn.Module):
    """The encoder with the classic additive [batch, 1, 1, seq] mask, whose pattern the
    optimizer's attention fusion recognises (transformers 5 builds its mask with ops it does not)."""

    def __init__(self, model: PreTrainedModel):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        additive = (1.0 - attention_mask.unsqueeze(1).unsqueeze(2).to(torch.float32)) * MASK_VALUE
        return self.model(input_ids=input_ids, attention_mask=additive).last_hidden_state


class _GemmaHiddenStates(torch.nn.Module):
    """A Gemma 3 text encoder (EmbeddingGemma) given its attention masks, one per layer type.

    transformers builds them with ``vmap``, which the TorchScript exporter cannot trace;
    these are the same masks for a bidirectional encoder, from ops it can: padding masked
    in every layer, and in the sliding-window layers also keys ``sliding_window`` or more
    positions away (transformers' ``_bidirectional_window_overlay``).
    """

    def __init__(self, model: PreTrainedModel):
        super().__init__()
        self.model = model
        self.window = int(model.config.sliding_window)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        keep = attention_mask.to(torch.bool)[:, None, None, :]  # [batch, 1, 1, keys]
        positions = torch.cumsum(torch.ones_like(attention_mask[0]), 0)  # the sequence axis stays dynamic
        near = (positions[:, None] - positions[None, :]).abs() < self.window  # [queries, keys]
        low = torch.finfo(torch.float32).min
        full = torch.zeros(keep.shape, dtype=torch.float32).masked_fill(~keep, low)
        sliding = torch.zeros((keep & near).shape, dtype=torch.float32).masked_fill(~(keep & near), low)
        masks = {"full_attention": full, "sliding_attention": sliding}
        return self.model(input_ids=input_ids, attention_mask=masks).last_hidden_state


# Model types whose export was checked, and the module that exports each.
EXPORTERS: dict[str, type[torch.nn.Module]] = {"bert": _HiddenStates, "gemma3_text": _GemmaHiddenStates}


@dataclass(frozen=True)
class Fp32Products:
    """Matrix products an int8 graph leaves in fp32: those named so in every layer, and
    every one of the first and last ``end_layers`` layers."""

    every_layer: tuple[str, ...] = ()
    end_layers: int = 0

    def names(self, nodes, layers: int) -> list[str]:
        ends = {*range(self.end_layers), *range(layers - self.end_layers, layers)}
        markers = tuple(f"/layers.{i}/" for i in sorted(ends))  # "/layers.1/" is not "/layers.10/"
        return [n.name for n in nodes if n.op_type == "MatMul"
                and (any(k in n.name for k in self.every_layer) or any(m in n.name for m in markers))]


# Per model type. Gemma's activations have outliers that one scale per batch cannot hold,
# worst in the MLP's output projection and the first and last layers: EmbeddingGemma with
# every product int8 kept SIB-200 sentence vectors at mean cosine 0.980 of fp32's, with
# down_proj fp32 0.997 (SIB-200 macro-F1 0.748 -> 0.729), with the two layers at each end
# whole too 0.9986 (0.747) (docs/benchmarks.md, "EmbeddingGemma on ONNX Runtime").
INT8_FP32_PRODUCTS: dict[str, Fp32Products] = {"gemma3_text": Fp32Products(("/mlp/down_proj/",), end_layers=2)}


def export_graph(model: PreTrainedModel, target: Path, precision: str, *, reduce_range: bool = False) -> dict[str, int]:
    """Write ``target`` (one ONNX file, weights inside): fp32, or int8-quantised (7-bit weights with ``reduce_range``).

    Returns the optimizer's count of fused operators (the manifest records them, and a
    BERT graph without fused attention is slower: the tests check there are some; other
    architectures are not fused here, so none).
    """
    import onnx
    from onnxruntime.transformers.onnx_model import OnnxModel

    if precision not in ("fp32", "int8"):
        raise ModelLoadError(f"no ONNX graph for precision {precision}")
    config = model.config
    exporter = EXPORTERS.get(config.model_type)
    if exporter is None:
        raise ModelLoadError(f"no ONNX export for {config.model_type} models")
    raw, fused = target.with_suffix(".raw.onnx"), target.with_suffix(".fp32.onnx")
    previous = getattr(config, "_attn_implementation", None)
    model.set_attn_implementation("eager")  # matmul + softmax ops, not an SDPA call
    try:
        ids = torch.full((2, 16), 1000, dtype=torch.long)
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # tracer warnings about Python ints in shapes
            torch.onnx.export(exporter(model).eval(), (ids, torch.ones_like(ids)), str(raw),
                              input_names=list(INPUTS), output_names=[OUTPUT], opset_version=OPSET,
                              dynamic_axes={name: {0: "batch", 1: "sequence"} for name in (*INPUTS, OUTPUT)},
                              dynamo=False)
    finally:
        if previous is not None:
            model.set_attn_implementation(previous)
    graph = onnx.load(str(raw))
    raw.unlink()
    optimized, stats = _bert_fused(graph, config) if config.model_type == "bert" else (OnnxModel(graph), {})
    if precision == "fp32":
        optimized.save_model_to_file(str(target))
        return stats
    keep = INT8_FP32_PRODUCTS.get(config.model_type, Fp32Products())
    fp32_nodes = keep.names(optimized.model.graph.node, int(config.num_hidden_layers))
    optimized.save_model_to_file(str(fused))
    del graph, optimized
    try:
        _quantize(fused, target, reduce_range, fp32_nodes)
    finally:
        fused.unlink(missing_ok=True)
    return stats


def _bert_fused(graph, config) -> tuple:
    """The graph after ONNX Runtime's BERT optimizer (an OnnxModel), and its count of fused operators."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    heads, hidden = int(config.num_attention_heads), int(config.hidden_size)
    _make_fusable(graph, heads)
    options = FusionOptions("bert")
    # Residual Add + LayerNormalization stay two operators: ONNX Runtime's fused
    # SkipLayerNormalization ran 5x slower than the two on the same tensors (onnxruntime
    # 1.30; docs/benchmarks.md "Session 23"). Sessions keep ONNX Runtime from fusing them at load.
    options.enable_skip_layer_norm = False
    options.enable_bias_skip_layer_norm = False
    optimized = optimize_model(graph, model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0,
                               optimization_options=options)
    stats = {k: int(v) for k, v in optimized.get_fused_operator_statistics().items() if v}
    if not stats.get("Attention"):
        log.warning("the ONNX optimizer fused no attention block in this model: the graph runs unfused")
    return optimized, stats


def _quantize(source: Path, target: Path, reduce_range: bool, fp32_nodes: list[str]) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per channel: one scale per output column. On 16 BBC articles, pooled vectors kept
    # cosine 0.997 of fp32's per channel, 0.965 with one scale per matrix (torch's int8,
    # per matrix: 0.954; docs/benchmarks.md "Speed II"). DefaultTensorType: the fused ops
    # are in the com.microsoft domain, whose outputs ONNX shape inference cannot type.
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # the quantizer logs a line per tensor (and advice) to the root logger
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=reduce_range, nodes_to_exclude=fp32_nodes,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        root.setLevel(level)


def _make_fusable(graph, heads: int) -> None:
    """Two equivalent rewrites so the BERT attention fusion matches transformers 5's graph.

    - scores are scaled by ``Mul(1/sqrt(d))``, and the fusion takes the first Mul before
      the mask's Add for the scaling, which here is the mask: scale by ``Div(sqrt(d))``;
    - heads are reshaped to ``[batch, seq, -1, head_dim]``, from which the fusion cannot
      read the head count: write it (``hidden = heads * head_dim`` makes the two equal).
    """
    from onnx import helper, numpy_helper

    nodes = list(graph.graph.node)
    producer = {out: node for node in nodes for out in node.output}

    def constant(node_output: str) -> np.ndarray | None:
        node = producer.get(node_output)
        if node is None or node.op_type != "Constant":
            return None
        return numpy_helper.to_array(node.attribute[0].t)

    additions = []
    for softmax in (n for n in nodes if n.op_type == "Softmax"):
        add = producer.get(softmax.input[0])
        for name in add.input if add is not None and add.op_type == "Add" else ():
            mul = producer.get(name)
            if mul is None or mul.op_type != "Mul":
                continue
            matmul, scale = producer.get(mul.input[0]), constant(mul.input[1])
            if matmul is not None and matmul.op_type == "MatMul" and scale is not None and scale.size == 1:
                divisor = helper.make_node("Constant", [], [mul.input[1] + "_divisor"],
                                           value=numpy_helper.from_array((1.0 / scale).astype(scale.dtype)))
                additions.append((mul, divisor))
                mul.op_type, mul.input[1] = "Div", divisor.output[0]
    for reshape in (n for n in nodes if n.op_type == "Reshape" and "/attention/" in n.name):
        concat = producer.get(reshape.input[1])
        if concat is None or concat.op_type != "Concat" or len(concat.input) != 4:
            continue
        count = constant(concat.input[2])
        if count is not None and count.tolist() == [-1]:
            fixed = helper.make_node("Constant", [], [concat.input[2] + "_heads"],
                                     value=numpy_helper.from_array(np.array([heads], dtype=np.int64)))
            additions.append((concat, fixed))
            concat.input[2] = fixed.output[0]
    for before, node in additions:  # each new constant goes right before its first user
        graph.graph.node.insert(list(graph.graph.node).index(before), node)
