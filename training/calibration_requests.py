"""The requests a calibration fit is made of, as users send them (training.fit_calibration).

Each (text, label set) request is one row per label with its truth: a corpus's own label
set, single-label requests with the right label and a wrong one, labels unrelated to news
sections, and non-news text against the ``news`` taxonomy, a corpus's labels and one label.
Texts are embedded once with every label they will be asked about.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from service.engine import Label
from service.engine.embedding_backend import EmbeddingBackend, Similarities
from service.progress import progress_bar

from .data import Example, read_labeled

# Labels no news section is about; the trust benchmark asks about a different list.
UNRELATED_FIT = ["knitting", "gardening", "beekeeping", "origami", "wedding planning", "pet grooming",
                 "interior design", "board games", "tattoos", "perfume", "yoga", "baking", "camping",
                 "skincare", "home improvement", "birdwatching", "calligraphy", "wine tasting",
                 "model railways", "scuba diving"]

@dataclass(frozen=True)
class Request:
    kind: str
    group: str  # the corpus it came from (weights are per kind and corpus)
    sims: np.ndarray  # [n_windows, k]
    reference: np.ndarray  # [n_windows, n_reference]
    hubness: np.ndarray  # [k]
    truth: np.ndarray  # [k] bool


def sample(path: Path, n: int, seed: int) -> list[Example]:
    """The articles a calibration fit with this seed uses (the trust benchmark leaves them out)."""
    return pick(read_labeled(path), n, seed)


def headline(text: str, longest: int = 200) -> str | None:
    """An article's title: its first paragraph, when one short line stands before the body."""
    title, _, body = text.strip().partition("\n\n")
    title = title.strip()
    return title if body.strip() and title and "\n" not in title and len(title) <= longest else None


def pick(examples: list[Example], n: int, seed: int) -> list[Example]:
    return random.Random(seed).sample(examples, min(n, len(examples)))


def sample_by_language(path: Path, n: int, seed: int) -> dict[str, list[Example]]:
    """``n`` train-split rows of each language of a multilingual file, languages sorted."""
    rows: dict[str, list[dict]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("split") == "train":
                rows.setdefault(row["lang"], []).append(row)
    picked = {lang: random.Random(seed).sample(found, min(n, len(found))) for lang, found in sorted(rows.items())}
    return {lang: [Example(r["text"], tuple(r["labels"])) for r in found] for lang, found in picked.items()}


def read_texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def embed(backend: EmbeddingBackend, texts: list[str], labels: list[Label], desc: str) -> list[Similarities]:
    out: list[Similarities] = []
    for start in progress_bar(range(0, len(texts), 32), desc=desc, file=sys.stderr):
        out += backend.similarities([backend.prepare(t) for t in texts[start:start + 32]], labels)
    return out


def corpus_requests(backend: EmbeddingBackend, name: str, examples: list[Example], names: dict[str, str],
                    rng: random.Random, text_vectors: list[np.ndarray] | None = None) -> list[Request]:
    """The requests made of a corpus's articles; each article's text vector goes to ``text_vectors``."""
    codes = sorted({x for e in examples for x in e.labels})
    k = len(codes)
    labels = [Label(names.get(c, c)) for c in codes] + [Label(u) for u in UNRELATED_FIT]
    out = []
    for example, s in zip(examples, embed(backend, [e.text for e in examples], labels, name), strict=True):
        if s.windows.shape[0] == 0:
            continue
        if text_vectors is not None:
            text_vectors.append(s.text_vector)
        truth = np.array([c in example.labels for c in codes])
        out.append(Request("own labels", name, s.windows[:, :k], s.window_reference, s.label_hubness[:k], truth))
        right = rng.choice(np.flatnonzero(truth).tolist())
        out.append(Request("single label", name, s.windows[:, [right]], s.window_reference,
                           s.label_hubness[[right]], np.array([True])))
        wrong = np.flatnonzero(~truth).tolist()
        if wrong:
            j = rng.choice(wrong)
            out.append(Request("single label", name, s.windows[:, [j]], s.window_reference,
                               s.label_hubness[[j]], np.array([False])))
        pick = [k + j for j in rng.sample(range(len(UNRELATED_FIT)), 6)]
        out.append(Request("unrelated labels", name, s.windows[:, pick], s.window_reference,
                           s.label_hubness[pick], np.zeros(6, bool)))
    return out


def non_news_requests(backend: EmbeddingBackend, texts: list[str], label_sets: list[list[Label]],
                      rng: random.Random, text_vectors: list[np.ndarray] | None = None) -> list[Request]:
    flat = [lab for labels in label_sets for lab in labels]
    bounds = np.cumsum([0] + [len(labels) for labels in label_sets])
    out = []
    for s in embed(backend, texts, flat, "non-news"):
        if s.windows.shape[0] == 0:
            continue
        if text_vectors is not None:
            text_vectors.append(s.text_vector)
        news = list(range(bounds[0], bounds[1]))  # the first set is the news taxonomy
        other = rng.randrange(1, len(label_sets))
        for cols in (news, list(range(bounds[other], bounds[other + 1])), [rng.choice(news)]):
            truth = np.zeros(len(cols), bool)
            out.append(Request("non-news", "non-news", s.windows[:, cols], s.window_reference,
                               s.label_hubness[cols], truth))
    return out
