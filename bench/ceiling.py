"""The hardware ceiling: this machine's matmul GFLOP/s, the model's FLOPs per window, and
the compute-bound limit in windows per second.

Usage:
    python -m bench.ceiling [--tokens 256] [--seconds 3] [--quick]

FLOPs per window are counted by torch's FlopCounterMode on a real forward pass of the
embedded model (matmuls only, which is what the ceiling measures).
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoModel

from service.engine.model_files import default_model_dir
from service.interrupts import run_command


def matmul_gflops(dtype: torch.dtype, size: int, seconds: float) -> float:
    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    torch.mm(a, b)  # warm-up
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b)
        runs += 1
    elapsed = time.perf_counter() - start
    return 2 * size**3 * runs / elapsed / 1e9


def flops_per_window(tokens: int) -> int:
    model = AutoModel.from_pretrained(default_model_dir(), local_files_only=True).eval()
    ids = torch.full((1, tokens), 1000)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(input_ids=ids, attention_mask=torch.ones_like(ids))
    return int(counter.get_total_flops())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ceiling", description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=256, help="tokens per window")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per matmul measurement")
    parser.add_argument("--size", type=int, default=1024, help="square matrix size")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    seconds, size = (0.2, 256) if args.quick else (args.seconds, args.size)

    flops = flops_per_window(args.tokens)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; all-MiniLM-L6-v2 at {args.tokens} tokens: "
          f"{flops / 1e9:.2f} GFLOP per window")
    print(f"{'dtype':<10}{'matmul GFLOP/s':>16}{'ceiling windows/s':>20}{'ceiling tokens/s':>18}")
    fp32_windows = 1.0
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        gflops = matmul_gflops(dtype, size, seconds)
        windows = gflops * 1e9 / flops
        print(f"{name:<10}{gflops:>16.1f}{windows:>20.1f}{windows * args.tokens:>18.0f}")
        if name == "fp32":
            fp32_windows = windows
    print(f"the model alone (fp32, {args.tokens}-token windows, no tokenizer, no HTTP):")
    for batch in (1, 8):
        rate = model_windows_per_second(args.tokens, batch, seconds)
        print(f"  batches of {batch}: {rate:.1f} windows/s, {rate / fp32_windows:.0%} of the fp32 ceiling")
    return 0


def model_windows_per_second(tokens: int, batch: int, seconds: float) -> float:
    model = AutoModel.from_pretrained(default_model_dir(), local_files_only=True).eval()
    ids = torch.full((batch, tokens), 1000)
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        model(input_ids=ids, attention_mask=mask)  # warm-up
        runs, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            model(input_ids=ids, attention_mask=mask)
            runs += 1
    return runs * batch / (time.perf_counter() - start)


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.ceiling"))
