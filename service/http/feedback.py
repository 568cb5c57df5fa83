"""/v1/feedback: store an editor's correction, export corrections as training data, stats.

Thin views over :class:`service.feedback.FeedbackStore`; API keys apply as on the rest of /v1.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from ..config import Settings
from ..engine.routing import model_out
from ..feedback import Correction, FeedbackStore, Rows, Selection
from ..feedback import StoreUnavailable as StoreError
from .auth import protect
from .body import json_body
from .feedback_schemas import LoadedModel, parse_feedback
from .metrics import Metrics
from .problems import NotFound, StoreUnavailable, ValidationFailed, problem_response
from .runtime import TaggerRuntime

bp = Blueprint("feedback", __name__, url_prefix="/v1/feedback")
protect(bp)
log = logging.getLogger("newstag.feedback")
JSONL = "application/x-ndjson"


def init_app(app: Flask, settings: Settings) -> None:
    # The store opens its database on first use, so start-up never waits on it.
    app.extensions["newstag.feedback"] = FeedbackStore(settings.database_url)


def _store() -> FeedbackStore:
    return current_app.extensions["newstag.feedback"]


@bp.errorhandler(StoreError)
def _unavailable(exc: StoreError) -> Response:
    # A write whose commit was not confirmed may still have landed: sending it again is safe,
    # since a text's newest correction is the one that counts (the history keeps both).
    if exc.lasting:  # misconfigured: a retry cannot help, so no Retry-After either
        return problem_response(StoreUnavailable(str(exc)))
    again = (" (sending a correction again is safe: a text's newest correction replaces the one before)"
             if request.method == "POST" else "")  # an export or the stats sent none
    return problem_response(StoreUnavailable(f"{exc}; retry shortly{again}", headers={"Retry-After": "5"}))


@bp.post("")
def create() -> tuple[dict[str, Any], int]:
    runtime: TaggerRuntime = current_app.extensions["newstag.runtime"]
    if not runtime.ready and runtime.error is None:
        # As a classify request does: a worker still loading would store the correction with a
        # model-not-loaded warning and count it under "(other)", out of its model's change rate.
        runtime.wait_ready(runtime.settings.request_timeout)
    models = _models(runtime)
    # Editors' work is never refused for the service's state: a model that is not loaded
    # (still loading, removed, renamed, retrained since) is stored with a warning.
    correction, warnings = parse_feedback(json_body(), current_app.config["NEWSTAG_SETTINGS"], runtime.taxonomies,
                                          models or None)
    stored = _store().add(correction)  # returns only after the commit
    _count(correction, runtime, models)
    return {"id": stored, "warnings": warnings}, 201


def _models(runtime: TaggerRuntime) -> dict[str, LoadedModel]:
    """The loaded models by name: their own labels (None for a zero-shot model) and version."""
    return {name: LoadedModel(tuple(lab.name for lab in tagger.fixed_labels) if tagger.fixed_labels is not None
                              else None, model_out(tagger)["version"])
            for name, tagger in runtime.taggers().items()}


def _count(correction: Correction, runtime: TaggerRuntime, models: dict[str, LoadedModel]) -> None:
    metrics: Metrics = current_app.extensions["newstag.metrics"]
    topics = ([lab.name for lab in runtime.taxonomies.get(correction.taxonomy).labels]
              if correction.taxonomy is not None else None)  # parse_feedback checked that it exists
    metrics.observe_correction(correction, topics, {name: model.labels for name, model in models.items()})


def _lines(rows: Rows) -> Iterator[str]:
    """The rows as JSON lines."""
    try:
        for row in rows:
            yield json.dumps(row.training_row(), ensure_ascii=False) + "\n"
    except StoreError:
        # The status line is already sent. Raising makes the server drop the connection
        # before the chunked body's end, so the client sees a broken download, not a
        # shorter file that looks complete.
        log.error("the feedback export stopped early; the download is cut off")
        raise


def _query(allowed: set[str]) -> None:
    unknown = sorted(set(request.args) - allowed)
    if unknown:  # e.g. ?taxnomy=news: ignoring a typo would export every label set
        raise ValidationFailed(f"unknown query parameter(s): {', '.join(unknown)}",
                               errors=[{"path": name, "message": "not a parameter of this endpoint"}
                                       for name in unknown])
    repeated = sorted(name for name in request.args if len(request.args.getlist(name)) > 1)
    if repeated:  # ?taxonomy=a&taxonomy=b would export a alone, silently
        raise ValidationFailed(f"query parameter(s) given more than once: {', '.join(repeated)}",
                               errors=[{"path": name, "message": "give it once"} for name in repeated])


def _moment(value: str) -> datetime:
    """An ISO 8601 date or date-time, in UTC (without an offset, it is UTC)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        # The '+' of an offset typed into a URL unencoded arrives as a space ("...T08:00 01:00").
        moment = datetime.fromisoformat(re.sub(r" (\d\d(:?\d\d)?)$", r"+\1", value))
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _selection() -> Selection:
    """?taxonomy=, ?model= and ?since= as a Selection (the query parameters were checked by _query)."""
    since = None
    if "since" in request.args:
        try:
            since = _moment(request.args["since"])
        except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC, 9999-12-31T23:00-02:00 after 9999
            raise ValidationFailed("since is out of range", errors=[{
                "path": "since", "message": "in UTC it falls outside the years 1 to 9999"}]) from None
        except ValueError:
            raise ValidationFailed("since is not an ISO 8601 date and time", errors=[{
                "path": "since", "message": "an ISO 8601 date and time, such as 2026-03-01 or "
                                           "2026-03-01T08:00:00+01:00 (without an offset: UTC)"}]) from None
    # One taxonomy's corrections (?taxonomy= with no value: the typed labels): one label set to
    # train on; without it every label set is exported (and counted) together, each row naming its own.
    taxonomy = request.args.get("taxonomy") or None
    installed = current_app.extensions["newstag.runtime"].taxonomies.names()
    if taxonomy is not None and taxonomy not in installed:
        # A typo would otherwise be an empty training file. Corrections under a taxonomy since
        # removed are in the export without the parameter, each row naming its taxonomy.
        raise NotFound(f"no taxonomy named {taxonomy!r} (installed: {', '.join(sorted(installed))}); "
                       "corrections under a removed taxonomy are in the export without ?taxonomy=")
    # ?model= with no value: the corrections that named no model (as ?taxonomy= gives the typed labels).
    model = request.args.get("model") or None
    if model is not None and model not in current_app.extensions["newstag.runtime"].taggers():
        # A typo would otherwise be an empty file; a model since removed is still named by its corrections.
        named = _store().models()
        if model not in named:
            raise NotFound(f"no correction names model {model!r} and no model of that name is loaded "
                           f"(corrections name: {', '.join(named) or 'none'})")
    return Selection(by_model="model" in request.args, model=model, since=since,
                     by_taxonomy="taxonomy" in request.args, taxonomy=taxonomy)


@bp.get("/export")
def export() -> Response:
    _query({"format", "taxonomy", "model", "since"})
    fmt = request.args.get("format", "jsonl")
    if fmt != "jsonl":
        raise ValidationFailed(f"unsupported export format {fmt!r}",
                               errors=[{"path": "format", "message": "only 'jsonl' is supported"}])
    rows = _store().current(_selection())  # raises StoreUnavailable before any byte is sent
    response = Response(_lines(rows), mimetype=JSONL,
                        headers={"Content-Disposition": 'attachment; filename="feedback.jsonl"',
                                 "Cache-Control": "no-store"})
    response.call_on_close(rows.close)  # also when the body is never read
    return response


@bp.get("/stats")
def stats() -> dict[str, Any]:
    _query({"model", "since", "taxonomy"})
    return _store().stats(_selection())

