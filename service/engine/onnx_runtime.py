"""The ONNX Runtime execution backend: which runtime runs the encoder, and its sessions.

NEWSTAG_RUNTIME=torch runs the transformers model as before; ``onnx`` runs a graph
exported from the very weights the service just verified (adapter merged), found in or
exported to NEWSTAG_ONNX_DIR (onnx_cache.py: checksummed, one directory per source);
``auto`` runs ONNX when onnxruntime is installed, the precision has a graph (fp32, int8)
and a verified export is already there (auto never exports: an image exports at build
time, ``newstag export-onnx``), else torch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError
from ..options import GRAPH_PRECISIONS, no_onnx_graph

# ONNX Runtime's load-time fusions a session skips: its fused SkipLayerNormalization kernel
# took 0.79 ms where Add + LayerNormalization took 0.15 on the same [3, 256, 384] tensors
# (onnxruntime 1.30, 2 threads); unfused, the int8 graph of three 256-token rows ran 44 -> 38 ms
# with the same outputs (docs/benchmarks.md, "Session 23").
DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)
# Architectures whose export was checked (onnx_graph.EXPORTERS): BERT (all-MiniLM-L6-v2 and
# its kin, attention fused) and Gemma 3 text encoders (EmbeddingGemma, unfused).
SUPPORTED_MODEL_TYPES = ("bert", "gemma3_text")


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def graph_precision(requested: str, resolved: str, runtime: str) -> str | None:
    """The graph's precision for NEWSTAG_PRECISION (``requested``, ``resolved`` by CPU), or None: torch.

    ``auto`` precision resolves to bf16 on CPUs with native bf16; ONNX Runtime has no bf16
    path on CPU, so NEWSTAG_RUNTIME=onnx runs the fp32 graph there, and auto keeps torch bf16.
    """
    if resolved in GRAPH_PRECISIONS:
        return resolved
    if requested == "auto" and runtime == "onnx":
        return "fp32"
    if runtime == "onnx":
        raise ConfigError(no_onnx_graph(resolved))
    return None


def open_session(graph: bytes, threads: int | None = None, optimized_model_path: Path | None = None):
    """An ONNX Runtime session on the CPU for ``graph`` (``optimized_model_path``: where ONNX
    Runtime writes the graph as it runs it, after its load-time fusions; for tests)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Threads spin between the operators of a run (a woken thread costs more than a
    # kernel of a short sequence) and stop spinning when the run ends, leaving the cores
    # to tokenizing and scoring between runs. Against no spinning, alternated through
    # HTTP: one client +24-26% articles/s, 16 clients +2-8%, a 500-word article
    # 65-66 -> 56-58 ms (docs/benchmarks.md, "Session 23"). Spinning after the run as
    # well cost 16 clients 5% (session 19).
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    options.add_session_config_entry("session.force_spinning_stop", "1")
    # Denormal floats as zero on ONNX Runtime's threads (the caller's: OnnxHiddenStates).
    # A padded row's masked attention weights underflow into denormals, which the CPU
    # multiplies slowly: a padded batch ran 10-20% slower than a full one of the same
    # shape, and as fast with this; the outputs were bitwise the same (docs/benchmarks.md,
    # "Session 24: denormals").
    options.add_session_config_entry("session.set_denormal_as_zero", "1")
    if optimized_model_path is not None:
        options.optimized_model_filepath = str(optimized_model_path)
    # The process's first session sets the option on the thread that opens it, for good:
    # the block puts that thread's flags back.
    with denormals_flushed():
        return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"],
                                    disabled_optimizers=list(DISABLED_OPTIMIZERS))


def flushes_denormals() -> bool:
    """Does this thread flush denormal floats to zero? (1e-38 * 0.01 is the denormal 1e-40.)"""
    return float(np.float32(1e-38) * np.float32(0.01)) == 0.0


@contextlib.contextmanager
def denormals_flushed() -> Iterator[None]:
    """Flush denormals to zero on this thread inside the block, and put its flags back after.

    Left on, they would change every later float operation of the thread (a web server's
    request thread, a test runner's main thread) in a way nothing else expects: property
    tests refuse to run at all, since they cannot make the denormals they are asked for.
    """
    if flushes_denormals():
        yield
        return
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


class OnnxHiddenStates:
    """Runs a verified graph: padded ids and mask in, last hidden states out (as torch)."""

    def __init__(self, graph: bytes, threads: int | None = None):
        self.session = open_session(graph, threads)

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # The calling thread works in ONNX Runtime's pool too, and its flags are its own:
        # the session's setting covers only the pool's threads. Two microseconds a run.
        feed = {"input_ids": input_ids.numpy().astype(np.int64, copy=False),
                "attention_mask": attention_mask.numpy().astype(np.int64, copy=False)}
        with denormals_flushed():
            return torch.from_numpy(self.session.run(None, feed)[0])
