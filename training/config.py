"""Fine-tuning configuration: one dataclass, grouped and commented."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal


@dataclass
class TrainingConfig:
    # Data.
    train: Path
    output: Path
    validation: Path | None = None
    validation_split: float = 0.1  # used when no --validation file is given

    # Model.
    base: Path | None = None  # None: the embedded all-MiniLM-L6-v2
    mode: Literal["head", "full"] = "head"  # head: frozen encoder; full: end to end
    max_length: int = 256  # tokens per window (sentence-aligned windows, never truncation)

    # Optimisation. None picks the mode's default (see resolved()).
    epochs: int | None = None
    batch_size: int = 16  # documents per step
    lr: float | None = None
    # full mode, LP-FT: the head first trains alone on frozen features (head mode's recipe,
    # seconds to minutes), then everything trains together.
    probe_epochs: int = 40
    head_lr_multiplier: float = 200.0  # full mode: the fresh head needs head-mode speed (1e-2 at lr 5e-5)
    weight_decay: float = 0.01
    # bf16: forward and backward under CPU autocast (AMX/AVX512-BF16 matmuls); the weights
    # and the optimizer stay fp32, and the saved model is fp32.
    precision: Literal["fp32", "bf16"] = "fp32"
    warmup_ratio: float = 0.1

    # Reproducibility and recovery.
    seed: int = 42
    resume: bool = False
    command: list[str] = field(default_factory=list)  # recorded in the model card

    def resolved(self) -> TrainingConfig:
        """Fill mode-dependent defaults: head 40 epochs at 1e-2; full 2 epochs at 5e-5.

        Full mode's 2 epochs (after the head probe) reached the BBC News and Reuters targets
        (docs/benchmarks.md); Reuters took 46 minutes on 2 cores.
        """
        if self.epochs is None:
            self.epochs = 40 if self.mode == "head" else 2
        if self.lr is None:
            self.lr = 1e-2 if self.mode == "head" else 5e-5
        return self

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        return {k: str(v) if isinstance(v, Path) else v for k, v in out.items()}
