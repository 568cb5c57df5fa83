"""The exported graph as the service runs it against ONNX Runtime's own load-time fusions (issue #17).

Usage:
    python -m bench.onnx_fusions [--precision fp32,int8] [--shapes 3x256,2x224,1x256,5x32,1x64,16x128]
                                 [--rounds 12] [--onnx-dir DIR] [--quick]

One verified graph per precision (the embedded model with its matcher; exported into
``--onnx-dir`` when missing), two sessions on it: "shipped" skips the fusions named in
``onnx_runtime.DISABLED_OPTIMIZERS``, "all fusions" lets ONNX Runtime apply every one.
Each batch shape (rows x tokens, random token ids) runs on both in turn, ``--rounds``
times; printed: the median milliseconds of each, their ratio, the largest difference in
any output value, and which operators each session runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from service.config import Settings
from service.engine import Tagger
from service.engine.int8_kernels import REDUCED, int8_range
from service.engine.model_files import DEFAULT_MODEL_SHA256
from service.engine.onnx_cache import EXPORT_FORMAT, GRAPH_FILE
from service.engine.onnx_runtime import DISABLED_OPTIMIZERS, open_session
from service.interrupts import run_command


def graph_bytes(onnx_dir: Path, precision: str) -> bytes:
    """The embedded model's verified graph of ``precision`` in ``onnx_dir`` (a Tagger exports it if missing)."""
    settings = Settings.from_env({}, runtime="onnx", precision=precision, onnx_dir=onnx_dir, batching=False,
                                 document_cache=0, multilingual_model="off")
    Tagger.load(settings.engine_options())
    # The weight range the Tagger chose for this CPU: 7-bit graphs sit beside 8-bit ones.
    weights = "-7bit" if precision == "int8" and int8_range("auto") == REDUCED else ""
    [found] = onnx_dir.glob(f"{DEFAULT_MODEL_SHA256[:12]}*-{precision}{weights}-ort*-v{EXPORT_FORMAT}/{GRAPH_FILE}")
    return found.read_bytes()


def all_fusions(shipped, graph: bytes, optimized: Path):
    """A session with the shipped one's options (threads, spinning) that lets ONNX Runtime apply every fusion."""
    import onnxruntime as ort

    options = shipped.get_session_options()
    options.optimized_model_filepath = str(optimized)
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def operators(path: Path) -> Counter:
    import onnx

    return Counter(node.op_type for node in onnx.load(str(path)).graph.node)


def feed(rows: int, tokens: int) -> dict[str, np.ndarray]:
    ids = np.random.default_rng(0).integers(1000, 20000, (rows, tokens), dtype=np.int64)
    ids[:, 0], ids[:, -1] = 101, 102  # [CLS] ... [SEP]
    return {"input_ids": ids, "attention_mask": np.ones((rows, tokens), np.int64)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.onnx_fusions", description=__doc__.split("\n")[0])
    parser.add_argument("--precision", default="fp32,int8")
    parser.add_argument("--shapes", default="3x256,2x224,1x256,5x32,1x64,16x128")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--onnx-dir", type=Path, help="default: a temporary directory")
    parser.add_argument("--quick", action="store_true", help="fp32, two small shapes, two rounds")
    args = parser.parse_args(argv)
    precisions = ["fp32"] if args.quick else args.precision.split(",")
    shapes = ["2x32", "1x64"] if args.quick else args.shapes.split(",")
    rounds = 2 if args.quick else args.rounds
    print(f"shipped: ONNX Runtime's fusions but {', '.join(DISABLED_OPTIMIZERS)}; all fusions: every one")
    with tempfile.TemporaryDirectory(prefix="newstag-fusions-") as scratch:
        onnx_dir = args.onnx_dir or Path(scratch)
        for precision in precisions:
            graph = graph_bytes(onnx_dir, precision)
            shipped_path = Path(scratch) / f"shipped-{precision}.onnx"
            all_path = Path(scratch) / f"all-{precision}.onnx"
            shipped = open_session(graph, None, shipped_path)
            sessions = {"shipped": shipped, "all fusions": all_fusions(shipped, graph, all_path)}
            for name, path in (("shipped", shipped_path), ("all fusions", all_path)):
                ops = operators(path)
                listed = ", ".join(f"{op} {n}" for op, n in sorted(ops.items()) if n >= 6)
                print(f"{precision} {name} runs: {listed}")
            print(f"{'precision':<10}{'shape':>8}{'shipped ms':>12}{'all fusions ms':>16}{'ratio':>7}{'max diff':>10}")
            for shape in shapes:
                rows, tokens = (int(x) for x in shape.split("x"))
                inputs = feed(rows, tokens)
                outputs = {name: s.run(None, inputs)[0] for name, s in sessions.items()}  # warm-up
                times: dict[str, list[float]] = {name: [] for name in sessions}
                for _ in range(rounds):
                    for name, session in sessions.items():
                        start = time.perf_counter()
                        session.run(None, inputs)
                        times[name].append(time.perf_counter() - start)
                ms = {name: 1000 * float(np.median(t)) for name, t in times.items()}
                diff = float(np.abs(outputs["shipped"] - outputs["all fusions"]).max())
                print(f"{precision:<10}{shape:>8}{ms['shipped']:>12.1f}{ms['all fusions']:>16.1f}"
                      f"{ms['shipped'] / ms['all fusions']:>7.2f}{diff:>10.2g}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.onnx_fusions"))
