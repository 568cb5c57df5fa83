"""Which int8 weights an ONNX graph needs on this CPU: full 8-bit range, or 7-bit (reduce_range).

ONNX Runtime's dynamic int8 multiplies uint8 activations by int8 weights (U8S8). With VNNI
(AVX-512 VNNI, AVX-VNNI, AMX-INT8) the products accumulate in int32, and on ARM in int32
dot products: full-range weights are right. On x86 without VNNI (AVX2, AVX-512 without
VNNI) it uses ``vpmaddubsw``, which adds each pair of products into an int16 with
saturation: 255 x 127 x 2 = 64,770 does not fit in 32,767, and a saturated sum is a wrong
number, silently. ONNX Runtime's documented remedy there is ``reduce_range``: weights in
7 bits, |w| <= 64, so a pair is at most 255 x 64 x 2 = 32,640 and never saturates
(onnxruntime docs, "Quantize ONNX models": "When to use reduce-range and per-channel
quantization?"). The range is part of what a graph is exported from (onnx_cache.py's
GraphSource), so a graph made on one CPU is not loaded on one that needs the other.
"""

from __future__ import annotations

import platform
from pathlib import Path

from ..errors import ConfigError
from ..options import INT8_RANGES  # NEWSTAG_ONNX_INT8_RANGE: auto, full, reduced

FULL, REDUCED = "full", "reduced"
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})  # as /proc/cpuinfo names them
X86 = frozenset({"x86_64", "amd64", "i386", "i686", "x86"})


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str] | None:
    """The CPU's feature flags as the Linux kernel lists them; None where it does not (macOS, Windows)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return None


def int8_kernels(flags: frozenset[str] | None = None, machine: str | None = None) -> str:
    """``vnni`` (int32 accumulation), ``u8s8`` (x86 pairs summed into int16, may saturate) or ``other`` (ARM...).

    An x86 CPU whose flags cannot be read counts as ``u8s8``: 7-bit weights are right everywhere.
    """
    if (machine or platform.machine()).lower() not in X86:
        return "other"
    found = cpu_flags() if flags is None else flags
    return "vnni" if found is not None and found & VNNI_FLAGS else "u8s8"


def int8_range(setting: str = "auto", kernels: str | None = None) -> str:
    """The weight range an int8 graph must have here: NEWSTAG_ONNX_INT8_RANGE, ``auto`` by the CPU."""
    if setting not in INT8_RANGES:
        raise ConfigError(f"NEWSTAG_ONNX_INT8_RANGE must be one of {', '.join(INT8_RANGES)}, not {setting!r}")
    if setting != "auto":
        return setting
    return REDUCED if (kernels or int8_kernels()) == "u8s8" else FULL
