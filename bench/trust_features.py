"""Which calibration features and fit weights trade junk, unrelated labels and recall best? A quick sweep.

Usage:
    python -m bench.trust_features [--data-dir ../shared/data] [--cache /tmp/newstag-trust-cache]
                                   [--drop label_hubness,nonnews_lead] [--weights 2,1,3,5] [--neighbours 5]
                                   [--genre-check on|off] [--pinned] [--at-least-one P]

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
``--neighbours`` the reference topics label_hubness averages (calibration.HUB_NEIGHBOURS);
``--genre-check off`` lets texts the genre check calls non-news be scored (engine/genre.py);
``--pinned`` scores with the model's pinned calibration instead of a fresh fit;
``--at-least-one P`` gives the ``news`` taxonomy's best topic to texts with P(news) >= P.
Each setting also reports PROBES, short texts with a topic that must or must not come back.
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
from service.engine.calibration import FEATURES, Calibration, label_hubness, pair_features, rivals
from service.engine.domain import document_vector
from service.engine.genre import NEWS_THRESHOLD
from service.engine.taxonomy import TaxonomyRegistry
from service.interrupts import run_command
from training.calibration_requests import UNRELATED_FIT, read_texts, sample
from training.fit_calibration import CORPORA, NON_NEWS_FIT, WEIGHTS, parse_features, parse_weights

from .trust import NON_NEWS_BENCH, SECTION_SETS, SECTION_TOPICS, SETS, UNRELATED, held_out

KINDS = ("own labels", "single label", "unrelated labels", "non-news")
# Short texts on which a setting must (+) or must not (-) return a topic of the `news`
# taxonomy, or of the labels given: the examples (tests/test_behaviour.py) and a few
# like them. Lexical neighbours (a coal mine, a strike) catch features that reward any label
# beating the reference topics.
PROBES: list[tuple[str, list[str] | None, str, str]] = [
    ("The coal mine in Silesia will close next year, the mining company said.", None, "-", "demining"),
    ("The airline cancelled 200 flights because of a pilots' strike over pay.", None, "-", "COP29"),
    ("The airline cancelled 200 flights because of a pilots' strike over pay.", None, "-", "armed conflict"),
    ("The airline cancelled 200 flights because of a pilots' strike over pay.", None, "-", "climate change"),
    ("Police arrested two men after a robbery in the city centre.", ["sports"], "-", "sports"),
    ("The central bank raised interest rates by half a point to curb inflation.", ["sports", "weather", "religion"],
     "-", "weather"),
    ("The central bank raised interest rates by half a point to curb inflation.", None, "-", "armed conflict"),
    ("Miners at the copper mine in Chile walked out over pay on Monday.", None, "-", "demining"),
    ("The bank's new mobile app lets customers open an account in five minutes.", None, "-", "armed conflict"),
    ("Sappers cleared 300 landmines from farmland near the front line this month.", None, "+", "demining"),
    ("Delegates at COP29 in Baku agreed a new climate finance goal.", None, "+", "COP29"),
    ("The striker scored twice as United beat Chelsea 2-0 in the Premier League.", None, "+", "sports"),
    ("Shares in the carmaker fell 8 percent after it cut its profit forecast.", None, "+", "business"),
    ("Thousands of workers went on strike over pensions, the union said.", None, "+", "labour"),
]


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
    def __init__(self, tagger: Tagger, cache: dict, drop: tuple[str, ...] = (), genre_check: bool = False,
                 at_least_one: float | None = None):
        self.backend = tagger.backend
        self.genre = self.backend.genre_check if genre_check else None  # type: ignore[attr-defined]
        self.at_least_one = at_least_one  # the `news` taxonomy gives its best topic to texts this sure to be news
        self.probe_windows = window_vectors(tagger, [text for text, *_ in PROBES])
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

    def is_news(self, windows: np.ndarray) -> bool:
        return self.genre is None or self.genre.news_probability(document_vector(windows)) >= NEWS_THRESHOLD

    def evaluate(self, model: LogisticRegression | Calibration) -> list[str]:
        def passing(windows: np.ndarray, labels: list[Label]) -> np.ndarray:
            if not self.is_news(windows):
                return np.zeros(len(labels), bool)
            features = self.features(windows, labels)
            scores = (model.scores(features) if isinstance(model, Calibration)
                      else model.predict_proba(features)[:, 1])
            if isinstance(model, Calibration) and rivals(labels) is None:  # as EmbeddingBackend.score does
                scores = model.flat_set_scores(scores)
            out = scores >= 0.5
            if labels is self.news and self.at_least_one is not None and not out.any() and self.genre is not None \
                    and self.genre.news_probability(document_vector(windows)) >= self.at_least_one:
                out[int(np.argmax(scores))] = True
            return out

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
        wrong = []
        for (text, labels, sign, label), windows in zip(PROBES, self.probe_windows, strict=True):
            asked = [Label(x) for x in labels] if labels else self.news
            got = {asked[j].name for j in np.flatnonzero(passing(windows, asked))}
            if (label in got) != (sign == "+"):
                wrong.append(f"{sign}{label} on {text[:40]!r}")
        out.append(f"probes wrong {len(wrong)}/{len(PROBES)}: {'; '.join(wrong)}")
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.trust_features", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/newstag-trust-cache"))
    parser.add_argument("--drop", type=parse_features, default=(), help="features to leave out, comma-separated")
    parser.add_argument("--weights", type=parse_weights, default=WEIGHTS, help="own, single, unrelated, non-news")
    parser.add_argument("--neighbours", type=int, default=calibration.HUB_NEIGHBOURS)
    parser.add_argument("--genre-check", choices=["on", "off"], default="on",
                        help="on: texts the model's genre check calls non-news get no topic (engine/genre.py)")
    parser.add_argument("--pinned", action="store_true",
                        help="score with the model's pinned calibration instead of fitting one")
    parser.add_argument("--at-least-one", type=float, metavar="P",
                        help="the news taxonomy gives its best topic to texts with P(news) >= P (genre check on)")
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
    sweep = Sweep(tagger, cache, args.drop, args.genre_check == "on", args.at_least_one)
    if args.pinned:
        if args.drop:
            parser.error("--pinned scores every feature; leave --drop out")
        pinned = tagger.backend.calibration  # type: ignore[attr-defined]
        print(f"genre check {args.genre_check}, the pinned calibration {pinned}")
        print("\n".join(sweep.evaluate(pinned)))
        return 0
    model = sweep.fit(args.weights)
    print(f"genre check {args.genre_check}, without {', '.join(args.drop) or 'nothing'}, "
          f"weights {list(args.weights.values())}, "
          f"neighbours {args.neighbours}: "
          f"coefficients {np.round(model.coef_[0], 2).tolist()} bias {model.intercept_[0]:.2f}")
    print("\n".join(sweep.evaluate(model)))
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.trust_features"))
