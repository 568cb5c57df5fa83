"""The one public API for tagging: every caller (CLI, HTTP, batch, evaluation) uses it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import keywords
from .chunking import PreparedDocument
from .errors import InvalidInputError
from .language import UNDETERMINED, detect_language
from .scoring import DocumentScores, ScoringBackend
from .sentence_support import ROUTE_MIN, SentenceScores, best_sentences
from .taxonomy import TaxonomyRegistry
from .types import Evidence, Label, TagResult, Topic, Warning

if TYPE_CHECKING:
    from ..config import Settings

LabelLike = str | Label
EXTRA_CANDIDATES = 2  # sentences checked alone per topic beyond the evidence asked for


def _require_unicode(text: str, what: str) -> None:
    """Lone surrogates (from JSON escapes like \\ud800) cannot be encoded or tokenized."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"{what} is not valid Unicode (it has a lone surrogate)") from None


@dataclass(frozen=True)
class LabelSet:
    """The labels one call is scored against, and the threshold each one has."""

    name: str | None  # the taxonomy's name, or None for caller-given labels
    labels: tuple[Label, ...]
    default_threshold: float

    def thresholds(self, override: float | None) -> np.ndarray:
        if override is not None:
            return np.full(len(self.labels), override)
        return np.array([lab.threshold if lab.threshold is not None else self.default_threshold
                         for lab in self.labels])


