"""Training configuration: a base every run shares, and one dataclass per kind of run.

``RunConfig`` holds what the shared training loop (trainer.py) reads: where the run
writes (and keeps its checkpoint), the loop's settings, the seed and resume. Fine-tuning
(``TrainingConfig``) and the topic matcher (``MatcherConfig``) add their own fields and
defaults. Fields are keyword-only, so a subclass can add required ones.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from .hybrid_settings import HybridSettings


def finite_positive(value: float | None) -> bool:
    """None (the default) or a finite number above 0: nan, inf, 0 or a negative learning rate
    (or temperature) trains a model of NaN weights, or one that diverges."""
    return value is None or (math.isfinite(value) and value > 0)


@dataclass(kw_only=True)
class RunConfig:
    # Output and model.
    output: Path  # the directory written at the end; the checkpoint lives beside it
    base: Path | None = None  # None: the embedded all-MiniLM-L6-v2
    max_length: int = 256  # tokens per text or window

    # Optimisation (AdamW). None picks a default (see TrainingConfig.resolved()).
    epochs: int | None = None
    batch_size: int = 16
    lr: float | None = None
    weight_decay: float = 0.01
    # bf16: forward and backward under CPU autocast (AMX/AVX512-BF16 matmuls); the weights
    # and the optimizer stay fp32, and the saved model is fp32.
    precision: Literal["fp32", "bf16"] = "fp32"

    # Reproducibility and recovery.
    seed: int = 42
    resume: bool = False  # continue from the checkpoint beside ``output``
    command: list[str] = field(default_factory=list)  # recorded in the model card

    # The settings that shape a run: a checkpoint made with other values is not resumed
    # (checkpoint.py). Epochs too: the learning-rate schedule spans them all.
    RESUMED: ClassVar[tuple[str, ...]] = ("base", "max_length", "epochs", "batch_size", "lr", "precision", "seed")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        return {k: str(v) if isinstance(v, Path) else v for k, v in out.items()}

    def run_settings(self) -> dict[str, Any]:
        """``RESUMED``'s values, as JSON; the base by its absolute path."""
        values = {name: getattr(self, name) for name in self.RESUMED}
        values["base"] = str(self.base.resolve()) if self.base else "the embedded model"
        return values


@dataclass(kw_only=True)
class TrainingConfig(RunConfig):
    """Fine-tuning a classifier (training.finetune)."""

    # Data.
    train: Path
    validation: Path | None = None
    validation_split: float = 0.1  # used when no --validation file is given

    # Model.
    # hybrid: a linear SVM per label over the frozen encoder's article vector and TF-IDF;
    # head: a linear head on frozen window vectors; full: end to end (LP-FT)
    mode: Literal["hybrid", "head", "full"] = "hybrid"
    hybrid: HybridSettings = field(default_factory=HybridSettings)
    # hybrid and head, single-label: tune the encoder on pairs of training articles first
    # (training/contrastive.py)
    contrastive: Literal["on", "off"] = "off"
    contrastive_pairs: int = 640
    # head and full modes: the loss (classification.LOSSES; the hybrid recipe's SVMs are balanced)
    loss: Literal["bce", "balanced", "focal"] = "bce"
    # (max_length: tokens per window; sentence-aligned windows, never truncation)

    # Optimisation. batch_size counts documents per step.
    # full mode, LP-FT: the head first trains alone on frozen features (head mode's recipe,
    # seconds to minutes), then everything trains together.
    probe_epochs: int = 40
    head_lr_multiplier: float = 200.0  # full mode: the fresh head needs head-mode speed (1e-2 at lr 5e-5)
    warmup_ratio: float = 0.1

    RESUMED = (*RunConfig.RESUMED, "mode", "head_lr_multiplier", "probe_epochs", "contrastive",
               "contrastive_pairs", "validation_split", "loss")

    def run_settings(self) -> dict[str, Any]:
        # With a --validation file the whole training file trains: the split plays no part.
        return {**super().run_settings(), **({"validation_split": None} if self.validation else {})}

    def resolved(self) -> TrainingConfig:
        """Fill mode-dependent defaults: head 40 epochs at 1e-2; full 2 epochs at 5e-5.

        Full mode's 2 epochs (after the head probe) reached the BBC News and Reuters targets
        (docs/benchmarks.md); Reuters took 46 minutes on 2 cores.
        """
        if self.epochs is None:  # hybrid mode has none: the SVMs train to convergence
            self.epochs = 40 if self.mode == "head" else 2 if self.mode == "full" else 1
        if self.lr is None:
            self.lr = 1e-2 if self.mode != "full" else 5e-5
        return self


@dataclass(kw_only=True)
class MatcherConfig(RunConfig):
    """Training the topic matcher's LoRA adapter (training.matcher)."""

    # Data: each file is its own label space.
    data: list[Path]
    names: list[Path] = field(default_factory=list)  # {"label": "readable name"} JSON files
    max_per_set: int | None = 500  # rows sampled per set: every set counts alike, and a run takes minutes
    max_per_file: dict[str, int] = field(default_factory=dict)  # file stem -> its own cap, over max_per_set

    # Model: max_length is the tokens read of each text (its opening: the title and lead).
    max_length: int = 128
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.1
    temperature: float = 0.05

    RESUMED = (*RunConfig.RESUMED, "rank", "alpha", "dropout", "temperature", "max_per_set", "max_per_file")

    # Optimisation: batch_size counts texts per step, all from one set.
    epochs: int | None = 1
    batch_size: int = 32
    lr: float | None = 5e-4
