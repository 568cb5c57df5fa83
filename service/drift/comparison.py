"""Two periods' tags compared: which labels moved, the overall shift, scores, languages.

A label "moved" only when both hold: the change is significant after Holm's correction
over every label tested (alpha), and it is large enough to matter (``min_change`` share
points). Significance alone flags trivial changes on large samples; size alone flags
noise on small ones.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .reading import BATCH, TYPED_LABELS, TagSet
from .statistics import fisher_exact_p_value, holm, js_divergence, ks_test, psi, psi_noise, psi_reading, quantiles

NO_TOPIC = "(no topic)"
RARE = "(rare labels)"
SMALL_SAMPLE = 100


@dataclass(frozen=True)
class Rule:
    """When a change counts as drift."""

    alpha: float = 0.01  # chance of any false alarm per report (Holm over every test in it)
    min_change: float = 0.02  # share points (0.02 = 2 points) a label must move
    min_score_shift: float = 0.1  # Kolmogorov-Smirnov D the top-score distribution must move
    rare_share: float = 0.01  # labels under this share in both periods share one PSI bin

    def to_dict(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "min_change": self.min_change, "min_score_shift": self.min_score_shift,
                "correction": "holm", "test": "Fisher's exact test"}


@dataclass(frozen=True)
class ShareChange:
    """One label's (or the no-topic, or a language's) share of articles in both periods."""

    name: str
    then_articles: int
    then_share: float
    now_articles: int
    now_share: float
    p_value: float
    p_adjusted: float
    moved: bool

    @property
    def change(self) -> float:
        return self.now_share - self.then_share

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.name, "then": {"articles": self.then_articles, "share": round(self.then_share, 4)},
                "now": {"articles": self.now_articles, "share": round(self.now_share, 4)},
                "change": round(self.change, 4), "p_value": _p(self.p_value), "p_adjusted": _p(self.p_adjusted),
                "moved": self.moved}


def _p(value: float) -> float:
    return float(f"{value:.3g}")


@dataclass(frozen=True)
class ScoreShift:
    then: dict[str, float]
    now: dict[str, float]
    ks_statistic: float
    p_value: float
    p_adjusted: float
    moved: bool

    def to_dict(self) -> dict[str, Any]:
        return {"then": self.then, "now": self.now, "ks_statistic": round(self.ks_statistic, 4),
                "p_value": _p(self.p_value), "p_adjusted": _p(self.p_adjusted), "moved": self.moved}


@dataclass
class Comparison:
    then: TagSet
    now: TagSet
    rule: Rule
    labels: list[ShareChange]  # largest change first
    no_topic: ShareChange | None
    psi: float
    psi_noise: float
    js_divergence: float
    top_score: ScoreShift | None
    languages: list[ShareChange]
    notes: list[str] = field(default_factory=list)

    @property
    def moved(self) -> list[ShareChange]:
        return [c for c in self.labels if c.moved]

    @property
    def psi_within_noise(self) -> bool:
        """Whether sampling alone could give this PSI (two samples of one population rarely
        exceed twice the average it would give). A PSI of 0 always could: with a single bin
        (no article has a topic in either period) both are 0, and it read "PSI 0.000, stable;
        beyond what sampling alone gives (about 0.000)"."""
        return self.psi <= 2 * self.psi_noise

    @property
    def drift(self) -> bool:
        return bool(self.moved) or bool(self.no_topic and self.no_topic.moved) or bool(
            self.top_score and self.top_score.moved) or any(c.moved for c in self.languages)

    def to_dict(self) -> dict[str, Any]:
        return {
            "then": self.then.summary(), "now": self.now.summary(), "rule": self.rule.to_dict(),
            "drift": self.drift, "moved": [c.name for c in self.moved],
            "psi": {"value": round(self.psi, 4), "reading": psi_reading(self.psi),
                    "sampling_noise": round(self.psi_noise, 4), "within_sampling_noise": self.psi_within_noise},
            "js_divergence": round(self.js_divergence, 4),
            "no_topic": self.no_topic.to_dict() if self.no_topic else None,
            "top_score": self.top_score.to_dict() if self.top_score else None,
            "labels": [c.to_dict() for c in self.labels],
            "languages": [c.to_dict() for c in self.languages],
            "notes": self.notes,
        }


def _changes(names: list[str], then: Counter[str], now: Counter[str], n_then: int, n_now: int,
             adjusted: list[float], rule: Rule) -> list[ShareChange]:
    out = []
    for name, q in zip(names, adjusted, strict=True):
        a, b = then[name] / n_then, now[name] / n_now
        p = fisher_exact_p_value(then[name], n_then, now[name], n_now)
        out.append(ShareChange(name, then[name], a, now[name], b, p, q,
                               moved=q < rule.alpha and abs(b - a) >= rule.min_change))
    return out


def _psi_bins(then: TagSet, now: TagSet, rule: Rule) -> tuple[list[int], list[int]]:
    """Label and no-topic counts per bin, labels rare in both periods pooled into one bin."""
    names = sorted(set(then.label_counts) | set(now.label_counts))
    common = [x for x in names if max(then.label_counts[x] / then.articles,
                                      now.label_counts[x] / now.articles) >= rule.rare_share]
    rare = [x for x in names if x not in common]
    a = [then.label_counts[x] for x in common] + [sum(then.label_counts[x] for x in rare), then.no_topic]
    b = [now.label_counts[x] for x in common] + [sum(now.label_counts[x] for x in rare), now.no_topic]
    kept = [i for i in range(len(a)) if a[i] or b[i]]
    return [a[i] for i in kept], [b[i] for i in kept]


