"""Low-rank (LoRA) adapters merged into an encoder's weights at load time.

An adapter directory holds ``adapter.safetensors`` (for each adapted Linear layer, its
``<module>.lora_A`` [rank, in] and ``<module>.lora_B`` [out, rank]) and ``adapter.json``
(rank, scale and the base weights' SHA-256). Merging adds ``scale * B @ A`` to each
layer's weight once, so an adapted model costs nothing more per request than the plain one.
The format is written by ``training.matcher``; peft is only needed to train, not to serve.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import ModelLoadError
from .model_files import MATCHER_WEIGHTS, check_safetensors, verify_file

ADAPTER_WEIGHTS = MATCHER_WEIGHTS
ADAPTER_MANIFEST = "adapter.json"
ADAPTER_KIND = "newstag-lora-adapter"


@dataclass(frozen=True)
class Adapter:
    path: Path
    scale: float
    base_sha256: str
    pairs: dict[str, tuple[torch.Tensor, torch.Tensor]]  # module path -> (A, B)

    @property
    def parameters(self) -> int:
        return sum(a.numel() + b.numel() for a, b in self.pairs.values())


def read_adapter(path: Path, expected_sha256: str | None = None) -> Adapter:
    """Read and check an adapter directory; any problem is one clear ModelLoadError."""
    weights, manifest_file = path / ADAPTER_WEIGHTS, path / ADAPTER_MANIFEST
    for needed in (weights, manifest_file):
        if not needed.is_file():
            raise ModelLoadError(f"adapter file is missing: {needed}")
    if expected_sha256 is not None:
        verify_file(weights, expected_sha256, "adapter weights")
    try:
        manifest = json.loads(manifest_file.read_text())
        if manifest.get("kind") != ADAPTER_KIND:
            raise ValueError(f"kind is {manifest.get('kind')!r}, not {ADAPTER_KIND!r}")
        scale, base = float(manifest["scale"]), str(manifest["base_sha256"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"adapter manifest is not valid: {manifest_file} ({exc})") from None
    check_safetensors(weights)
    from safetensors.torch import load_file

    tensors = load_file(str(weights))
    modules = sorted({key.rsplit(".", 1)[0] for key in tensors})
    pairs = {}
    for module in modules:
        a, b = tensors.get(f"{module}.lora_A"), tensors.get(f"{module}.lora_B")
        if a is None or b is None or a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[1]:
            raise ModelLoadError(f"adapter weights for {module} are not a LoRA pair: {weights}")
        pairs[module] = (a.float(), b.float())
    return Adapter(path, scale, base, pairs)


@torch.no_grad()
def merge_adapter(model: torch.nn.Module, adapter: Adapter) -> None:
    """Add each pair's ``scale * B @ A`` to its Linear layer's weight, in place."""
    for module_path, (a, b) in adapter.pairs.items():
        try:
            layer = model.get_submodule(module_path)
        except AttributeError:
            raise ModelLoadError(f"adapter {adapter.path} does not fit this model: no layer {module_path}") from None
        if not isinstance(layer, torch.nn.Linear) or layer.weight.shape != (b.shape[0], a.shape[1]):
            raise ModelLoadError(f"adapter {adapter.path} does not fit this model: {module_path} has another shape")
        layer.weight += adapter.scale * (b @ a).to(layer.weight.dtype)
