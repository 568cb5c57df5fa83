"""Which calibration features and fit weights trade junk, unrelated labels and recall best? A quick sweep.

Usage:
    python -m bench.trust_features [--data-dir ../shared/data] [--cache /tmp/newstag-trust-cache]
                                   [--drop label_hubness,nonnews_lead] [--weights 2,1,3,12] [--neighbours 5]

The full benchmark (bench.trust) runs the Tagger end to end, which takes many minutes a
setting. This sweep embeds once (window vectors of the calibration fit's articles and
non-news texts, and of bench.trust's 300 held-out articles per set and its junk, cached
in the ``--cache`` directory as safetensors and JSON, never pickles), then for each
setting fits the calibration as training.fit_calibration does and scores the bench's
requests from the windows alone. Topics that sentences bring in (sentence_support.py)
and keywords are left out, so its figures for the ``news`` taxonomy run a few points
under bench.trust's; the other figures matched bench.trust to the third decimal for the
shipped features (docs/benchmarks.md, "Trust").

``--drop`` leaves features out (``label_hubness,nonnews_lead``: the five before session 7);
``--weights`` are the fit's group weights: own labels, single label, unrelated, non-news;
``--neighbours`` the reference topics label_hubness averages (calibration.HUB_NEIGHBOURS).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file
from sklearn.linear_model import LogisticRegression

from service.config import Settings
from service.engine import Label, Tagger, calibration
from service.engine.calibration import FEATURES, label_hubness, pair_features, rivals
from service.engine.taxonomy import TaxonomyRegistry
from training.fit_calibration import (
    CORPORA,
    NON_NEWS_FIT,
    UNRELATED_FIT,
    WEIGHTS,
    parse_features,
    parse_weights,
    read_texts,
    sample,
)

from .trust import NON_NEWS_BENCH, SECTION_SETS, SECTION_TOPICS, SETS, UNRELATED, held_out

KINDS = ("own labels", "single label", "unrelated labels", "non-news")


def window_vectors(tagger: Tagger, texts: list[str]) -> list[np.ndarray]:
    backend = tagger.backend
    out: list[np.ndarray] = []
    for start in range(0, len(texts), 32):
        docs = [backend.prepare(t) for t in texts[start:start + 32]]
        out += [v.windows for v in backend.encoder.encode_documents(docs)]  # type: ignore[attr-defined]
    return out


def build_cache(tagger: Tagger, data_dir: Path) -> dict:
    names = json.loads((data_dir / "reuters-label-names.json").read_text())
    cache: dict = {"fit": {}, "bench": {}}
    for corpus in CORPORA:
        examples = sample(data_dir / f"{corpus}.jsonl", 400, 1)
        cache["fit"][corpus] = ([[names.get(x, x) for x in e.labels] for e in examples],
                                window_vectors(tagger, [e.text for e in examples]))
        print(f"embedded {corpus}", file=sys.stderr)
    cache["fit non-news"] = window_vectors(tagger, read_texts(NON_NEWS_FIT))
    for name in SETS:
        examples = held_out(data_dir, name, 300, 0)
        cache["bench"][name] = ([e.labels for e in examples], window_vectors(tagger, [e.text for e in examples]))
        print(f"embedded {name}", file=sys.stderr)
    cache["junk"] = window_vectors(tagger, read_texts(NON_NEWS_BENCH))
    return cache


def save_cache(cache: dict, directory: Path) -> None:
    """Window vectors as one float32 array per group with its texts' window counts; labels as JSON."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    labels: dict[str, list] = {}

    def put(key: str, vectors: list[np.ndarray]) -> None:
        arrays[f"{key}/counts"] = np.array([len(v) for v in vectors], dtype=np.int64)
        dim = next(v.shape[-1] for v in vectors if len(v))
        arrays[f"{key}/windows"] = np.concatenate([np.reshape(v, (len(v), dim)) for v in vectors]).astype(np.float32)

    for section in ("fit", "bench"):
        for name, (truths, vectors) in cache[section].items():
            put(f"{section}/{name}", vectors)
            labels[f"{section}/{name}"] = truths
    put("fit non-news", cache["fit non-news"])
    put("junk", cache["junk"])
    save_file(arrays, str(directory / "windows.safetensors"))
    (directory / "labels.json").write_text(json.dumps(labels), encoding="utf-8")


def load_cache(directory: Path) -> dict:
    arrays = load_file(str(directory / "windows.safetensors"))
    labels = json.loads((directory / "labels.json").read_text(encoding="utf-8"))

    def get(key: str) -> list[np.ndarray]:
        counts, windows = arrays[f"{key}/counts"], arrays[f"{key}/windows"]
        return np.split(windows, np.cumsum(counts)[:-1])

    cache: dict = {"fit": {}, "bench": {}}
    for key, truths in labels.items():
        section, name = key.split("/", 1)
        cache[section][name] = (truths, get(key))
    cache["fit non-news"] = get("fit non-news")
    cache["junk"] = get("junk")
    return cache


