"""Training checkpoints without pickle: tensors in safetensors, the rest in JSON.

A checkpoint holds the trainable weights, the optimizer's moments, the scheduler's step,
where in which epoch training stopped, the latest losses and torch's random state, so a
resumed run continues exactly where the interrupted one stopped; and the training data's
fingerprint and the run's settings, so a run of other data or settings does not resume it.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

STATE = "state.json"
WEIGHTS = "weights.safetensors"
OPTIMIZER = "optimizer.safetensors"


@dataclass
class Progress:
    epoch: int = 0  # the epoch in progress (0-based)
    step_in_epoch: int = 0  # batches of that epoch already done
    global_step: int = 0
    losses: list[float] = field(default_factory=list)  # the latest steps' losses, for the final loss


def checkpoint_dir(output: Path) -> Path:
    return output.parent / f".{output.name}.checkpoint"


def _flatten_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in [*tensors.items(), *meta["scalars"].items()]:
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(directory: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, progress: Progress, fingerprint: dict[str, Any],
                    settings: dict[str, Any]) -> None:
    """Write a checkpoint atomically (a temporary directory, then a rename)."""
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    trainable = {n: p.detach().contiguous() for n, p in model.named_parameters() if p.requires_grad}
    save_file(trainable, str(tmp / WEIGHTS))
    tensors, meta = _flatten_optimizer(optimizer)
    save_file(tensors, str(tmp / OPTIMIZER))
    (tmp / STATE).write_text(json.dumps({
        "progress": progress.__dict__, "optimizer": meta, "scheduler": scheduler.state_dict(),
        "fingerprint": fingerprint, "settings": settings,
    }))
    save_file({"torch_rng": torch.get_rng_state()}, str(tmp / "rng.safetensors"))
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(tmp, directory)


def check_settings(directory: Path, settings: dict[str, Any]) -> None:
    """Refuse a checkpoint made with other settings, naming each one that differs and both values.

    Resumed, it would silently continue another run: the optimizer keeps the old learning
    rate, fewer epochs write the checkpoint's model, another mode or base fails to load.
    """
    saved = json.loads((directory / STATE).read_text()).get("settings")
    if saved is None:
        raise ValueError(f"{directory}: the checkpoint does not record the settings it was made with (an older "
                         "newstag made it); remove it or run without --resume")
    changed = [f"--{name.replace('_', '-')} {settings.get(name)} (checkpoint: {saved.get(name)})"
               for name in sorted(settings.keys() | saved.keys()) if settings.get(name) != saved.get(name)]
    if changed:
        raise ValueError(f"{directory}: the checkpoint was made with other settings: {'; '.join(changed)}; resume "
                         "with the checkpoint's settings, or run without --resume to start again")


def load_checkpoint(directory: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, fingerprint: dict[str, Any], settings: dict[str, Any]) -> Progress:
    state = json.loads((directory / STATE).read_text())
    if state["fingerprint"] != fingerprint:
        raise ValueError(f"{directory}: the checkpoint was made from other training data; remove it or "
                         "run without --resume")
    check_settings(directory, settings)
    model.load_state_dict(load_file(str(directory / WEIGHTS)), strict=False)
    optimizer.load_state_dict(_unflatten_optimizer(load_file(str(directory / OPTIMIZER)), state["optimizer"]))
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(load_file(str(directory / "rng.safetensors"))["torch_rng"])
    return Progress(**state["progress"])
