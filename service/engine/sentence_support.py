"""Sentences read on their own: what a sentence says about each label without its article.

Two things use it. A topic that an article covers in one sentence or paragraph (the
founding article's one sentence on landmines) barely moves the article's windows, so a
label's score may also come from its best sentences read alone, when some window of the
article leans to the label too. And evidence is only evidence when the sentence, sent
alone with the same labels, gets the topic back.

Reading a sentence alone costs a forward pass, so only candidates are read: the
sentences that score best for a label in context (from the pass over the article's
windows, which costs nothing more), batched across every document of the call.

How a topic's score relates to its evidence: a sentence's support for a topic is its
score read alone, discounted for being the best of many tries (:func:`support`). A
topic's score is the higher of the article's score and its candidate sentences'
support, and its evidence are those candidates whose support reaches the label's
threshold, each with its support as its score. So an evidence score is never above its
topic's score, and every evidence sentence, sent alone, gets its topic back (its score
alone is at least its support).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from . import keywords
from .chunking import PreparedDocument
from .model_profiles import SentenceRules
from .scoring import DocumentScores, ScoringBackend
from .types import Evidence, Label
from .words import word_count

# The constants are the model's (model_profiles.SentenceRules): a calibration that reads
# sentences more cautiously than all-MiniLM-L6-v2's needs others (docs/benchmarks.md, "Multilingual").
DEFAULT_RULES = SentenceRules()


class SentenceScores:
    """Scores of single sentences read alone against one label set, computed in batches, kept per call.

    A backend that scores each (text, label) pair on its own (``pairwise``: NLI, a pass per
    pair) reads a sentence against only the labels it is a candidate for; the others stay NaN.
    """

    def __init__(self, backend: ScoringBackend, labels: list[Label]):
        self.backend = backend
        self.labels = labels
        self._pairwise = bool(getattr(backend, "pairwise", False))
        self._scores: dict[str, np.ndarray] = {}
        self._read: dict[str, set[int]] = {}  # pairwise: the labels each text was read against

    def compute(self, wanted: Mapping[str, Iterable[int]], deadline: float | None = None) -> None:
        """Score every text (against the labels ``wanted`` names for it) not scored yet, in one call."""
        if self._pairwise:
            self._compute_pairs(wanted, deadline)
            return
        # Sorted, so the batches (and their float rounding) do not depend on the labels' order.
        missing = sorted({t for t in wanted if t not in self._scores})
        if not missing:
            return
        docs = [self.backend.prepare(text) for text in missing]
        for text, scores in zip(missing, self.backend.score(docs, self.labels, deadline), strict=True):
            self._scores[text] = scores.label_scores

    def _compute_pairs(self, wanted: Mapping[str, Iterable[int]], deadline: float | None) -> None:
        asks = {text: sorted(set(columns) - self._read.get(text, set())) for text, columns in sorted(wanted.items())}
        asks = {text: columns for text, columns in asks.items() if columns}
        if not asks:
            return
        docs = [self.backend.prepare(text) for text in asks]
        read = self.backend.score_pairs(docs, self.labels, list(asks.values()), deadline)  # type: ignore[attr-defined]
        for (text, columns), scores in zip(asks.items(), read, strict=True):
            self._scores.setdefault(text, np.full(len(self.labels), np.nan))[columns] = scores
            self._read.setdefault(text, set()).update(columns)

    def __getitem__(self, text: str) -> np.ndarray:
        """[n_labels] scores of ``text`` read alone (compute it first)."""
        return self._scores[text]


def sentence_text(doc: PreparedDocument, i: int) -> str:
    span = doc.sentences[i]
    return doc.text[span.start:span.end]


def wanted_of(docs: list[PreparedDocument], found: list[dict[int, list[int]]]) -> dict[str, set[int]]:
    """Every candidate sentence of every document, with the labels it is a candidate for."""
    wanted: dict[str, set[int]] = {}
    for doc, f in zip(docs, found, strict=True):
        for j, rows in f.items():
            for i in rows:
                wanted.setdefault(sentence_text(doc, i), set()).add(j)
    return wanted


def best_sentences(in_context: np.ndarray, columns: list[int], per_label: int,
                   minimum: float = 0.0) -> dict[int, list[int]]:
    """For each label (``columns[c]`` names column c), its best sentences (rows) scoring at least ``minimum``."""
    out: dict[int, list[int]] = {}
    for column, j in enumerate(columns):
        ranked = np.argsort(-in_context[:, column], kind="stable")[:per_label]
        found = [int(i) for i in ranked if in_context[i, column] >= minimum]
        if found:
            out[j] = found
    return out


def candidates(doc: PreparedDocument, scores: DocumentScores, labels: list[int], best_window: np.ndarray | None,
               per_label: int, rules: SentenceRules = DEFAULT_RULES) -> dict[int, list[int]]:
    """Candidate sentences of ``labels``, best first.

    With ``best_window`` (each label's best window score), only labels the article leans
    to, and only sentences long enough to stand alone: the sentences that may lift a topic.
    Without it, every label's best sentences in context: candidates for evidence only.
    """
    if not doc.sentences:
        return {}
    if best_window is not None:
        labels = [j for j in labels if best_window[j] >= rules.route_min_window]
    if not labels:
        return {}
    found = best_sentences(scores.sentence_scores(labels), labels, per_label, rules.route_min)
    if best_window is not None:
        found = {j: [i for i in rows if word_count(sentence_text(doc, i)) >= rules.min_words]
                 for j, rows in found.items()}
    return {j: rows for j, rows in found.items() if rows}


def support(alone_score: float, discount: float = DEFAULT_RULES.discount) -> float:
    """What a sentence read alone says for its topic, within an article: its score discounted.

    The best of an article's many sentences, each tried against every label, is the
    maximum of many tries and runs high: junk's best sentence reaches 0.6-0.8 for some
    label. With the default model's discount (0.55), a sentence alone at 0.775 supports its
    topic at 0.5 (the default threshold); at 1.0, at 1.0.
    """
    return float(np.clip((alone_score - discount) / (1.0 - discount), 0.0, 1.0))


def with_sentences(label_scores: np.ndarray, doc: PreparedDocument, found: dict[int, list[int]],
                   alone: SentenceScores, rules: SentenceRules = DEFAULT_RULES) -> np.ndarray:
    """Each label's score: its article's, or its best candidate sentence's support when higher."""
    scores = label_scores.copy()
    for j, rows in found.items():
        scores[j] = max([scores[j]] + [support(alone[sentence_text(doc, i)][j], rules.discount) for i in rows])
    return scores


def evidence(doc: PreparedDocument, found: dict[int, list[int]], alone: SentenceScores, chosen: list[int],
             thresholds: np.ndarray, topic_scores: np.ndarray, per_topic: int, weight: float,
             rules: SentenceRules = DEFAULT_RULES, deadline: float | None = None) -> dict[int, tuple[Evidence, ...]]:
    """For each chosen label, its candidates that get it back alone, best first, each distinct sentence once.

    An evidence score is its support capped at its topic's score: a topic scored on the article
    as a whole (labels named in the call, a taxonomy without sentence topics) may be less sure
    than one of its sentences read alone, and a sentence never claims more than its topic.
    """
    if not chosen or not doc.sentences:
        return {}
    hits = keywords.keyword_hits(doc.text, doc.sentences, alone.labels, chosen, deadline)
    out: dict[int, tuple[Evidence, ...]] = {}
    for j in chosen:
        rows = found.get(j, [])
        says = {i: float(keywords.combine(np.asarray(support(alone[sentence_text(doc, i)][j], rules.discount)),
                                          hits[i, j], weight))
                for i in rows}
        kept: dict[str, Evidence] = {}
        for i in sorted(rows, key=lambda i: -says[i]):
            if says[i] < thresholds[j] or len(kept) == per_topic:
                break
            span, text = doc.sentences[i], sentence_text(doc, i)
            key = " ".join(text.split()).casefold()  # the same sentence at two offsets counts once
            score = min(says[i], float(topic_scores[j]))
            kept.setdefault(key, Evidence(text, span.start, span.end, round(score, 4)))
        out[j] = tuple(kept.values())
    return out