def _notes(then: TagSet, now: TagSet, reference: str) -> list[str]:
    notes = []
    if then.kind != now.kind:
        notes.append(f"{reference} is {then.kind} and NOW is {now.kind}: the difference mixes drift with the gap "
                     "between the two kinds of labels")
    if then.models and now.models and set(then.models) != set(now.models):
        notes.append(f"{reference} was tagged by {', '.join(sorted(then.models))} and NOW by "
                     f"{', '.join(sorted(now.models))}: a change of model (or of its labels) shows as drift")
    for tags, which in ((then, reference), (now, "NOW")):
        if len(tags.taxonomies) > 1:
            typed = ' (--taxonomy "" for the typed labels)' if TYPED_LABELS in tags.taxonomies else ""
            notes.append(f"{which} mixes label sets ({', '.join(sorted(tags.taxonomies))}): pass --taxonomy{typed}")
        if tags.articles < SMALL_SAMPLE:
            notes.append(f"{which} has only {articles(tags.articles)}: only large changes can show as drift")
        if tags.skipped:
            notes.append(f"{which}: rows left out: {tags.left_out()}")
        if tags.taxonomy_unknown:
            notes.append(f"{which}: {tags.taxonomy_unknown} rows do not name their taxonomy (newstag batch writes "
                         "none), so --taxonomy kept them all")
    return notes


def compare(then: TagSet, now: TagSet, rule: Rule | None = None, reference: str = "THEN") -> Comparison:
    """Compare two periods' tags (``then`` is the reference, named ``reference`` in the notes).

    Every test of the report (each label, the no-topic share, the top scores, each
    language) is in one Holm family, so ``rule.alpha`` bounds the chance of any false alarm.
    """
    rule = rule or Rule()
    names = sorted(set(then.label_counts) | set(now.label_counts))
    # Editors' and training labels always name a topic: against them, any tagged period's
    # articles without one would read as a moved no-topic share. Both must be tagged output.
    scored_no_topic = then.kind == BATCH and now.kind == BATCH
    tested = names + ([NO_TOPIC] if scored_no_topic else [])
    counts_then = Counter({**then.label_counts, NO_TOPIC: then.no_topic})
    counts_now = Counter({**now.label_counts, NO_TOPIC: now.no_topic})
    codes = sorted(set(then.languages) | set(now.languages)) if then.languages and now.languages else []
    scores = then.has_scores and now.has_scores
    d, ks_p = ks_test(then.top_scores, now.top_scores) if scores else (0.0, 1.0)

    p_values = [fisher_exact_p_value(counts_then[x], then.articles, counts_now[x], now.articles) for x in tested]
    p_values += [fisher_exact_p_value(then.languages[x], then.articles, now.languages[x], now.articles)
                 for x in codes]
    adjusted = holm(p_values + ([ks_p] if scores else []))
    changes = _changes(tested, counts_then, counts_now, then.articles, now.articles, adjusted[:len(tested)], rule)
    no_topic = changes.pop() if scored_no_topic else None
    changes.sort(key=lambda c: (-abs(c.change), c.name))
    languages = _changes(codes, then.languages, now.languages, then.articles, now.articles,
                         adjusted[len(tested):len(tested) + len(codes)], rule)
    languages.sort(key=lambda c: (-max(c.then_share, c.now_share), c.name))
    top_score = None
    if scores:
        top_score = ScoreShift(quantiles(then.top_scores), quantiles(now.top_scores), d, ks_p, adjusted[-1],
                               moved=adjusted[-1] < rule.alpha and d >= rule.min_score_shift)
    a, b = _psi_bins(then, now, rule)
    return Comparison(then, now, rule, changes, no_topic, psi(a, b), psi_noise(len(a), sum(a), sum(b)),
                      js_divergence(a, b), top_score, languages, _notes(then, now, reference))


@dataclass
class DriftReport:
    """Two periods compared, and/or the newer one against a fine-tuned model's training data."""

    periods: Comparison | None
    training: Comparison | None
    model: str | None = None

    @property
    def drift(self) -> bool:
        return any(c.drift for c in (self.periods, self.training) if c is not None)

    def to_dict(self) -> dict[str, Any]:
        return {"drift": self.drift,
                "periods": self.periods.to_dict() if self.periods else None,
                "training": {"model": self.model, **self.training.to_dict()} if self.training else None}


def against_training(training: TagSet, now: TagSet, rule: Rule | None = None) -> Comparison:
    """``now`` against a model's training data: label shares only (training has no scores)."""
    comparison = compare(training, now, rule, reference="TRAIN")
    unknown = sorted(set(now.label_counts) - set(training.label_counts))
    if unknown:
        comparison.notes.insert(0, f"NOW has labels the model was not trained on ({', '.join(unknown[:10])}"
                                   f"{', ...' if len(unknown) > 10 else ''}): were these files tagged with it?")
    return comparison


def articles(count: int) -> str:
    """'1 article', '2 articles' (the notes here and the report's header, render.py)."""
    return f"{count} article{'' if count == 1 else 's'}"
