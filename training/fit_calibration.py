"""Fit the zero-shot score calibration (service/engine/calibration.py) on labeled corpora.

Usage:
    python -m training.fit_calibration [--data-dir ../shared/data] [--per-corpus 400] [--seed 1]
        [--without-gap]

Steps:
1. Sample ``--per-corpus`` articles from each corpus (AG News is left out: it is the
   evaluation set).
2. Score every article against its corpus's label names with the embedding backend,
   giving (similarity, similarity - best similarity) for each (article, label) pair.
3. Fit a logistic regression on those pairs, each corpus weighted equally.
4. Report the weights, and for each corpus the multi-label F1 at score 0.5 of a fit that
   left that corpus out (how well the calibration carries to unseen label sets).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from tqdm import tqdm

from service.config import Settings
from service.engine import Label
from service.engine.embedding_backend import EmbeddingBackend
from service.engine.loading import load_backend

from .data import read_labeled

CORPORA = ["bbc-news-train", "bbc-sport", "inshorts-news", "reuters-r90-train", "sib200-eng", "tweettopic-xl-en"]


def corpus_features(backend: EmbeddingBackend, path: Path, names: dict[str, str], n: int, seed: int):
    """[articles, labels, 2] features and [articles, labels] targets for a sample of one corpus."""
    examples = read_labeled(path)
    examples = random.Random(seed).sample(examples, min(n, len(examples)))
    codes = sorted({x for e in examples for x in e.labels})
    labels = [Label(names.get(c, c)) for c in codes]
    features, targets = [], []
    for start in tqdm(range(0, len(examples), 32), desc=path.stem, file=sys.stderr):
        batch = examples[start:start + 32]
        docs = [backend.prepare(e.text) for e in batch]
        for example, (window_sims, _) in zip(batch, backend.similarities(docs, labels), strict=True):
            sims = window_sims.max(axis=0)
            features.append(np.stack([sims, sims - sims.max()], axis=1))
            targets.append(np.array([c in example.labels for c in codes]))
    return np.stack(features), np.stack(targets)


def fit(parts: list[tuple[np.ndarray, np.ndarray]]) -> LogisticRegression:
    X = np.concatenate([x.reshape(-1, x.shape[-1]) for x, _ in parts])
    y = np.concatenate([t.reshape(-1) for _, t in parts])
    weights = np.concatenate([np.full(t.size, y.size / (len(parts) * t.size)) for _, t in parts])
    return LogisticRegression(C=100.0, max_iter=1000).fit(X, y, sample_weight=weights)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.fit_calibration", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--per-corpus", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--without-gap", action="store_true",
                        help="fit on the raw similarity alone, to compare (not what newstag uses)")
    args = parser.parse_args(argv)

    backend = load_backend(Settings.from_env())
    assert isinstance(backend, EmbeddingBackend), "calibration is fitted for the embedding engine"
    names = json.loads((args.data_dir / "reuters-label-names.json").read_text())
    parts = {c: corpus_features(backend, args.data_dir / f"{c}.jsonl", names, args.per_corpus, args.seed)
             for c in CORPORA}

    if args.without_gap:
        parts = {c: (X[..., :1], y) for c, (X, y) in parts.items()}
    model = fit(list(parts.values()))
    w_sim, w_gap = model.coef_[0][0], (model.coef_[0][1] if not args.without_gap else 0.0)
    print(f"SimilarityCalibration(w_sim={w_sim:.2f}, w_gap={w_gap:.2f}, bias={model.intercept_[0]:.2f})")
    print("\nleft-out corpus     micro-F1  macro-F1  (multi-label, score >= 0.5)")
    for corpus, (X, y) in parts.items():
        held_out = fit([p for c, p in parts.items() if c != corpus])
        pred = (held_out.predict_proba(X.reshape(-1, X.shape[-1]))[:, 1] >= 0.5).reshape(y.shape)
        micro = f1_score(y, pred, average="micro", zero_division=0)
        macro = f1_score(y, pred, average="macro", zero_division=0)
        print(f"{corpus:<20}{micro:9.3f}{macro:10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