class Sweep:
    def __init__(self, tagger: Tagger, cache: dict, drop: tuple[str, ...] = ()):
        self.backend = tagger.backend
        self.cache = cache
        self.reference = self.backend.reference_matrix()  # type: ignore[attr-defined]
        self.columns = [i for i, name in enumerate(FEATURES) if name not in drop]
        self._labels: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
        self.news = list(TaxonomyRegistry([]).get("news").labels)

    def features(self, windows: np.ndarray, labels: list[Label], competing: bool = True) -> np.ndarray:
        key = tuple(lab.name for lab in labels)
        if key not in self._labels:
            vectors = self.backend.label_vectors.vectors(labels)  # type: ignore[attr-defined]
            self._labels[key] = (vectors, label_hubness(vectors @ self.reference.T, labels))
        vectors, hubness = self._labels[key]
        per_window = pair_features(windows @ vectors.T, windows @ self.reference.T, hubness,
                                   rivals(labels) if competing else None)
        return per_window.mean(axis=0)[:, self.columns]

    def fit(self, weights: dict[str, float]) -> LogisticRegression:
        rng = random.Random(1)
        X, y, groups = [], [], []

        def add(kind: str, group: str, f: np.ndarray, truth: np.ndarray) -> None:
            X.append(f)
            y.append(truth)
            groups.extend([(kind, group)] * len(truth))

        label_sets = [self.news]
        unrelated = [Label(u) for u in UNRELATED_FIT]
        for corpus, (truths, vectors) in self.cache["fit"].items():
            codes = sorted({x for labels in truths for x in labels})
            own = [Label(c) for c in codes]
            label_sets.append(own)
            for labels, windows in zip(truths, vectors, strict=True):
                if len(windows) == 0:
                    continue
                truth = np.array([c in labels for c in codes])
                add(KINDS[0], corpus, self.features(windows, own, False), truth)
                right = rng.choice(np.flatnonzero(truth).tolist())
                add(KINDS[1], corpus, self.features(windows, [own[right]]), np.array([True]))
                wrong = np.flatnonzero(~truth).tolist()
                if wrong:
                    j = rng.choice(wrong)
                    add(KINDS[1], corpus, self.features(windows, [own[j]]), np.array([False]))
                picked = [unrelated[j] for j in rng.sample(range(len(unrelated)), 6)]
                add(KINDS[2], corpus, self.features(windows, picked), np.zeros(6, bool))
        for windows in self.cache["fit non-news"]:
            if len(windows) == 0:
                continue
            other = label_sets[rng.randrange(1, len(label_sets))]
            for labels in (self.news, other, [rng.choice(self.news)]):
                add(KINDS[3], "non-news", self.features(windows, labels, False), np.zeros(len(labels), bool))
        sizes = Counter(groups)
        w = np.array([weights[kind] / sizes[(kind, group)] for kind, group in groups])
        return LogisticRegression(C=100.0, max_iter=5000).fit(
            np.concatenate(X), np.concatenate(y), sample_weight=w * len(w) / w.sum())

    def evaluate(self, model: LogisticRegression) -> list[str]:
        def passing(windows: np.ndarray, labels: list[Label]) -> np.ndarray:
            return model.predict_proba(self.features(windows, labels))[:, 1] >= 0.5

        junk = np.mean([not passing(w, self.news).any() for w in self.cache["junk"] if len(w)])
        rng = random.Random(0)
        unrelated = [not passing(w, [Label(x) for x in rng.sample(UNRELATED, 6)]).any()
                     for _, vectors in self.cache["bench"].values() for w in vectors]
        out = [f"junk with no topic {junk:.3f}", f"unrelated with no topic {np.mean(unrelated):.3f}"]
        for name, (truths, vectors) in self.cache["bench"].items():
            codes = sorted({x for labels in truths for x in labels})
            own = [Label(c) for c in codes]
            tp = fp = fn = 0
            for labels, windows in zip(truths, vectors, strict=True):
                found = {codes[j] for j in np.flatnonzero(passing(windows, own))}
                tp, fp, fn = tp + len(found & set(labels)), fp + len(found - set(labels)), fn + len(set(labels) - found)
            out.append(f"{name} P {tp / max(tp + fp, 1):.3f} R {tp / max(tp + fn, 1):.3f}")
        for name in SECTION_SETS:
            truths, vectors = self.cache["bench"][name]
            right = topics = 0
            for labels, windows in zip(truths, vectors, strict=True):
                found = {self.news[j].name for j in np.flatnonzero(passing(windows, self.news))}
                right += bool(set().union(*(SECTION_TOPICS[x] for x in labels)) & found)
                topics += len(found)
            out.append(f"{name} news right section {right / len(truths):.3f} ({topics / len(truths):.2f} topics)")
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.trust_features", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/newstag-trust-cache"))
    parser.add_argument("--drop", type=parse_features, default=(), help="features to leave out, comma-separated")
    parser.add_argument("--weights", type=parse_weights, default=WEIGHTS, help="own, single, unrelated, non-news")
    parser.add_argument("--neighbours", type=int, default=calibration.HUB_NEIGHBOURS)
    args = parser.parse_args(argv)
    calibration.HUB_NEIGHBOURS = args.neighbours
    tagger = Tagger.load(Settings.from_env().engine_options())
    if (args.cache / "windows.safetensors").exists():
        cache = load_cache(args.cache)
    else:
        if not args.data_dir.is_dir():
            parser.error(f"{args.data_dir} not found (the shared corpora)")
        cache = build_cache(tagger, args.data_dir)
        save_cache(cache, args.cache)
    sweep = Sweep(tagger, cache, args.drop)
    model = sweep.fit(args.weights)
    print(f"without {', '.join(args.drop) or 'nothing'}, weights {list(args.weights.values())}, "
          f"neighbours {args.neighbours}: "
          f"coefficients {np.round(model.coef_[0], 2).tolist()} bias {model.intercept_[0]:.2f}")
    print("\n".join(sweep.evaluate(model)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
