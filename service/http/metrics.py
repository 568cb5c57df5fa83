"""Prometheus metrics, correct with several gunicorn workers.

Under gunicorn, ``gunicorn.conf.py`` sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers
start; each worker's values then go to files there and ``/metrics`` sums them across
workers. Without it (tests, the Flask dev server) one process's registry is exposed.
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CUSTOM_LABEL = "(caller labels)"  # one series for all labels given per request: bounded cardinality


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        # A registry per app, so tests can build many apps in one process.
        self.registry = CollectorRegistry()
        self.requests = Counter("newstag_requests", "HTTP requests by endpoint, method and status",
                                ["endpoint", "method", "status"], registry=self.registry)
        self.latency = Histogram("newstag_request_duration_seconds", "Request latency by endpoint",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.documents = Counter("newstag_documents", "Documents tagged", registry=self.registry)
        self.tokens = Counter("newstag_tokens", "Tokens read by the model", registry=self.registry)
        self.topics = Counter("newstag_topics", "Topics returned, by label (caller labels pooled)",
                              ["label"], registry=self.registry)

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
