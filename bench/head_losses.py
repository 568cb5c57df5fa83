"""Head mode's losses for imbalanced labels, measured side by side on a proxy test split it never sees.

Usage:
    python -m bench.head_losses --data ../shared/data/reuters-r90-train.jsonl --chronological
        [--losses bce balanced focal] [--epochs 40] [--proxy-test 0.2] [--seed 7]
        [--cache /tmp/newstag-head-losses] [--base DIR]

As bench.hybrid_recipe: a share of the training file (--proxy-test; --chronological: its last
rows, later news, as Reuters' ModApte test is) stands in for the hidden test split. The rest
is split as training.finetune splits it (--validation-split 0.1, seed 42); each loss
(training/classification.py) trains head mode's linear head on the same frozen window vectors
(training/stages.py, ``head_stage``, as training.finetune runs it), its thresholds fitted on
the validation split, and the head is scored on the proxy test with those thresholds. The
frozen encoder reads every article once; its window vectors are kept in --cache.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from service.engine.chunking import prepare_document
from service.engine.model_files import default_model_dir
from service.engine.tokenizer import load_tokenizer
from service.interrupts import run_command
from training.classification import LOSSES, label_targets, predict
from training.config import TrainingConfig
from training.data import Example, is_single_label, read_labeled, split_validation
from training.distributed import Distributed
from training.metrics import classification_report
from training.probe import features_logits, frozen_windows
from training.stages import head_stage

from .hybrid_recipe import predicted_labels

MAX_TOKENS = 256  # training.finetune's --max-length


def window_vectors(examples: list[Example], base: Path, cache: Path) -> list[torch.Tensor]:
    """Every article's frozen window vectors, read once per file and base and kept in ``cache``
    (safetensors: all windows in one tensor, and each article's count of them)."""
    key = hashlib.sha256("\n\x00".join([str(base.resolve()), *(e.text for e in examples)]).encode()).hexdigest()
    path = cache / f"windows-{key[:16]}.safetensors"
    if path.is_file():
        stored = load_file(str(path))
        return list(torch.split(stored["windows"], stored["counts"].tolist()))
    tokenizer = load_tokenizer(base)
    docs = [prepare_document(e.text, tokenizer, MAX_TOKENS) for e in examples]
    vectors = frozen_windows(base, MAX_TOKENS, {"all": docs})["all"]
    cache.mkdir(parents=True, exist_ok=True)
    save_file({"windows": torch.cat(vectors).contiguous(), "counts": torch.tensor([len(v) for v in vectors])},
              str(path))
    return vectors


def figures(gold: list[Example], probs: np.ndarray, labels: list[str], thresholds: list[float],
            single: bool) -> str:
    predicted = predicted_labels(probs, labels, thresholds, single)
    report = classification_report([e.labels for e in gold], predicted, labels, single)
    rare = report["rare_labels"]
    rare_text = "" if rare["macro_f1"] is None else f", rare labels' macro-F1 {rare['macro_f1']:.4f} ({rare['count']})"
    return f"micro-F1 {report['micro_f1']:.4f}, macro-F1 {report['macro_f1']:.4f}{rare_text}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.head_losses", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--losses", nargs="+", choices=LOSSES, default=list(LOSSES))
    parser.add_argument("--epochs", type=int, default=40, help="head mode's default")
    parser.add_argument("--proxy-test", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=7, help="draws the proxy test (not with --chronological)")
    parser.add_argument("--chronological", action="store_true", help="the proxy test is the file's last rows")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/newstag-head-losses"))
    parser.add_argument("--base", type=Path, help="a local model directory (default: embedded all-MiniLM-L6-v2)")
    args = parser.parse_args(argv)
    examples = read_labeled(args.data)
    order = list(range(len(examples)))
    cut = round(len(examples) * args.proxy_test)
    if args.chronological:
        test, rest = order[len(order) - cut:], order[:len(order) - cut]
    else:
        random.Random(args.seed).shuffle(order)
        test, rest = sorted(order[:cut]), sorted(order[cut:])
    started = time.monotonic()
    vectors = window_vectors(examples, args.base or default_model_dir(), args.cache)
    train, validation = split_validation([examples[i] for i in rest], 0.1, 42)
    row = {id(examples[i]): i for i in rest}  # split_validation hands back the same Example objects
    train_rows, validation_rows = [row[id(e)] for e in train], [row[id(e)] for e in validation]
    labels = sorted({x for e in train + validation for x in e.labels})
    single = is_single_label(train + validation)
    print(f"{args.data.name}: {len(train_rows)} training rows, {len(validation_rows)} validation rows, "
          f"{len(test)} proxy-test rows, {len(labels)} labels; window vectors {time.monotonic() - started:.0f} s "
          "(0 if cached)", flush=True)
    gold = [examples[i] for i in test]
    truth = np.array([[x in e.labels for x in labels] for e in validation])
    targets = label_targets(train, labels, not single)
    frozen = {"train": [vectors[i] for i in train_rows], "validation": [vectors[i] for i in validation_rows]}
    for loss in args.losses:
        started = time.monotonic()
        torch.manual_seed(42)
        head = torch.nn.Linear(vectors[0].shape[1], len(labels))
        with tempfile.TemporaryDirectory() as scratch:
            config = TrainingConfig(train=args.data, output=Path(scratch) / "model", mode="head", loss=loss,
                                    epochs=args.epochs).resolved()
            result = head_stage(head, config, frozen, truth, targets, not single, {"loss": loss}, Distributed())
        assert result is not None
        seconds = time.monotonic() - started
        probs = predict(head, features_logits([vectors[i] for i in test], head, head), len(test),
                        config.batch_size, not single, lambda: torch.autocast("cpu", enabled=False))
        line = f"loss {loss}: {figures(gold, probs, labels, result.thresholds, single)}"
        if not single:
            line += f"; every threshold 0.5: {figures(gold, probs, labels, [0.5] * len(labels), single)}"
        print(f"{line}; {seconds:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.head_losses"))
