"""Turn raw cosine similarities into scores that read as probabilities, one (text, label) pair at a time.

A raw cosine says little by itself: its scale moves with the label set, the phrasing of
the labels and the length of the text. The score is a small logistic model of features
that were measured to carry across label sets (docs/benchmarks.md, "Trust"):

- ``sim``: the label's cosine with the text;
- ``gap``: ``sim`` minus the best rival label's cosine, when that is higher (else 0);
- ``margin``: how far the label is ahead of its best rival (0 unless it leads, and 0
  when it has no rival). Every label is a rival of every other, except a topic and its
  own ancestors or descendants in a taxonomy (COP29 and climate change do not compete);
- ``log_labels``: the log of the label set's size;
- ``reference_rank``: the share of a fixed bank of about 150 reference topics
  (``reference_topics.txt``: news sections, hobbies, and kinds of non-news text such as
  code, greetings or cookie notices) that the label beats for this text;
- ``label_hubness``: how broad the label is, the mean of its HUB_NEIGHBOURS highest cosines
  with the topical reference topics (in a taxonomy, its broadest ancestor's), the same
  for every text. A broad label ("sports") is reached only at low cosines by an article
  about one corner of it, a narrow one ("chess") at fair cosines by texts near it that
  are not about it: with it, articles asked about unrelated labels got no topic 0.97 of
  the time instead of 0.87 (docs/benchmarks.md, "Trust");
- ``nonnews_lead``: how far the closest kind of non-news text (the reference topics after
  NON_NEWS_MARK: cookie notices, source code, greetings...) is ahead of the label (0 when
  the label is ahead). Without it, broadness let a cookie banner through as technology,
  the broadest label of the ``news`` taxonomy (0.58; with it 0.38);
- ``relative_sim``: ``sim`` minus the text's mean cosine with the topical reference
  topics. A text in another language than its labels (a Russian article asked about
  English labels) has lower cosines with every label and reference topic alike, so
  ``sim`` alone reads it as unsure; the difference does not move with the language.
  EmbeddingGemma's calibration weighs it (session 10: French news own-label recall 0.51
  -> 0.61 and ECE 0.085 -> 0.049, docs/benchmarks.md, "Multilingual"); the English
  model's calibrations were fitted before it and weigh it 0.

``reference_rank`` is what lets a score say "none of these": a label that does not beat
most of the reference topics for a text (junk text, or labels unrelated to the article)
scores low however the labels compare with each other. Each feature is taken per window
(or per sentence) and a text's feature is its mean over the windows: a label that leads
in one window of four is a side topic, not what the article is about. With the best
window's features instead, side topics passed (BBC News own labels, precision 0.85,
mean 0.93); adding the share of windows a label leads in to the best window's features
did as well on precision but let more junk through (docs/benchmarks.md, "Trust"). The
price: an article half about one label and half about another gets neither; in
taxonomies with sentence topics their sentences bring both in (sentence_support.py).
The weights are fitted by ``python -m
training.fit_calibration`` on what users send: each corpus's own label set, single-label
requests (right and wrong), unrelated label sets, and non-news text; each model's fit is
pinned in calibration_fits.py.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .types import Label

REFERENCE_TOPICS_FILE = Path(__file__).with_name("reference_topics.txt")
FEATURES = ("sim", "gap", "margin", "log_labels", "reference_rank", "label_hubness", "nonnews_lead",
            "relative_sim")
RANK_SOFTNESS = 0.01  # cosine difference over which "beats a reference topic" goes from 27% to 73%
HUB_NEIGHBOURS = 5  # compared with 3, 5, 10, 20 and 30 (docs/benchmarks.md, "Trust")


NON_NEWS_MARK = "# Kinds of non-news text"  # the line in reference_topics.txt after which they come


def reference_topics() -> list[str]:
    lines = REFERENCE_TOPICS_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@functools.cache
def topical_reference_count() -> int:
    """How many of :func:`reference_topics` come first and are topics, not kinds of non-news text."""
    lines = REFERENCE_TOPICS_FILE.read_text(encoding="utf-8").splitlines()
    before = lines[:next(i for i, line in enumerate(lines) if line.startswith(NON_NEWS_MARK))]
    return sum(1 for line in before if line.strip() and not line.startswith("#"))


def parents(labels: list[Label]) -> list[int | None]:
    """Each label's parent's index in ``labels`` (None: no parent among them)."""
    index = {lab.name.casefold(): j for j, lab in enumerate(labels)}
    return [index.get((lab.parent or "").casefold()) for lab in labels]


def ancestors(parent: list[int | None], j: int) -> list[int]:
    """Label ``j``'s ancestors among the labels, nearest first (``parent`` from :func:`parents`)."""
    out: list[int] = []
    seen, p = {j}, parent[j]
    while p is not None and p not in seen:  # a cycle in a taxonomy file must not hang us
        out.append(p)
        seen.add(p)
        p = parent[p]
    return out


