"""Compare ways of embedding labels, zero-shot on AG News (single-label macro-F1).

Usage:
    python -m bench.label_phrasings [--data ../shared/data/ag-news-test.jsonl] [--sample 2000] [--seed 0]

Each strategy turns a label into one unit vector; each article is scored with newstag's
own windowing (best window); the prediction is the most similar label.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from service.config import Settings
from service.engine.embedding_backend import EmbeddingBackend
from service.engine.label_vectors import label_phrasings
from service.engine.loading import load_backend
from service.engine.taxonomy import load_taxonomy_file
from service.engine.types import Label
from service.interrupts import run_command
from service.progress import progress_bar
from training.data import read_labeled

DESCRIPTIONS = Path(__file__).resolve().parent.parent / "seeds" / "descriptions" / "ag-news.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.label_phrasings", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/ag-news-test.jsonl"))
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    backend = load_backend(Settings.from_env().engine_options().model)
    assert isinstance(backend, EmbeddingBackend)
    encoder = backend.encoder
    examples = read_labeled(args.data)
    examples = random.Random(args.seed).sample(examples, min(args.sample, len(examples)))
    labels = list(load_taxonomy_file(DESCRIPTIONS).labels)
    names = [lab.name for lab in labels]
    gold = [e.labels[0] for e in examples]

    windows: list[np.ndarray] = []
    for start in progress_bar(range(0, len(examples), 64), desc="embedding", file=sys.stderr):
        docs = [encoder.prepare(e.text) for e in examples[start:start + 64]]
        windows.extend(v.windows for v in encoder.encode_documents(docs))

    def mean_of(texts: list[str]) -> np.ndarray:
        mean = encoder.encode_texts(texts).mean(axis=0)
        return mean / np.linalg.norm(mean)

    strategies: dict[str, Callable[[Label], list[str]]] = {
        "name": lambda lab: [lab.name],
        "This article is about {name}.": lambda lab: [f"This article is about {lab.name}."],
        "news about {name}": lambda lab: [f"news about {lab.name}"],
        "description": lambda lab: [lab.description],
        "This article is about {name}: {description}": lambda lab: [
            f"This article is about {lab.name}: {lab.description}"],
        "newstag: mean of name, description, keywords": label_phrasings,
    }
    print(f"{'label phrasing':<48} macro-F1   ({len(examples)} AG News test articles, seed {args.seed})")
    for title, phrasings in strategies.items():
        matrix = np.stack([mean_of(phrasings(lab)) for lab in labels])
        predicted = [names[int((w @ matrix.T).max(axis=0).argmax())] for w in windows]
        print(f"{title:<48} {f1_score(gold, predicted, average='macro'):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.label_phrasings"))
