"""The one training loop: batches, a loss, checkpoints, resume, clean interruption, a progress bar.

It knows nothing of what it trains. Its caller gives the model (whose trainable
parameters are checkpointed), the optimizer's parameter groups, a function that returns
an epoch's batches and one that returns a batch's loss. Fine-tuning
(training/classification.py, probe.py) and the topic matcher (training/matcher.py) both
run through it, so both get a checkpoint every epoch and on SIGINT or SIGTERM, and
``--resume`` that continues exactly where the run stopped.
"""

from __future__ import annotations

import math
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import torch
from transformers import get_linear_schedule_with_warmup

from service.progress import progress_bar

from .checkpoint import Progress, check_settings, checkpoint_dir, load_checkpoint, save_checkpoint
from .config import RunConfig
from .distributed import Distributed

B = TypeVar("B")
Schedule = Callable[[torch.optim.Optimizer, int], torch.optim.lr_scheduler.LRScheduler]
RECENT = 50  # losses averaged for the progress bar and the final loss (kept in checkpoints)


class Interrupted(Exception):
    """Training stopped on SIGINT or SIGTERM after saving a checkpoint."""


class Diverged(ValueError):
    """The training loss or the trained weights stopped being finite numbers: no model is written."""


def _diverged(what: str) -> Diverged:
    return Diverged(f"{what}: training diverged (a lower --lr may help); no model was written")


def linear_warmup(ratio: float) -> Schedule:
    """Linear warm-up over ``ratio`` of the steps, then linear decay to zero (transformers' schedule)."""
    return lambda optimizer, total: get_linear_schedule_with_warmup(optimizer, int(ratio * total), total)


@contextmanager
def _stop_on_signals() -> Iterator[dict[str, int]]:
    """Note SIGINT and SIGTERM instead of dying, so the loop can checkpoint first."""
    stop = {"signal": 0}

    def _on_signal(signum: int, _frame: Any) -> None:
        stop["signal"] = signum

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass
class Trainer(Generic[B]):
    config: RunConfig  # epochs, precision, weight_decay, resume; the checkpoint goes beside config.output
    model: torch.nn.Module  # its trainable parameters are what a checkpoint keeps
    param_groups: list[dict[str, Any]]  # what the optimizer (AdamW) updates, with learning rates
    batches: Callable[[int], list[B]]  # epoch -> this process's batches (the same every time it is asked)
    loss: Callable[[B], torch.Tensor]  # a batch's loss, computed under the run's autocast
    fingerprint: dict[str, Any]  # the training data's; a checkpoint of other data is refused
    schedule: Schedule = field(default_factory=lambda: linear_warmup(0.1))
    dist: Distributed = field(default_factory=Distributed)
    desc: str = "training"  # the progress bar's name
    describe: Callable[[B], dict[str, Any]] | None = None  # more for the progress bar (e.g. the batch's set)
    losses: list[float] = field(default_factory=list)  # every step's loss (since the resumed checkpoint)

    def autocast(self) -> torch.autocast:
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.config.precision == "bf16")

    def recent_loss(self) -> float | None:
        return float(np.mean(self.losses[-RECENT:])) if self.losses else None

    def fit(self) -> None:
        config = self.config
        assert config.epochs is not None
        per_epoch = [len(self.batches(epoch)) for epoch in range(config.epochs)]
        optimizer = torch.optim.AdamW(self.param_groups, weight_decay=config.weight_decay)
        scheduler = self.schedule(optimizer, sum(per_epoch))
        where = checkpoint_dir(config.output)
        progress = Progress()
        if config.resume and (where / "state.json").is_file():
            progress = load_checkpoint(where, self.model, optimizer, scheduler, self.fingerprint,
                                       config.run_settings())
            self.losses = list(progress.losses)
            if self.dist.is_main:
                print(f"resuming from {where}: epoch {progress.epoch + 1}, step {progress.step_in_epoch}",
                      file=sys.stderr)
        elif config.resume and self.dist.is_main:
            print(f"--resume: no checkpoint in {where}; training from the start", file=sys.stderr)

        def save(at: Progress) -> None:
            if self.dist.is_main:
                save_checkpoint(where, self.model, optimizer, scheduler, replace(at, losses=self.losses[-RECENT:]),
                                self.fingerprint, config.run_settings())

        bar = progress_bar(total=sum(per_epoch), initial=progress.global_step, desc=self.desc,
                           unit="batch", file=sys.stderr, disable=not self.dist.is_main)
        with _stop_on_signals() as stop, bar:
            for epoch in range(progress.epoch, config.epochs):
                batches = self.batches(epoch)
                self.model.train()
                for step in range(progress.step_in_epoch if epoch == progress.epoch else 0, len(batches)):
                    with self.autocast():
                        loss = self.loss(batches[step])
                    if not math.isfinite(value := loss.item()):  # stop now: every later step would be NaN too
                        raise _diverged(f"the loss became {value} at epoch {epoch + 1}, step {step + 1}")
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    scheduler.step()
                    self.losses.append(value)
                    progress = Progress(epoch, step + 1, progress.global_step + 1)
                    bar.update(1)
                    bar.set_postfix(epoch=epoch + 1, loss=f"{self.recent_loss():.4f}",
                                    **(self.describe(batches[step]) if self.describe else {}))
                    if stop["signal"]:
                        save(progress)
                        raise Interrupted(f"stopped by signal {stop['signal']}; checkpoint in {where}; "
                                          "continue with --resume")
                progress = Progress(epoch + 1, 0, progress.global_step)
                save(progress)
                self.dist.barrier()
        if not all(torch.isfinite(p).all() for p in self.model.parameters() if p.requires_grad):
            raise _diverged("the trained weights are not finite numbers")  # the last step's update overflowed


def check_resumable(config: RunConfig) -> None:
    """Before the model loads: refuse to resume a checkpoint made with other settings."""
    where = checkpoint_dir(config.output)
    if config.resume and (where / "state.json").is_file():
        check_settings(where, config.run_settings())


def remove_checkpoint(output: Path) -> None:
    import shutil

    shutil.rmtree(checkpoint_dir(output), ignore_errors=True)