def rivals(labels: list[Label]) -> np.ndarray | None:
    """[k, k] True where two labels compete; None when all do (no hierarchy among them).

    A topic does not compete with its own ancestors or descendants (COP29 is climate
    change too, so climate change scoring higher must not count against COP29), nor with
    its siblings, which are facets of one parent (economy and trade, both under
    "economy, business and finance"): an article is often about several of them.
    """
    parent = parents(labels)
    family = [(lab.parent or "").casefold() for lab in labels]
    if all(p is None for p in parent) and not any(f and family.count(f) > 1 for f in family):
        return None
    related = np.eye(len(labels), dtype=bool)
    for j, f in enumerate(family):  # siblings are facets of one parent topic, not rivals
        if f:
            related[j] |= np.array([g == f for g in family])
    for j in range(len(labels)):
        for p in ancestors(parent, j):
            related[j, p] = related[p, j] = True
    return ~related


def label_hubness(label_reference: np.ndarray, labels: list[Label] | None = None) -> np.ndarray:
    """[n_labels]: each label's mean cosine with its HUB_NEIGHBOURS nearest reference topics.

    ``label_reference`` is [n_labels, n_reference], the labels' vectors against the
    reference topics' (both as label phrasings); only the first
    :func:`topical_reference_count` columns count. The kinds of non-news text (cookie
    notices, app descriptions, source code) are left out: near `technology`, they made it
    the broadest label of all, and a cookie banner came back as technology. In a taxonomy
    a topic is as broad as its family: it takes the largest hubness of itself and its ancestors among ``labels``.
    A narrow topic filed under a broad one (COP29 under climate change, demining under
    post-war reconstruction) is what the taxonomy's author asks to find inside the broad
    one's articles; scored as a stand-alone narrow label, the founding article lost both.
    """
    topical = label_reference[:, :topical_reference_count()]
    hubness = np.sort(topical, axis=1)[:, -HUB_NEIGHBOURS:].mean(axis=1)
    if labels is None:
        return hubness
    parent = parents(labels)
    return np.array([max([hubness[j]] + [hubness[p] for p in ancestors(parent, j)]) for j in range(len(labels))])


def pair_features(sims: np.ndarray, reference_sims: np.ndarray, hubness: np.ndarray,
                  competing: np.ndarray | None = None) -> np.ndarray:
    """Features of each (row, label) pair: [rows, n_labels, len(FEATURES)].

    ``sims`` is [rows, n_labels] (rows are windows or sentences of one text),
    ``reference_sims`` is [rows, n_reference] for the same rows, ``hubness`` the labels'
    :func:`label_hubness` and ``competing`` their rivalry (see :func:`rivals`; None:
    every label competes with every other).
    """
    rows, k = sims.shape
    if competing is None:
        competing = ~np.eye(k, dtype=bool)
    # The best rival of each label in each row (-inf when it has none).
    best_rival = np.where(competing[None, :, :], sims[:, None, :], -np.inf).max(axis=2)
    best = np.maximum(sims, best_rival)
    gap = sims - best
    margin = np.where(np.isfinite(best_rival), np.maximum(sims - best_rival, 0.0), 0.0)
    log_labels = np.full_like(sims, np.log(k))
    hub = np.broadcast_to(np.asarray(hubness, dtype=sims.dtype)[None, :], sims.shape)
    topical, non_news = np.split(reference_sims, [topical_reference_count()], axis=1)
    nonnews_lead = np.maximum(non_news.max(axis=1, initial=-1.0)[:, None] - sims, 0.0)
    relative_sim = sims - (topical.mean(axis=1, keepdims=True) if topical.shape[1] else 0.0)
    return np.stack([sims, gap, margin, log_labels, reference_rank(sims, reference_sims), hub, nonnews_lead,
                     relative_sim], axis=2)


