"""Request ids, one JSON log line per request, and request metrics.

The log line has the time, request id, method, path, status, latency and document count:
never the article text, never the API key.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import Rule

from .metrics import OTHER, UNMATCHED, Metrics

log = logging.getLogger("newstag.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# HTTP's methods; any other token a client sends counts as OTHER, so callers cannot add series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"})


def _configure_logger() -> None:
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def _endpoint() -> str:
    """The route a request is counted under: its rule (``/v1/taxonomies/<name>``), never its path.

    A method the route does not allow (405) leaves no rule on the request, but its path did
    match a route: the route is looked up again with a method it allows. Paths that match no
    route share UNMATCHED, so callers cannot add series.
    """
    if request.url_rule is not None:
        return request.url_rule.rule
    failed = request.routing_exception
    adapter = current_app.create_url_adapter(request)
    if not (isinstance(failed, MethodNotAllowed) and failed.valid_methods and adapter is not None):
        return UNMATCHED
    try:
        rule, _ = adapter.match(method=sorted(failed.valid_methods)[0], return_rule=True)
    except HTTPException:
        return UNMATCHED
    return rule.rule if isinstance(rule, Rule) else UNMATCHED


def init_app(app: Flask) -> None:
    _configure_logger()

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        g.documents = 0

    @app.after_request
    def _finish(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers["X-Request-ID"] = request_id
        endpoint = _endpoint()
        metrics: Metrics = current_app.extensions["newstag.metrics"]
        method = request.method if request.method in _METHODS else OTHER  # any token is a method to gunicorn
        metrics.requests.labels(endpoint, method, str(response.status_code)).inc()
        if g.get("problem"):
            metrics.observe_problem(endpoint, g.problem)
        metrics.latency.labels(endpoint).observe(elapsed)
        log.info(json.dumps({
            # First, in UTC: lines collected without the collector's own stamp still say when.
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "request_id": request_id, "method": request.method, "path": request.path,
            "status": response.status_code, "latency_ms": round(elapsed * 1000, 1),
            "documents": g.get("documents", 0),
        }))
        return response
