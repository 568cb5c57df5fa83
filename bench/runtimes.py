"""torch and ONNX Runtime, fp32 and int8, side by side through HTTP in one run (issue #17).

Usage:
    python -m bench.runtimes [--seconds 20] [--concurrency 1,16] [--onnx-dir DIR] [--quick]

Names the CPU's instruction set and the machine's load, exports (or verifies) the ONNX
graphs into ``--onnx-dir`` first, so no server start includes an export, then runs
bench.throughput on the same articles for torch fp32, torch int8, ONNX fp32 and ONNX int8:
the production server per setting, document cache off, articles/s, tokens/s, share of the
fp32 matmul ceiling measured in the same run, p50/p95/p99, and one 500-word article at
concurrency 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench import throughput
from service.engine.int8_kernels import cpu_flags, int8_kernels
from service.interrupts import run_command


def instruction_sets() -> str:
    """The x86 matrix instruction sets int8 and fp32 kernels pick from, as the kernel reports them."""
    flags = cpu_flags()
    if flags is None:
        return "unknown (no /proc/cpuinfo)"
    names = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_vnni": "AVX-512 VNNI", "avx_vnni": "AVX-VNNI",
             "avx512_bf16": "AVX-512 BF16", "amx_tile": "AMX", "amx_int8": "AMX-INT8"}
    found = [label for flag, label in names.items() if flag in flags]
    int8 = "VNNI" if int8_kernels(flags) == "vnni" else "AVX2 u8s8 (no VNNI: int8 dot products may saturate)"
    if "amx_int8" in flags:  # ONNX Runtime's MLAS multiplies large enough int8 products on AMX tiles
        int8 = "AMX-INT8 (VNNI for small products)"
    return f"{', '.join(found) or 'none of AVX2/AVX-512'}; int8 kernels: {int8}"


def export_graphs(onnx_dir: Path, precisions: str) -> None:
    from service.cli import main as newstag

    env = os.environ.get("NEWSTAG_ONNX_DIR")
    os.environ["NEWSTAG_ONNX_DIR"] = str(onnx_dir)
    try:
        if newstag(["export-onnx", "--precision", precisions]) != 0:
            raise SystemExit("the ONNX export failed")
    finally:
        if env is None:
            os.environ.pop("NEWSTAG_ONNX_DIR")
        else:
            os.environ["NEWSTAG_ONNX_DIR"] = env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.runtimes", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="time per concurrency level")
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--precision", default="fp32,int8")
    parser.add_argument("--runtime", default="torch,onnx")
    parser.add_argument("--onnx-dir", type=Path, help="where the graphs go (default: a temporary directory)")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--articles", type=int, default=1500)
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run (CI): fp32 only")
    args = parser.parse_args(argv)
    print(f"CPU: {instruction_sets()}; {os.cpu_count()} cores; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} before the run")
    with tempfile.TemporaryDirectory(prefix="newstag-onnx-") as scratch:
        onnx_dir = args.onnx_dir or Path(scratch)
        if "onnx" in args.runtime.split(","):
            export_graphs(onnx_dir, "fp32" if args.quick else args.precision)
        forwarded = ["--runtime", args.runtime, "--precision", args.precision, "--concurrency", args.concurrency,
                     "--seconds", str(args.seconds), "--batching", "on", "--onnx-dir", str(onnx_dir),
                     "--articles", str(args.articles)]
        if args.data is not None:
            forwarded += ["--data", str(args.data)]
        if args.quick:
            forwarded += ["--quick"]
        status = throughput.main(forwarded)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} after the run")
    return status


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.runtimes"))
