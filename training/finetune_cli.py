"""training.finetune's command line: its options, the run's configuration, and the arguments it refuses."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from . import contrastive
from .classification import LOSSES
from .config import TrainingConfig, finite_positive
from .hybrid_settings import HybridSettings


class _WithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """--help names each option's default, except where there is none to name (chosen, or per mode)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or isinstance(action.default, bool) or not action.help:
            return action.help
        return super()._get_help_string(action)


def parser(description: str) -> argparse.ArgumentParser:
    """training.finetune's command line (its usage is in finetune.py's docstring)."""
    parser = argparse.ArgumentParser(prog="python -m training.finetune", description=description,
                                     formatter_class=_WithDefaults)
    parser.add_argument("--train", type=Path, required=True, help="JSONL or CSV of labeled articles")
    held = parser.add_mutually_exclusive_group()
    held.add_argument("--validation", type=Path, help="a separate validation file")
    held.add_argument("--validation-split", type=float, default=0.1, help="hold out this share of --train")
    parser.add_argument("--output", type=Path, required=True, help="the model directory to write")
    parser.add_argument("--base", type=Path, help="a local model directory (default: embedded all-MiniLM-L6-v2)")
    parser.add_argument("--mode", choices=["hybrid", "head", "full"], default="hybrid",
                        help="hybrid: linear SVMs over TF-IDF and the frozen encoder's article vector; head: a "
                             "linear head on the frozen encoder; full: the encoder tuned too (docs/training.md)")
    parser.add_argument("--epochs", type=int, help="default: 40 (head), 2 (full); hybrid has no epochs")
    parser.add_argument("--svm-c", type=float, default=HybridSettings.c, help="hybrid: the linear SVM's C")
    parser.add_argument("--embedding-weight", type=float, default=HybridSettings.embedding_weight,
                        help="hybrid: the article vector's scale beside the unit TF-IDF vector (0: TF-IDF only; "
                             "default: chosen out of fold among "
                             f"{', '.join(f'{w:g}' for w in HybridSettings.embedding_weights)})")
    parser.add_argument("--label-prior", type=float, default=HybridSettings.label_prior,
                        help="hybrid: the scale of each label's own feature, the article's similarity to the "
                             "label's name (0: off; default: chosen out of fold among "
                             f"{', '.join(f'{p:g}' for p in HybridSettings.label_priors)}, with the weight)")
    parser.add_argument("--nb-alpha", type=float, default=HybridSettings.nb_alpha,
                        help="hybrid: each label's TF-IDF columns weighed by their log-count ratio for it, "
                             "smoothed by this (0: off; default: chosen out of fold among "
                             f"{', '.join(f'{a:g}' for a in HybridSettings.nb_alphas)}, with the weight and prior)")
    parser.add_argument("--refit", choices=["on", "off"], default="on" if HybridSettings.refit else "off",
                        help="hybrid: once the --validation-split rows are scored, fit the served model again on "
                             "them and the training rows (default on; a --validation file is never trained on)")
    parser.add_argument("--contrastive", choices=list(contrastive.CHOICES), default=contrastive.OFF,
                        help="hybrid and head, single-label: tune the encoder on pairs of training articles first "
                             "(SetFit-style; measured to help at about 8 articles a label)")
    parser.add_argument("--contrastive-pairs", type=int, default=contrastive.ContrastiveSettings.pairs,
                        help="pairs of training articles the contrastive tuning reads")
    parser.add_argument("--loss", choices=list(LOSSES), default=TrainingConfig.loss,
                        help="head and full modes: bce, or weighed for imbalanced labels: balanced (each label's "
                             "positives as much as its negatives), focal (docs/training.md)")
    parser.add_argument("--batch-size", type=int, default=16, help="documents per step")
    parser.add_argument("--max-length", type=int, default=256, help="tokens per window")
    parser.add_argument("--lr", type=float, help="default: 1e-2 (head), 5e-5 (full)")
    parser.add_argument("--head-lr-multiplier", type=float, default=TrainingConfig.head_lr_multiplier,
                        help="full mode: the head's learning rate is --lr times this")
    parser.add_argument("--probe-epochs", type=int, default=TrainingConfig.probe_epochs,
                        help="full mode: first train the head alone on frozen features (LP-FT; 0: off)")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="bf16: train under CPU autocast (faster where the CPU has bf16 matmuls)")
    parser.add_argument("--seed", type=int, default=42, help="for the split, the folds and the weights")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    return parser


