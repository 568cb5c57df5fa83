"""Prometheus metrics, correct with several gunicorn workers.

Under gunicorn, ``gunicorn.conf.py`` sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers
start; each worker's values then go to files there and ``/metrics`` sums them across
workers. Without it (tests, the Flask dev server) one process's registry is exposed.
Only counters and histograms: they add up across workers, where a gauge would need a
multi-process mode chosen for it.

Every label value comes from a closed set, so the number of series stays bounded
whatever callers send: model names are the loaded models' (others are pooled into
``OTHER``), topic labels a taxonomy's or a fine-tuned model's own (labels a caller types
are pooled into ``CUSTOM_LABEL``), languages those in ``LANGUAGES`` (others are ``OTHER``).
docs/monitoring.md lists every metric.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from ..engine import TagResult
from ..feedback import Correction
from ..feedback.stats import NO_MODEL
from .problems import ALL_PROBLEMS

# Past the default request timeout (30 s): requests that run out of time end just after it
# and must land in a bucket, not only in +Inf; 20 s for the stretch between 10 s and that.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
CUSTOM_LABEL = "(caller labels)"  # one series for all labels given per request: bounded cardinality
MODEL_LABELS = "(model labels)"  # the label set of a fine-tuned model, which has no taxonomy
OTHER = "(other)"  # a model that is not loaded, a language not in LANGUAGES
UNMATCHED = "unmatched"  # the endpoint of a request whose path matches no route
# Languages reported by name: the widely published news languages (ISO 639-1), and "und"
# (undetermined). The detector knows about 100; the rest share one series.
# The problem types the app answers with (problems.py): the slug of each problem's "type".
PROBLEM_TYPES = frozenset(problem.slug for problem in ALL_PROBLEMS)
LANGUAGES = frozenset(
    "en fr de es it pt nl sv da no fi pl cs sk hu ro bg el ru uk tr ar fa he hi bn ur ta te mr id ms vi th "
    "zh ja ko sw az ka hy kk uz sr hr und".split())


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        # A registry per app, so tests can build many apps in one process.
        self.registry = registry = CollectorRegistry()
        self.requests = Counter("newstag_requests", "HTTP requests by endpoint, method and status",
                                ["endpoint", "method", "status"], registry=registry)
        # Which error a request got: one status can be several problems (413 is a body over the
        # limit, payload-too-large, or a request that alone needs more than the time limit,
        # too-much-to-tag), and the alerts must tell them apart.
        self.problems = Counter("newstag_request_problems", "Requests answered with a problem, by endpoint and "
                                "problem type", ["endpoint", "problem"], registry=registry)
        self.latency = Histogram("newstag_request_duration_seconds", "Request latency by endpoint",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=registry)
        self.documents = Counter("newstag_documents", "Documents tagged", registry=registry)
        self.tokens = Counter("newstag_tokens", "Tokens read by the model", registry=registry)
        self.topics = Counter("newstag_topics", "Topics returned, by label (caller labels pooled)",
                              ["label"], registry=registry)
        # What the tags are: the shares and scores whose drift the alerting rules watch.
        self.articles = Counter("newstag_articles", "Articles tagged, by model and label set",
                                ["model", "taxonomy"], registry=registry)
        self.label_articles = Counter(
            "newstag_label_articles", "Articles given each label, by model and label set (caller labels pooled)",
            ["model", "taxonomy", "label"], registry=registry)
        self.no_topic = Counter("newstag_no_topic_articles", "Articles that got no topic, by model and label set",
                                ["model", "taxonomy"], registry=registry)
        self.top_score = Histogram("newstag_top_score", "Highest topic score of each article that got a topic",
                                   ["model", "taxonomy"], buckets=SCORE_BUCKETS, registry=registry)
        self.languages = Counter("newstag_article_languages", "Articles tagged, by detected language",
                                 ["language"], registry=registry)
        self.warnings = Counter("newstag_article_warnings", "Articles tagged with a warning, by warning code",
                                ["code"], registry=registry)
        # Editors' corrections (POST /v1/feedback), counted when stored.
        self.corrections = Counter("newstag_feedback_corrections", "Corrections stored, by model and label set",
                                   ["model", "taxonomy"], registry=registry)
        self.reviewed = Counter("newstag_feedback_reviewed", "Corrections sent with the model's prediction",
                                ["model"], registry=registry)
        self.changed = Counter("newstag_feedback_changed", "Reviewed corrections that changed the model's labels",
                               ["model"], registry=registry)
        self.added = Counter("newstag_feedback_labels_added", "Labels editors added to the model's prediction",
                             ["model", "taxonomy", "label"], registry=registry)
        self.removed = Counter("newstag_feedback_labels_removed", "Labels editors removed from the model's prediction",
                               ["model", "taxonomy", "label"], registry=registry)
        self._zeroed: set[tuple[str, str]] = set()  # (model, label set) whose label series exist

    def observe_problem(self, endpoint: str, slug: str) -> None:
        """Count a request answered with the problem ``slug`` (a Problem's, never a caller's)."""
        self.problems.labels(endpoint, slug if slug in PROBLEM_TYPES else OTHER).inc()

    def observe_tags(self, results: list[TagResult], model: str, label_set: str,
                     labels: Callable[[], Iterable[str]] = tuple) -> None:
        """Count one call's results: ``label_set`` is a taxonomy's name, MODEL_LABELS or CUSTOM_LABEL,
        and ``labels()`` every label it has (a taxonomy's topics, a fine-tuned model's own labels),
        asked for only the first time this process tags with the label set."""
        self._zero_series(model, label_set, labels)
        self.documents.inc(len(results))
        self.tokens.inc(sum(r.tokens for r in results))
        self.articles.labels(model, label_set).inc(len(results))
        pooled = label_set == CUSTOM_LABEL
        for result in results:
            for topic in result.topics:
                # newstag_topics pools a fine-tuned model's labels too, as it always has.
                self.topics.labels(CUSTOM_LABEL if pooled or label_set == MODEL_LABELS else topic.label).inc()
            # Articles, not topics: a caller's labels are pooled under one name, and an article given
            # four of them counted four (its "share of articles" passed 1 and the drift alert's z went NaN).
            for label in {CUSTOM_LABEL if pooled else t.label for t in result.topics}:
                self.label_articles.labels(model, label_set, label).inc()
            if result.topics:
                self.top_score.labels(model, label_set).observe(max(t.score for t in result.topics))
            else:
                self.no_topic.labels(model, label_set).inc()
            self.languages.labels(result.language if result.language in LANGUAGES else OTHER).inc()
            for code in {w.code for w in result.warnings}:  # warning codes are the engine's own, a closed set
                self.warnings.labels(code).inc()

    def _zero_series(self, model: str, label_set: str, labels: Callable[[], Iterable[str]]) -> None:
        """The first time this process tags with a model and label set, every label's series
        (and the no-topic one) is made at 0. A series appears only once counted, so a label no
        article got since a restart had none: its share over the last hour was absent instead
        of 0, and a label that stopped being given across a rolling update never alerted."""
        if (model, label_set) in self._zeroed:
            return
        self._zeroed.add((model, label_set))
        self.articles.labels(model, label_set)
        self.no_topic.labels(model, label_set)
        names = [CUSTOM_LABEL] if label_set == CUSTOM_LABEL else labels()  # caller labels are pooled
        for label in names:
            self.label_articles.labels(model, label_set, label)

    def observe_correction(self, correction: Correction, taxonomy_labels: Iterable[str] | None,
                           models: Mapping[str, Iterable[str] | None]) -> None:
        """Count a stored correction.

        Args:
            correction: as stored.
            taxonomy_labels: the topics of the correction's taxonomy (None when it has none).
            models: loaded models by name, each with its fixed labels (None for zero-shot ones).
        """
        model = NO_MODEL if correction.model is None else correction.model if correction.model in models else OTHER
        fixed = models.get(correction.model) if correction.model is not None else None
        if correction.taxonomy is not None:
            label_set, known = correction.taxonomy, set(taxonomy_labels or ())
        elif fixed is not None:
            label_set, known = MODEL_LABELS, set(fixed)
        else:
            label_set, known = CUSTOM_LABEL, set()
        self.corrections.labels(model, label_set).inc()
        if correction.predicted is None:
            return
        self.reviewed.labels(model).inc()
        if correction.changed:
            self.changed.labels(model).inc()
        for label in set(correction.labels) - set(correction.predicted):
            self.added.labels(model, label_set, label if label in known else CUSTOM_LABEL).inc()
        for label in set(correction.predicted) - set(correction.labels):
            self.removed.labels(model, label_set, label if label in known else CUSTOM_LABEL).inc()

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
