"""The training loop: batches of documents, checkpoints, resume, and clean interruption."""

from __future__ import annotations

import math
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import get_linear_schedule_with_warmup

from service.progress import progress_bar

from .checkpoint import Progress, checkpoint_dir, load_checkpoint, save_checkpoint
from .config import TrainingConfig
from .distributed import Distributed

# doc indices, training? -> [docs, labels] logits
LogitsFn = Callable[[list[int], bool], torch.Tensor]


class Interrupted(Exception):
    """Training stopped on SIGINT or SIGTERM after saving a checkpoint."""


@dataclass
class Trainer:
    config: TrainingConfig
    model: torch.nn.Module  # what the optimizer updates (the head alone in head mode)
    logits: LogitsFn
    targets: torch.Tensor  # [train docs, labels] 0/1 for multi-label, [train docs] indices otherwise
    multi_label: bool
    fingerprint: dict[str, Any]
    dist: Distributed
    param_groups: list[dict[str, Any]]  # what the optimizer updates, with learning rates
    lengths: list[int] | None = None  # tokens per training document, to batch similar lengths
    desc: str = "training"  # the progress bar's name

    def _autocast(self) -> torch.autocast:
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.config.precision == "bf16")

    def _optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.param_groups, weight_decay=self.config.weight_decay)

    def _loss(self, logits: torch.Tensor, indices: list[int]) -> torch.Tensor:
        target = self.targets[indices]
        if self.multi_label:
            return torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
        return torch.nn.functional.cross_entropy(logits, target)

    def _epoch_order(self, epoch: int, n: int) -> list[int]:
        """A seeded shuffle; with ``lengths``, batches of similar length (less padding)."""
        generator = torch.Generator().manual_seed(self.config.seed * 1000 + epoch)
        order = torch.randperm(n, generator=generator).tolist()
        if self.lengths is not None:
            size = self.config.batch_size
            chunk = size * 32
            batches: list[list[int]] = []
            for start in range(0, n, chunk):
                group = sorted(order[start:start + chunk], key=lambda i: self.lengths[i])  # type: ignore[index]
                batches.extend(group[k:k + size] for k in range(0, len(group), size))
            shuffled = torch.randperm(len(batches), generator=generator).tolist()
            order = [i for b in shuffled for i in batches[b]]
        return self.dist.shard(order)

    def fit(self) -> None:
        config = self.config
        assert config.epochs is not None
        n = len(self.targets)
        per_epoch = math.ceil(len(self._epoch_order(0, n)) / config.batch_size)
        optimizer = self._optimizer()
        scheduler = get_linear_schedule_with_warmup(
            optimizer, int(config.warmup_ratio * per_epoch * config.epochs), per_epoch * config.epochs)
        where = checkpoint_dir(config.output)
        progress = Progress()
        if config.resume and (where / "state.json").is_file():
            progress = load_checkpoint(where, self.model, optimizer, scheduler, self.fingerprint)
            if self.dist.is_main:
                print(f"resuming from {where}: epoch {progress.epoch + 1}, step {progress.step_in_epoch}",
                      file=sys.stderr)
        stop = {"signal": 0}

        def _on_signal(signum: int, _frame: Any) -> None:
            stop["signal"] = signum

        previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        bar = progress_bar(total=per_epoch * config.epochs, initial=progress.global_step, desc=self.desc,
                   unit="batch", file=sys.stderr, disable=not self.dist.is_main)
        try:
            for epoch in range(progress.epoch, config.epochs):
                order = self._epoch_order(epoch, n)
                self.model.train()
                for step in range(progress.step_in_epoch if epoch == progress.epoch else 0, per_epoch):
                    batch = order[step * config.batch_size:(step + 1) * config.batch_size]
                    with self._autocast():
                        logits = self.logits(batch, True)
                    loss = self._loss(logits.float(), batch)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    scheduler.step()
                    progress = Progress(epoch, step + 1, progress.global_step + 1)
                    bar.update(1)
                    bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.4f}")
                    if stop["signal"]:
                        if self.dist.is_main:
                            save_checkpoint(where, self.model, optimizer, scheduler, progress, self.fingerprint)
                        raise Interrupted(f"stopped by signal {stop['signal']}; checkpoint in {where}; "
                                          "continue with --resume")
                progress = Progress(epoch + 1, 0, progress.global_step)
                if self.dist.is_main:
                    save_checkpoint(where, self.model, optimizer, scheduler, progress, self.fingerprint)
                self.dist.barrier()
        finally:
            bar.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @torch.inference_mode()
    def predict(self, logits: LogitsFn, n: int, batch_size: int) -> np.ndarray:
        """Probabilities [docs, labels]: sigmoid for multi-label, softmax for single-label."""
        self.model.eval()
        out = []
        for start in range(0, n, batch_size):
            with self._autocast():
                batch_logits = logits(list(range(start, min(n, start + batch_size))), False).float()
            probs = torch.sigmoid(batch_logits) if self.multi_label else torch.softmax(batch_logits, dim=-1)
            out.append(probs.float().numpy())
        return np.concatenate(out)


def remove_checkpoint(output: Path) -> None:
    import shutil

    shutil.rmtree(checkpoint_dir(output), ignore_errors=True)
