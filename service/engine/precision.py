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

from ..errors import ConfigError
from ..options import PRECISIONS

if TYPE_CHECKING:
    import torch


def bf16_units() -> str:
    """Which bf16 multiplier this CPU has: ``amx``, ``avx512`` or ``none`` (emulated). Their
    products round differently, so vectors made on one are not another's."""
    import torch

    try:
        if torch.cpu._is_amx_tile_supported():
            return "amx"
        return "avx512" if torch.cpu._is_avx512_bf16_supported() else "none"
    except AttributeError:  # these probes are private torch API: without them, assume none
        return "none"


def native_bf16() -> bool:
    """True when the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX); bf16 is slow elsewhere."""
    return bf16_units() != "none"


class Precision:
    """``auto`` is bf16 on CPUs with native bf16 (no measured accuracy loss), else fp32."""

    def __init__(self, name: str = "fp32"):
        if name not in PRECISIONS:
            raise ConfigError(f"NEWSTAG_PRECISION must be one of {', '.join(PRECISIONS)}, not {name!r}")
        self.requested = name
        self.name = ("bf16" if native_bf16() else "fp32") if name == "auto" else name

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model to run at this precision (int8: a quantized copy of its Linear layers)."""
        if self.name == "fp32":
            return model
        import torch

        if self.name == "bf16":
            # Linear weights in bf16 once, so autocast does not cast them on every call
            # (measured: autocast alone ran no faster than fp32); LayerNorm and the
            # embeddings stay fp32, and autocast runs layer_norm and softmax in fp32.
            for module in model.modules():
                if isinstance(module, torch.nn.Linear):
                    module.to(torch.bfloat16)
            return model

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
