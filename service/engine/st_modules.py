"""What a sentence-transformers model directory does after its transformer: pooling, Dense, Normalize.

``modules.json`` lists the steps. newstag pools by the mean of the tokens itself (pooling.py; each
window, and each sentence inside it, from one forward pass), then runs the Dense and
Normalize modules on the pooled vectors in their order. EmbeddingGemma, for example, is
Transformer → mean Pooling → Dense 768→3072 → Dense 3072→768 → Normalize; loading only
the transformer (as for all-MiniLM-L6-v2, whose pipeline ends at Normalize) would give
other vectors. Dense weights are read from their safetensors file, never from a pickle.
A directory without ``modules.json`` is a plain transformer: mean pooling, nothing after.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import ModelLoadError

_PACKAGE = "sentence_transformers."
# Dense activations sentence-transformers writes by their class path; a closed set, so a
# config cannot name arbitrary code.
_ACTIVATIONS: dict[str, Callable[[], torch.nn.Module]] = {
    "torch.nn.modules.linear.Identity": torch.nn.Identity,
    "torch.nn.modules.activation.Tanh": torch.nn.Tanh,
    "torch.nn.modules.activation.ReLU": torch.nn.ReLU,
    "torch.nn.modules.activation.GELU": torch.nn.GELU,
    "torch.nn.modules.activation.Sigmoid": torch.nn.Sigmoid,
}


@dataclass(frozen=True)
class Dense:
    """``activation(x @ weight.T + bias)``, as sentence_transformers.models.Dense."""

    weight: torch.Tensor  # [out, in]
    bias: torch.Tensor | None
    activation: torch.nn.Module

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(torch.nn.functional.linear(x, self.weight, self.bias))


def _normalize(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x, dim=-1)


@dataclass(frozen=True)
class Pipeline:
    """The steps after mean pooling, and whether the pooled mean includes the prompt's tokens."""

    steps: tuple[Callable[[torch.Tensor], torch.Tensor], ...] = ()
    include_prompt: bool = True
    dim: int | None = None  # the output width when a Dense layer changes it
    prompts: dict[str, str] = field(default_factory=dict)  # config_sentence_transformers.json
    default_prompt_name: str | None = None

    def __call__(self, pooled: torch.Tensor) -> torch.Tensor:
        """[n, hidden] mean-pooled vectors → [n, dim] (not yet unit length unless a Normalize says)."""
        for step in self.steps:
            pooled = step(pooled)
        return pooled


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}") from None
    return data


def read_dense(directory: Path) -> Dense:
    """A Dense module's weights (safetensors only) and its activation."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    config = _json(directory / "config.json")
    activation = config.get("activation_function", "torch.nn.modules.activation.Tanh")
    if activation not in _ACTIVATIONS:
        raise ModelLoadError(f"{directory}: Dense activation {activation!r} is not supported")
    weights = directory / "model.safetensors"
    if not weights.is_file():
        raise ModelLoadError(f"Dense weights file is missing (safetensors only): {weights}")
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise ModelLoadError(f"Dense weights file is truncated or corrupt: {weights} ({exc})") from None
    weight, bias = tensors.get("linear.weight"), tensors.get("linear.bias")
    expected = (int(config.get("out_features", -1)), int(config.get("in_features", -1)))
    if weight is None or tuple(weight.shape) != expected:
        raise ModelLoadError(f"{weights}: linear.weight is missing or not {expected[0]}x{expected[1]}")
    return Dense(weight.float(), None if bias is None else bias.float(), _ACTIVATIONS[activation]())


def _pooling(directory: Path) -> bool:
    """include_prompt of a mean Pooling module; any other pooling is refused, not silently replaced."""
    config = _json(directory / "config.json")
    modes = [k.removeprefix("pooling_mode_") for k, v in config.items() if k.startswith("pooling_mode_") and v]
    if isinstance(config.get("pooling_mode"), str):  # how newer sentence-transformers write it
        modes = [config["pooling_mode"]]
    if modes not in (["mean_tokens"], ["mean"]):
        raise ModelLoadError(f"{directory}: pooling {', '.join(modes) or 'none'} is not supported "
                             "(newstag pools windows and sentences by the mean of their tokens)")
    return bool(config.get("include_prompt", True))


def read_pipeline(model_dir: Path) -> Pipeline:
    """The modules after the transformer, from ``modules.json`` (a plain mean when there is none)."""
    st_config = model_dir / "config_sentence_transformers.json"
    prompts: dict[str, str] = {}
    default_prompt = None
    if st_config.is_file():
        config = _json(st_config)
        prompts = {str(k): str(v) for k, v in (config.get("prompts") or {}).items()}
        default_prompt = config.get("default_prompt_name") or None
    modules_file = model_dir / "modules.json"
    if not modules_file.is_file():
        return Pipeline(prompts=prompts, default_prompt_name=default_prompt)
    steps: list[Callable[[torch.Tensor], torch.Tensor]] = []
    include_prompt, dim = True, None
    for module in sorted(_json(modules_file), key=lambda m: int(m.get("idx", 0))):
        # "sentence_transformers.models.Dense" (v2-v5), "sentence_transformers.base.modules.dense.Dense" (v6)
        path = str(module.get("type", ""))
        kind = path.rsplit(".", 1)[-1] if path.startswith(_PACKAGE) else path
        where = model_dir / str(module.get("path", ""))
        if kind == "Transformer":
            continue
        if kind == "Pooling":
            include_prompt = _pooling(where)
        elif kind == "Dense":
            dense = read_dense(where)
            steps.append(dense)
            dim = int(dense.weight.shape[0])
        elif kind == "Normalize":
            steps.append(_normalize)
        else:
            raise ModelLoadError(f"{modules_file}: module {module.get('type')!r} is not supported "
                                 "(newstag runs Transformer, mean Pooling, Dense and Normalize)")
    if steps and steps[-1] is _normalize:  # the encoder ends every vector at unit length anyway
        steps.pop()
    return Pipeline(tuple(steps), include_prompt, dim, prompts, default_prompt)