def config_from(args: argparse.Namespace, argv: list[str] | None) -> TrainingConfig:
    """The run's configuration from its arguments (``argv`` None: the process's own)."""
    return TrainingConfig(
        train=args.train, output=args.output, validation=args.validation, validation_split=args.validation_split,
        base=args.base, mode=args.mode, max_length=args.max_length, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, seed=args.seed, resume=args.resume,
        head_lr_multiplier=args.head_lr_multiplier, precision=args.precision, contrastive=args.contrastive,
        contrastive_pairs=args.contrastive_pairs, loss=args.loss,
        probe_epochs=args.probe_epochs, hybrid=HybridSettings(c=args.svm_c, embedding_weight=args.embedding_weight,
                                                            label_prior=args.label_prior, nb_alpha=args.nb_alpha,
                                                            refit=args.refit == "on"),
        command=["python", "-m", "training.finetune", *(sys.argv[1:] if argv is None else argv)],
    ).resolved()


def argument_problem(args: argparse.Namespace, config: TrainingConfig) -> str | None:
    """What is wrong with the arguments, refused before the model loads and reads every article; None: nothing."""
    if args.label_prior is not None and not args.label_prior >= 0:  # nan too
        return "--label-prior >= 0 (0: no label-name feature)"
    if args.nb_alpha is not None and not (math.isfinite(args.nb_alpha) and args.nb_alpha >= 0):
        return "--nb-alpha must be a finite number >= 0 (0: off)"
    if not finite_positive(args.svm_c):
        # Refused now, not as scikit-learn's message once the model has loaded and read every article.
        return "--svm-c must be a finite number above 0"
    if args.embedding_weight is not None and not (math.isfinite(args.embedding_weight) and args.embedding_weight >= 0):
        return "--embedding-weight must be a finite number >= 0 (0: TF-IDF only)"
    if not 0 <= config.seed < 2**32:  # numpy's limit, met only after every article was embedded
        return f"--seed must be from 0 to 2**32 - 1, not {config.seed}"
    if not (finite_positive(config.lr) and finite_positive(config.head_lr_multiplier)):
        return "--lr and --head-lr-multiplier must be finite numbers above 0"
    if config.probe_epochs < 0:
        return "--probe-epochs >= 0 (0: no head probe)"
    if config.contrastive == contrastive.ON and config.mode == "full":
        return "--contrastive on is for hybrid and head modes (full mode tunes the encoder itself)"
    if config.contrastive_pairs < 2:
        return "--contrastive-pairs >= 2"
    wrong = [f"{flag} must be at least {least}, not {value}"
             for flag, value, least in (("--max-length", config.max_length, 16), ("--batch-size", config.batch_size, 1),
                                        ("--epochs", config.epochs, 1))
             if value is None or value < least]
    return "; ".join(wrong) or None


# Options each mode has no use for: given, they were dropped without a word (--contrastive on
# with --mode full, a contradiction, is refused in argument_problem).
_UNUSED = {
    "hybrid": ("--epochs", "--lr", "--head-lr-multiplier", "--probe-epochs", "--resume", "--loss"),  # no training loop
    "head": ("--svm-c", "--embedding-weight", "--label-prior", "--nb-alpha", "--refit", "--head-lr-multiplier",
             "--probe-epochs"),
    "full": ("--svm-c", "--embedding-weight", "--label-prior", "--nb-alpha", "--refit", "--contrastive-pairs"),
}


def unused_options(argv: list[str], mode: str) -> list[str]:
    """The options given on the command line that ``mode`` does not read."""
    given = {arg.split("=", 1)[0] for arg in argv if arg.startswith("--")}
    return [option for option in _UNUSED[mode] if option in given]