def reference_rank(sims: np.ndarray, reference_sims: np.ndarray, rows_at_once: int = 64) -> np.ndarray:
    """[rows, k]: the share of reference topics each label beats, counted softly.

    A hard count jumps when two cosines tie to the last bit, and which way it jumps can
    depend on the order of the labels (BLAS rounding); a logistic step RANK_SOFTNESS wide
    keeps the score a smooth function of the cosines. Rows go in chunks to bound memory.
    """
    out = np.empty(sims.shape, dtype=np.float64)
    for start in range(0, sims.shape[0], rows_at_once):
        diff = sims[start:start + rows_at_once, :, None] - reference_sims[start:start + rows_at_once, None, :]
        out[start:start + rows_at_once] = sigmoid(diff.astype(np.float32) / RANK_SOFTNESS).mean(axis=2)
    return out


def text_features(sims: np.ndarray, reference_sims: np.ndarray, hubness: np.ndarray,
                  competing: np.ndarray | None = None) -> np.ndarray:
    """Features of each label for a whole text from its windows' similarities: [n_labels, F]."""
    return over_windows(pair_features(sims, reference_sims, hubness, competing))


def over_windows(per_window: np.ndarray) -> np.ndarray:
    """A text's features from its windows' (:func:`pair_features`): the mean, per feature."""
    return per_window.mean(axis=0)


@dataclass(frozen=True)
class Calibration:
    """``score = sigmoid(weights · features + bias)``, weights in the order of FEATURES."""

    weights: tuple[float, ...]
    bias: float
    # (scale, shift) of the logit of a label that another label of a flat set outscores
    # (:meth:`flat_set_scores`); (1, 0) leaves it as it is.
    outscored: tuple[float, float] = (1.0, 0.0)

    def __post_init__(self) -> None:
        if len(self.weights) != len(FEATURES):
            raise ValueError(f"a calibration needs {len(FEATURES)} weights ({', '.join(FEATURES)}), "
                             f"got {len(self.weights)}")

    def scores(self, features: np.ndarray) -> np.ndarray:
        return sigmoid(features @ np.asarray(self.weights) + self.bias)

    def flat_set_scores(self, scores: np.ndarray) -> np.ndarray:
        """A flat label set's scores (every label a rival of every other: no taxonomy), with
        each label that another one outscores rescaled on the logit scale by ``outscored``.

        Why: the features score each label against its rivals only through gap and margin,
        and a label just behind the best one scores nearly as high. In a flat set the labels
        are mostly alternatives: labels in second place that passed 0.5 averaged 0.67 and
        were right 13-47% of the time on section-labelled news (docs/benchmarks.md, "Trust",
        session 11). The rescaling is fitted on those pairs by training.fit_calibration. With
        a positive scale and a negative shift (every fit so far), a score under 0.5 stays
        under 0.5 (a very low one rises a little), so a label it touches can lose a topic but
        never gain one; the best label keeps its score.
        """
        scale, shift = self.outscored
        if len(scores) < 2 or (scale, shift) == (1.0, 0.0):
            return scores
        out = np.array(scores, dtype=np.float64)
        behind = out < out.max()
        out[behind] = sigmoid(scale * logit(out[behind]) + shift)
        return out

    def label_prior(self, hubness: np.ndarray) -> np.ndarray:
        """[n_labels] the part of each label's logit that comes from what the label is, not
        what the text says: its broadness, relative to the label set's mean.

        It helps decide whether a label applies at all, but not which of several fits best:
        choosing the single best label with it cost 0.3 point of AG News top-1 (0.8509 ->
        0.8482), without it none, so a single-label choice takes it out
        (docs/benchmarks.md, "Trust").
        """
        weight = self.weights[FEATURES.index("label_hubness")]
        return weight * (hubness - hubness.mean()) if len(hubness) else np.zeros(0)

    def text_scores(self, sims: np.ndarray, reference_sims: np.ndarray, hubness: np.ndarray,
                    competing: np.ndarray | None = None) -> np.ndarray:
        """[n_labels] scores of a whole text from its windows' similarities."""
        return self.scores(text_features(sims, reference_sims, hubness, competing))

    def row_scores(self, sims: np.ndarray, reference_sims: np.ndarray, hubness: np.ndarray,
                   competing: np.ndarray | None = None) -> np.ndarray:
        """[rows, n_labels] scores of each row (a sentence) as if it were a text of its own."""
        return self.scores(pair_features(sims, reference_sims, hubness, competing))


def sigmoid(x: np.ndarray) -> np.ndarray:
    # exp overflows to inf for a large negative x (a cosine 0.9 under a reference topic is
    # -90 here), and 1 / (1 + inf) is the right 0: the overflow is not worth a warning.
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def logit(p: np.ndarray) -> np.ndarray:
    """The inverse of the sigmoid, for scores clipped away from 0 and 1."""
    p = np.clip(p, 1e-12, 1.0 - 1e-12)
    return np.log(p) - np.log1p(-p)
