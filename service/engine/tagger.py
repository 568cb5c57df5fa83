"""The one public API for tagging: every caller (CLI, HTTP, batch, evaluation) uses it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..errors import FieldProblem, InvalidInputError
from ..options import EngineOptions, TaggerOptions
from . import keywords, markup, sentence_support, validation
from .calibration import logit
from .chunking import PreparedDocument
from .compact import Compacted, compacted
from .genre import called_non_news, sure_news
from .language import detect_language, label_words
from .page_article import reading_copy
from .result_warnings import (
    below_threshold_warning,
    domain_warning,
    feed_warning,
    genre_warning,
    labels_language_warning,
    text_language_warning,
)
from .rivals import without_rivals
from .scoring import DocumentScores, ScoringBackend
from .sentence_support import SentenceScores
from .taxonomy import TaxonomyRegistry
from .types import Evidence, Label, TagResult, Topic, Warning

LabelLike = str | Label
Candidates = dict[int, list[int]]  # label index -> its candidate sentences (indices into the document's)


@dataclass(frozen=True)
class LabelSet:
    """The labels one call is scored against, and the threshold each one has."""

    name: str | None  # the taxonomy's name, or None for caller-given labels
    labels: tuple[Label, ...]
    default_threshold: float
    sentence_topics: bool = False  # may a topic come from single sentences? (the taxonomy says)
    at_least_one_topic: bool = False  # does a text sure to be news get its best topic anyway? (the taxonomy says)

    def thresholds(self, override: float | None) -> np.ndarray:
        if override is not None:
            return np.full(len(self.labels), override)
        return np.array([lab.threshold if lab.threshold is not None else self.default_threshold
                         for lab in self.labels])


class Tagger:
    """Tags texts with topics from a taxonomy or from labels the caller names.

    Example:
        >>> tagger = Tagger.load(Settings.from_env().engine_options())
        >>> result = tagger.tag(["Ministers met to discuss COP29 ..."])[0]
        >>> [(t.label, round(t.score, 2)) for t in result.topics]
        [('COP29', 0.93), ('climate change', 0.71)]
    """

    def __init__(self, backend: ScoringBackend, taxonomies: TaxonomyRegistry, options: TaggerOptions):
        self.backend = backend
        self.taxonomies = taxonomies
        self.options = options
        # Models that were to serve beside this one and could not (routing.load_tagger), by name: why.
        self.left_out: dict[str, str] = {}
        keep = getattr(backend, "keep_labels", None)  # models that cache label vectors (embedding)
        if keep is not None:
            keep(lab for name in taxonomies.names() for lab in taxonomies.get(name).labels)

    @classmethod
    def load(cls, options: EngineOptions, *, lazy: bool = False) -> Tagger:
        """Load the model and the taxonomies the options name (local files only), and the
        multilingual model for other languages when it is installed (routing.py; ``lazy``:
        when a text first goes to it)."""
        from .routing import load_tagger

        return load_tagger(options, lazy=lazy)

    def close(self) -> None:
        """Stop the model's batching thread once the work queued for it is done, so a model
        no longer served (a reload replaced or removed it) can be freed. Safe to call twice;
        a call to ``tag`` after it still works, with its batches run in the caller's thread."""
        close = getattr(self.backend, "close", None)
        if close is not None:  # a fine-tuned model, whose encoder other models may share
            close()
            return
        batcher = getattr(getattr(self.backend, "encoder", None), "batcher", None)
        if batcher is not None:
            batcher.close()

    @property
    def fixed_labels(self) -> tuple[Label, ...] | None:
        """A fine-tuned model's own labels; None for zero-shot models, which take any."""
        return self.backend.fixed_labels

    def label_set(self, labels: Sequence[LabelLike] | None = None, taxonomy: str | None = None) -> LabelSet:
        """Caller labels (which replace any taxonomy) or the named (or default) taxonomy.

        A fine-tuned model has its own labels: taxonomies do not apply, and caller labels
        may only pick some of them. A taxonomy given with labels, or to such a model, is an
        error rather than silently ignored.
        """
        if labels is not None:
            validation.check_labels(labels, self.options.max_labels)
        return self._resolve(labels, taxonomy)

    def _resolve(self, labels: Sequence[LabelLike] | None, taxonomy: str | None) -> LabelSet:
        """The label set of checked labels (or of the taxonomy)."""
        if taxonomy is not None and (labels is not None or self.fixed_labels is not None):
            why = ("labels replace the taxonomy" if labels is not None
                   else f"model {self.backend.model_name!r} has its own labels")
            raise InvalidInputError(f"a taxonomy does not apply here: {why}",
                                    [FieldProblem(("taxonomy",), f"{why}; leave taxonomy out")])
        if self.fixed_labels is not None:
            return self._fixed_label_set(labels)
        if labels is None:
            found = self.taxonomies.get(self.options.taxonomy if taxonomy is None else taxonomy)
            return LabelSet(found.name, found.labels, found.threshold, found.sentence_topics,
                            found.at_least_one_topic)
        parsed = tuple(lab if isinstance(lab, Label) else Label(str(lab).strip()) for lab in labels)
        seen: dict[str, str] = {}
        for i, lab in enumerate(parsed):
            first = seen.setdefault(validation.label_key(lab.name), lab.name)
            if len(seen) <= i:  # its key was there already
                which = validation.same_label(lab.name, first)
                again = FieldProblem(("labels", i), f"label names must be unique: {which}")
                raise InvalidInputError(f"label names must be unique: {which}", [again])
        return LabelSet(None, parsed, self.options.threshold)

    def _fixed_label_set(self, labels: Sequence[LabelLike] | None) -> LabelSet:
        own = self.fixed_labels or ()
        if labels is None:
            return LabelSet(None, own, self.options.threshold)
        by_name = {lab.name: lab for lab in own}
        wanted = [lab.name if isinstance(lab, Label) else str(lab).strip() for lab in labels]
        unknown = [(i, name) for i, name in enumerate(wanted) if name not in by_name]
        if unknown:  # (an empty list never gets here: validation.check_labels refuses it)
            raise InvalidInputError(
                f"model {self.backend.model_name!r} has fixed labels ({', '.join(by_name)}); "
                f"not among them: {', '.join(name for _, name in unknown)}",
                [FieldProblem(("labels", i), f"{name!r} is not a label of model {self.backend.model_name!r}")
                 for i, name in unknown])
        return LabelSet(None, tuple(by_name[name] for name in dict.fromkeys(wanted)), self.options.threshold)

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
        deadline: float | None = None,
        languages: Sequence[str] | None = None,
        readings: Sequence[str] | None = None,
    ) -> list[TagResult]:
        """Tag each text and return its topics, highest score first.

        Args:
            texts: the articles, each at most ``max_text_chars`` characters.
            labels: label names or :class:`Label` objects; they replace the taxonomy.
            taxonomy: the taxonomy to use when ``labels`` is not given (default: the options' taxonomy).
            multi_label: when False, exactly one topic comes back: the best one.
            threshold: overrides every label's own threshold (multi-label mode).
            top_k: at most this many topics per text.
            evidence: attach the sentences that best support each topic.
            deadline: a ``time.monotonic()`` instant; model work still queued then is
                dropped and DeadlineExceeded raised (None: no limit; the HTTP layer sets it).
            languages: each text's language (ISO 639-1 or "und") when the caller has detected
                it already (routing.py does); None: detected here.
            readings: each text's reading copy (page_article.reading_copy with this Tagger's
                ``pages`` option) when the caller has made it (routing.py does); None: made here.

        Returns:
            One :class:`TagResult` per text, in order, each naming the taxonomy used.

        Raises:
            InvalidInputError: naming every bad field (``problems``), before the model runs.
            UnknownTaxonomyError: no taxonomy of that name is installed.
        """
        validation.check_call(texts, labels, threshold, top_k, self.options)
        if languages is not None and len(languages) != len(texts):
            raise ValueError(f"languages names {len(languages)} languages for {len(texts)} texts")
        if readings is not None and len(readings) != len(texts):
            raise ValueError(f"readings holds {len(readings)} copies for {len(texts)} texts")
        label_set = self._resolve(labels, taxonomy)
        # HTML read as its text (a whole page as its article), offsets kept.
        reading = list(readings) if readings is not None else [
            reading_copy(text, self.options.pages == "article") for text in texts]
        # A page's copy is read without its long blank runs (compact.py); plain text as it is.
        short = [compacted(read) if read != text else None for read, text in zip(reading, texts, strict=True)]
        docs = [self.backend.prepare(read if copy is None else copy.text) for read, copy in zip(reading, short,
                                                                                             strict=True)]
        label_list = list(label_set.labels)
        scored = self.backend.score(docs, label_list, deadline)
        thresholds = label_set.thresholds(threshold)
        alone = SentenceScores(self.backend, label_list)
        # A multi-label call gives no topic to a text the genre check calls non-news, nor to one a
        # fine-tuned model's domain check calls unlike its training articles, nor to one with
        # nothing the model reads (only Arabic marks, say: its scores are those of an empty window);
        # their sentences are not read.
        # No letter of any script is nothing to read either: "2024" got climate change 0.57 and COP29 0.50.
        empty = [not any(doc.sentence_token_ids) or not any(map(str.isalpha, doc.text)) for doc in docs]
        gated = [multi_label and (called_non_news(s.news_probability) or nothing or s.outside_domain)
                 for s, nothing in zip(scored, empty, strict=True)]
        found = self._topic_candidates(docs, scored, gated, label_set, alone, deadline)
        codes = languages if languages is not None else [detect_language(doc.text).code for doc in docs]
        read = [self._language(code, doc.text) for code, doc in zip(codes, docs, strict=True)]
        # A taxonomy meant to cover all news gives a text sure to be news (in a language the
        # model reads) its best topic when none reached its threshold; a threshold the caller
        # sets is a hard cut.
        best_anyway = [multi_label and label_set.at_least_one_topic and threshold is None and not warned
                       and sure_news(s.news_probability) for s, (_, warned) in zip(scored, read, strict=True)]
        rules = self.backend.sentence_rules
        choices = [self._choose(doc, sentence_support.with_sentences(s.label_scores, doc, f, alone, rules), label_list,
                                thresholds, multi_label, top_k, s.label_prior, no_topic, anyway, deadline)
                   for doc, s, f, no_topic, anyway in zip(docs, scored, found, gated, best_anyway, strict=True)]
        with_evidence = evidence and self.options.evidence_per_topic > 0
        if with_evidence:
            found = self._evidence_candidates(docs, scored, found, [chosen for _, chosen in choices], alone, deadline)
        results = [self._result(doc, s, f, final, chosen, thresholds, read_as, alone, label_set, with_evidence,
                                multi_label, deadline, nothing)
                   for doc, s, f, (final, chosen), read_as, nothing in zip(docs, scored, found, choices, read, empty,
                                                                          strict=True)]
        results = [r if copy is None else _evidence_quoting(r, text, copy)
                   for r, text, copy in zip(results, texts, short, strict=True)]
        unread = self._labels_language_warning(label_set)
        return [replace(r, warnings=(*r.warnings, *feed_warning(text), *unread)) for r, text in
                zip(results, texts, strict=True)]

    def _topic_candidates(self, docs: list[PreparedDocument], scored: Sequence[DocumentScores], gated: list[bool],
                          label_set: LabelSet, alone: SentenceScores, deadline: float | None) -> list[Candidates]:
        """Each document's candidate sentences that may bring a topic in, read alone.

        With a taxonomy that allows it, the embedding engine reads candidate sentences of
        every label the article leans to (its sentence scores in context cost nothing more).
        Otherwise none are read here, only the returned topics' candidates later, for
        evidence: caller labels (often sections) are about the article as a whole, and NLI
        and fine-tuned models pay a pass per candidate.
        """
        every_label = list(range(len(label_set.labels)))
        found = [sentence_support.candidates(doc, s, every_label, s.best_window_scores,
                                             self.options.evidence_per_topic, self.backend.sentence_rules)
                 if label_set.sentence_topics and s.best_window_scores is not None and not no_topic else {}
                 for doc, s, no_topic in zip(docs, scored, gated, strict=True)]
        alone.compute(sentence_support.wanted_of(docs, found), deadline)
        return found

    def _evidence_candidates(self, docs: list[PreparedDocument], scored: Sequence[DocumentScores],
                             found: list[Candidates], chosen: list[list[int]], alone: SentenceScores,
                             deadline: float | None) -> list[Candidates]:
        """``found`` with the candidates of the returned topics not read yet, read alone for
        every document at once."""
        found = [{**f, **sentence_support.candidates(doc, s, [j for j in c if j not in f], None,
                                                     self.options.evidence_per_topic, self.backend.sentence_rules)}
                 for doc, s, f, c in zip(docs, scored, found, chosen, strict=True)]
        alone.compute(sentence_support.wanted_of(docs, found), deadline)
        return found

    def _result(self, doc: PreparedDocument, scored: DocumentScores, found: Candidates, final: np.ndarray,
                chosen: list[int], thresholds: np.ndarray, read_as: tuple[str, tuple[Warning, ...]],
                alone: SentenceScores, label_set: LabelSet, with_evidence: bool, multi_label: bool,
                deadline: float | None, empty: bool = False) -> TagResult:
        """One document's result: its topics with their evidence, and every warning that applies."""
        labels = label_set.labels
        support = (sentence_support.evidence(doc, found, alone, chosen, thresholds, final,
                                             self.options.evidence_per_topic, self.options.keyword_weight,
                                             self.backend.sentence_rules, deadline)
                   if with_evidence else {})
        topics = tuple(Topic(labels[j].name, round(float(final[j]), 4), labels[j].code, support.get(j, ()))
                       for j in chosen)
        below = below_threshold_warning(topics, thresholds[chosen[0]], scored.news_probability, multi_label) \
            if chosen and final[chosen[0]] < thresholds[chosen[0]] else ()
        language, warnings = read_as
        nothing = (Warning("nothing-to-read", "The text holds no word the model reads (only digits, punctuation, "
                           "marks, spaces or control characters); multi-label calls give it no topic."),) \
            if empty else ()
        return TagResult(topics, doc.token_count, language,
                         warnings + nothing + genre_warning(scored.news_probability)
                         + domain_warning(scored.outside_domain, self.backend.model_name) + below,
                         label_set.name, self.backend.model_name)

    def _choose(self, doc: PreparedDocument, model: np.ndarray, labels: list[Label], thresholds: np.ndarray,
                multi_label: bool, top_k: int | None, prior: np.ndarray | None,
                no_topic: bool = False, best_anyway: bool = False,
                deadline: float | None = None) -> tuple[np.ndarray, list[int]]:
        """Final scores (keyword evidence added) and the labels returned, best first
        (none when ``no_topic``: a multi-label call on a text that does not read like news, genre.py;
        the best one when none reaches its threshold and ``best_anyway``)."""
        hits = keywords.document_hits(doc.text, labels, deadline)
        final = keywords.combine(model, hits, self.options.keyword_weight)
        if no_topic:
            chosen = []
        elif multi_label:
            order = [int(j) for j in np.argsort(-final, kind="stable")]
            chosen = without_rivals([j for j in order if final[j] >= thresholds[j]], labels, doc.text, hits, deadline)
            if not chosen and best_anyway:  # the best topic the rivals' rules leave
                chosen = without_rivals(order, labels, doc.text, hits, deadline, limit=1)
        else:  # which label fits best: compared without the labels' priors (Calibration.label_prior)
            fit = logit(final) - (prior if prior is not None else 0.0)
            order = [int(j) for j in np.argsort(-fit, kind="stable")]
            # The best one no phrase rules out (all of them ruled out: the best)
            chosen = without_rivals(order, labels, doc.text, hits, deadline, limit=1) or order[:1]
        return final, chosen[:top_k] if top_k is not None else chosen

    def _labels_language_warning(self, label_set: LabelSet) -> tuple[Warning, ...]:
        if label_set.name is not None or self.fixed_labels is not None:  # a taxonomy's or the model's own
            return ()
        return labels_language_warning(label_words(label_set.labels), self.backend.languages,
                                       self.backend.model_name)

    def _language(self, code: str, text: str) -> tuple[str, tuple[Warning, ...]]:
        """A text's language, and a warning when the model was not trained on it (or, too short to
        tell its language, on its script)."""
        return code, text_language_warning(code, self.backend.languages, self.backend.model_name, text)


def _evidence_quoting(result: TagResult, text: str, copy: Compacted) -> TagResult:
    """Evidence read from a text's HTML-free ``copy``, quoting the text itself (its offsets mapped
    back over the copy's shortened blank runs, an entity the sentence ends on quoted whole)."""
    def quoted(evidence: Evidence) -> Evidence:
        start, end = markup.whole_entities(text, copy.original(evidence.start), copy.original(evidence.end))
        return replace(evidence, start=start, end=end, text=text[start:end])

    topics = tuple(replace(t, evidence=tuple(quoted(e) for e in t.evidence)) for t in result.topics)
    return replace(result, topics=topics)
