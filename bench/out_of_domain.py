"""Does a fine-tuned single-label model say "none of these" to texts unlike its labels?

Usage:
    python -m bench.out_of_domain --model DIR --train FILE [--outside FILE ...] [--per-file 300]

Scores, through the Tagger with the model at its default settings: the model's own
validation split (re-drawn from ``--train`` with the seed and fraction its manifest
records), the share that get a topic and the share whose top topic is right; and for each
``--outside`` file (texts of labels the model does not have, or non-news), the share
with no topic. Run it on a model trained before service/engine/domain.py existed (no
domain file) and after, or delete domain.safetensors from a copy, to see what it changes.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from service.config import Settings
from service.engine import Tagger
from service.engine.classifier import ClassifierBackend
from service.engine.taxonomy import TaxonomyRegistry
from service.interrupts import run_command
from training.calibration_requests import read_texts
from training.data import read_labeled, split_validation


def _tag(tagger: Tagger, texts: list[str]) -> list[list[str]]:
    out: list[list[str]] = []
    for start in range(0, len(texts), 16):
        out += [[t.label for t in r.topics] for r in tagger.tag(texts[start:start + 16], evidence=False)]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.out_of_domain", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a fine-tuned single-label model directory")
    parser.add_argument("--train", type=Path, required=True, help="the file the model was trained on")
    parser.add_argument("--outside", type=Path, nargs="*", default=[], help="JSONL files of texts outside its labels")
    parser.add_argument("--per-file", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    config = json.loads((args.model / "newstag.json").read_text())["config"]
    options = Settings.from_env(None).engine_options().tagger
    tagger = Tagger(ClassifierBackend.load(args.model), TaxonomyRegistry([]), options)
    _, validation = split_validation(read_labeled(args.train), config["validation_split"], config["seed"])
    found = _tag(tagger, [e.text for e in validation])
    tagged = sum(bool(f) for f in found) / len(found)
    right = sum(bool(f) and f[0] in e.labels for f, e in zip(found, validation, strict=True)) / len(found)
    print(f"model {args.model.name}, domain file: {(args.model / 'domain.safetensors').is_file()}")
    print("| texts | n | with a topic | top topic right | no topic |\n|---|---|---|---|---|")
    print(f"| its validation split | {len(found)} | {tagged:.3f} | {right:.3f} | {1 - tagged:.3f} |")
    for path in args.outside:
        texts = read_texts(path)
        texts = random.Random(args.seed).sample(texts, min(args.per_file, len(texts)))
        none = sum(not f for f in _tag(tagger, texts)) / len(texts)
        print(f"| {path.name} | {len(texts)} | {1 - none:.3f} | | **{none:.3f}** |")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.out_of_domain"))