class Tagger:
    """Tags texts with topics from a taxonomy or from labels the caller names.

    Example:
        >>> tagger = Tagger.from_settings(Settings.from_env())
        >>> result = tagger.tag(["Ministers met to discuss COP29 ..."])[0]
        >>> [(t.label, round(t.score, 2)) for t in result.topics]
        [('COP29', 0.93), ('climate change', 0.71)]
    """

    def __init__(self, backend: ScoringBackend, taxonomies: TaxonomyRegistry, settings: Settings):
        self.backend = backend
        self.taxonomies = taxonomies
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: Settings) -> Tagger:
        """Load the model and the taxonomies the settings name (local files only)."""
        from .loading import load_backend

        extra = [settings.taxonomies_dir] if settings.taxonomies_dir else []
        taxonomies = TaxonomyRegistry(extra)
        taxonomies.get(settings.taxonomy)  # fail at start-up, not on the first request
        return cls(load_backend(settings), taxonomies, settings)

    @property
    def fixed_labels(self) -> tuple[Label, ...] | None:
        """A fine-tuned model's own labels; None for zero-shot models, which take any."""
        return getattr(self.backend, "labels", None)

    def label_set(self, labels: Sequence[LabelLike] | None = None, taxonomy: str | None = None) -> LabelSet:
        """Caller labels (which replace any taxonomy) or the named (or default) taxonomy.

        A fine-tuned model has its own labels: taxonomies do not apply, and caller labels
        may only pick some of them.
        """
        if self.fixed_labels is not None:
            return self._fixed_label_set(labels)
        if labels is None:
            found = self.taxonomies.get(taxonomy or self.settings.taxonomy)
            return LabelSet(found.name, found.labels, found.threshold)
        parsed = tuple(lab if isinstance(lab, Label) else Label(str(lab).strip()) for lab in labels)
        if not parsed:
            raise InvalidInputError("labels must name at least one label")
        if len(parsed) > self.settings.max_labels:
            raise InvalidInputError(f"at most {self.settings.max_labels} labels per call, got {len(parsed)}")
        for lab in parsed:
            for part in (lab.name, lab.description, *lab.keywords):
                _require_unicode(part, f"label {lab.name[:40]!r}")
        names = [lab.name for lab in parsed]
        if any(not name for name in names):
            raise InvalidInputError("label names must not be empty")
        if len({n.casefold() for n in names}) != len(names):
            raise InvalidInputError("label names must be unique")
        return LabelSet(None, parsed, self.settings.threshold)

    def _fixed_label_set(self, labels: Sequence[LabelLike] | None) -> LabelSet:
        own = self.fixed_labels or ()
        if labels is None:
            return LabelSet(None, own, self.settings.threshold)
        by_name = {lab.name: lab for lab in own}
        wanted = [lab.name if isinstance(lab, Label) else str(lab).strip() for lab in labels]
        unknown = [name for name in wanted if name not in by_name]
        if unknown or not wanted:
            raise InvalidInputError(
                f"model {self.backend.model_name!r} has fixed labels ({', '.join(by_name)}); "
                f"not among them: {', '.join(unknown) or '(none given)'}")
        return LabelSet(None, tuple(by_name[name] for name in dict.fromkeys(wanted)), self.settings.threshold)

    def tag(
        self,
        texts: Sequence[str],
        labels: Sequence[LabelLike] | None = None,
        *,
        taxonomy: str | None = None,
        multi_label: bool = True,
        threshold: float | None = None,
        top_k: int | None = None,
        evidence: bool = True,
    ) -> list[TagResult]:
        """Tag each text and return its topics, highest score first.

        Args:
            texts: the articles, each at most ``max_text_chars`` characters.
            labels: label names or :class:`Label` objects; they replace the taxonomy.
            taxonomy: the taxonomy to use when ``labels`` is not given (default: settings).
            multi_label: when False, exactly one topic comes back: the best one.
            threshold: overrides every label's own threshold (multi-label mode).
            top_k: at most this many topics per text.
            evidence: attach the sentences that best support each topic.

        Returns:
            One :class:`TagResult` per text, in order.
        """
        self._check_options(texts, threshold, top_k)
        label_set = self.label_set(labels, taxonomy)
        docs = [self.backend.prepare(text) for text in texts]
        labels = list(label_set.labels)
        scored = self.backend.score(docs, labels)
        alone = SentenceScores(self.backend, labels)
        model_scores = self._with_sentences(docs, scored, alone)
        thresholds = label_set.thresholds(threshold)
        results = []
        for doc, s, model in zip(docs, scored, model_scores, strict=True):
            results.append(self._result(doc, s, model, alone, labels, thresholds, multi_label, top_k, evidence))
        return results

    def _with_sentences(self, docs: list[PreparedDocument], scored: Sequence[DocumentScores],
                        alone: SentenceScores) -> list[np.ndarray]:
        """Each label's score: its article's, or its best sentence's read alone when that is higher.

        Only the embedding engine does this: its sentence scores in context cost nothing
        more, where NLI would run a pass per sentence and label just to find candidates.
        """
        if self.backend.kind != "embedding":
            return [s.label_scores for s in scored]
        k = len(alone.labels)
        routes = []
        for doc, s in zip(docs, scored, strict=True):
            best = best_sentences(s.sentence_scores(list(range(k))), 1, ROUTE_MIN) if doc.sentences else {}
            routes.append({j: _sentence_text(doc, found[0]) for j, found in best.items()})
        alone.compute([text for route in routes for text in route.values()])
        out = []
        for s, route in zip(scored, routes, strict=True):
            scores = s.label_scores.copy()
            for j, text in route.items():
                scores[j] = max(scores[j], alone[text][j])
            out.append(scores)
        return out

    def _check_options(self, texts: Sequence[str], threshold: float | None, top_k: int | None) -> None:
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise InvalidInputError("texts must be a list of strings")
        if not texts:
            raise InvalidInputError("there must be at least one text")
        if len(texts) > self.settings.max_documents:
            raise InvalidInputError(f"at most {self.settings.max_documents} documents per call, got {len(texts)}")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidInputError(f"text {i} is not a string")
            if not text.strip():
                raise InvalidInputError(f"text {i} is empty")
            if len(text) > self.settings.max_text_chars:
                raise InvalidInputError(
                    f"text {i} has {len(text)} characters; the limit is {self.settings.max_text_chars}")
            _require_unicode(text, f"text {i}")
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise InvalidInputError("threshold must be between 0 and 1")
        if top_k is not None and top_k < 1:
            raise InvalidInputError("top_k must be at least 1")

    def _result(self, doc: PreparedDocument, scores: DocumentScores, model: np.ndarray, alone: SentenceScores,
                labels: list[Label], thresholds: np.ndarray, multi_label: bool, top_k: int | None,
                evidence: bool) -> TagResult:
        weight = self.settings.keyword_weight
        final = keywords.combine(model, keywords.document_hits(doc.text, labels), weight)
        order = [int(j) for j in np.argsort(-final, kind="stable")]
        chosen = order[:1] if not multi_label else [j for j in order if final[j] >= thresholds[j]]
        if top_k is not None:
            chosen = chosen[:top_k]
        support = self._evidence(doc, scores, alone, thresholds, chosen) if evidence and chosen else {}
        topics = tuple(
            Topic(labels[j].name, round(float(final[j]), 4), labels[j].code, support.get(j, ()))
            for j in chosen
        )
        language, warnings = self._language(doc.text)
        return TagResult(topics, doc.token_count, language, warnings)

    def _language(self, text: str) -> tuple[str, tuple[Warning, ...]]:
        """The text's language, and a warning when the model was not trained on it."""
        code = detect_language(text).code
        supported = self.backend.languages
        if code == UNDETERMINED or supported is None or code in supported:
            return code, ()
        known = ", ".join(sorted(supported))
        message = (f"The text looks like language {code!r}; the model {self.backend.model_name!r} "
                   f"was trained on {known} only, so its topics may be wrong.")
        return code, (Warning("language-unsupported", message),)

    def _evidence(self, doc: PreparedDocument, scores: DocumentScores, alone: SentenceScores,
                  thresholds: np.ndarray, chosen: list[int]) -> dict[int, tuple[Evidence, ...]]:
        """The sentences that support each chosen label on their own.

        Candidates are a label's best sentences in context (no extra model call); each is
        then read alone, exactly as if it were sent as a text of its own with the same
        labels, and only those that get the label back (a score at or above its threshold)
        are kept, best first, each distinct sentence once. An evidence score is that
        sentence-alone score, so it is never above its topic's score (see _with_sentences).
        """
        per_topic = self.settings.evidence_per_topic
        if not doc.sentences or per_topic == 0:
            return {}
        weight = self.settings.keyword_weight
        hits = keywords.keyword_hits(doc.text, doc.sentences, alone.labels)
        in_context = keywords.combine(scores.sentence_scores(chosen), hits[:, chosen], weight)
        candidates = best_sentences(in_context, per_topic + EXTRA_CANDIDATES)
        alone.compute([_sentence_text(doc, i) for found in candidates.values() for i in found])
        out: dict[int, tuple[Evidence, ...]] = {}
        for column, found in candidates.items():
            j = chosen[column]
            support = {i: float(keywords.combine(alone[_sentence_text(doc, i)][j], hits[i, j], weight))
                       for i in found}
            kept: dict[str, Evidence] = {}
            for i in sorted(found, key=lambda i: -support[i]):
                if support[i] < thresholds[j] or len(kept) == per_topic:
                    break
                span = doc.sentences[i]
                key = " ".join(doc.text[span.start:span.end].split()).casefold()  # one sentence at two offsets
                kept.setdefault(key, Evidence(doc.text[span.start:span.end], span.start, span.end,
                                              round(support[i], 4)))
            out[j] = tuple(kept.values())
        return out


def _sentence_text(doc: PreparedDocument, i: int) -> str:
    span = doc.sentences[i]
    return doc.text[span.start:span.end]
