"""Liveness, readiness and metrics: open without an API key (keep /metrics behind the edge)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from .problems import NotReady

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> dict[str, str]:
    runtime = current_app.extensions["newstag.runtime"]
    if not runtime.ready:
        raise NotReady(runtime.error or "the model is still loading", headers={"Retry-After": "5"})
    return {"status": "ready", "model": runtime.default_name}


@bp.get("/metrics")
def metrics() -> Response:
    exporter = current_app.extensions["newstag.metrics"]
    # content_type, not mimetype: werkzeug would drop the format version that scrapers read.
    return Response(exporter.exposition(), content_type=exporter.content_type)
