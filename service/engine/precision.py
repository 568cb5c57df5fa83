"""Numeric precision of the encoder at inference: fp32, bf16 (autocast) or int8 (dynamic).

bf16 runs matmuls in bfloat16 under CPU autocast (fast where the CPU has AVX512-BF16 or
AMX); int8 quantizes the Linear layers' weights once at load and their activations on
the fly (torch dynamic quantization). Measured speed and accuracy: docs/benchmarks.md.
"""

from __future__ import annotations

import contextlib
import warnings
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    import torch

PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "int8")


class Precision:
    def __init__(self, name: str = "fp32"):
        if name not in PRECISIONS:
            raise ConfigError(f"NEWSTAG_PRECISION must be one of {', '.join(PRECISIONS)}, not {name!r}")
        self.name = name

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model to run at this precision (int8: a quantized copy of its Linear layers)."""
        if self.name != "int8":
            return model
        import torch

        with warnings.catch_warnings():
            # torch marks its quantized tensors and torch.ao.quantization as deprecated in
            # favour of torchao; they work in the pinned torch 2.13, and torchao would be one
            # more dependency for one call. Revisit when torch is upgraded.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*", category=UserWarning)
            from torch.ao.quantization import quantize_dynamic

            return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)

    def autocast(self) -> AbstractContextManager[object]:
        if self.name == "bf16":
            import torch

            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()
