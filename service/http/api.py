"""The /v1 API: classify, taxonomies, models. Views validate, call the Tagger, shape the answer."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, current_app, g

from ..config import Settings
from ..engine import Tagger, TagResult
from ..engine.routing import model_out, served_by
from ..errors import InvalidInputError
from .auth import protect, require_admin
from .body import json_body
from .metrics import CUSTOM_LABEL, MODEL_LABELS, Metrics
from .parsing import engine_errors, parse_classify
from .problems import ValidationFailed
from .runtime import TaggerRuntime
from .schemas import DocumentsRequest, TextRequest

bp = Blueprint("v1", __name__, url_prefix="/v1")
protect(bp)


def _runtime() -> TaggerRuntime:
    return current_app.extensions["newstag.runtime"]


def _settings() -> Settings:
    return current_app.config["NEWSTAG_SETTINGS"]


@bp.post("/classify")
def classify() -> dict[str, Any]:
    runtime = _runtime()
    body = parse_classify(json_body(), runtime.options.tagger)
    texts = [body.text] if isinstance(body, TextRequest) else [d.text for d in body.documents]
    g.documents = len(texts)
    labels = body.engine_labels()

    def tag(deadline: float) -> tuple[Tagger, list[TagResult]]:
        # Behind the queue limit, waiting for a model still loading included: a flood at start
        # is refused at once instead of holding every thread (and /healthz with them).
        tagger = runtime.get(body.model, deadline)
        return tagger, tagger.tag(texts, labels, taxonomy=body.taxonomy, multi_label=body.multi_label,
                                  threshold=body.threshold, top_k=body.top_k, evidence=body.evidence,
                                  deadline=deadline)

    runtime.apply_reloads()  # another worker's reload: before the time limit starts
    try:
        tagger, results = runtime.run(tag)
    except InvalidInputError as exc:  # what only the model can tell: its labels, duplicates, the taxonomy
        raise ValidationFailed(str(exc), errors=engine_errors(exc, isinstance(body, TextRequest))) from None
    taxonomy = results[0].taxonomy  # the one the Tagger chose; None for caller labels or a model's own
    metrics: Metrics = current_app.extensions["newstag.metrics"]
    label_set = taxonomy or (CUSTOM_LABEL if labels is not None else MODEL_LABELS)

    def names() -> list[str]:  # read only the first time a process tags with this label set
        return ([lab.name for lab in runtime.taxonomies.get(taxonomy).labels] if taxonomy is not None
                else [lab.name for lab in tagger.fixed_labels or ()] if labels is None else [])

    for name in dict.fromkeys(r.model for r in results):  # per model that tagged (routing by language)
        metrics.observe_tags([r for r in results if r.model == name], name, label_set, names)
    served = served_by(tagger)
    if isinstance(body, DocumentsRequest):
        return {"results": [{"id": d.id, **r.to_dict(), "model": served[r.model]}
                            for d, r in zip(body.documents, results, strict=True)],
                "model": model_out(tagger), "taxonomy": taxonomy}
    return {**results[0].to_dict(), "model": served[results[0].model], "taxonomy": taxonomy}


@bp.get("/taxonomies")
def taxonomies() -> dict[str, Any]:
    default = _settings().taxonomy
    return {"taxonomies": [
        {"name": t.name, "title": t.title, "description": t.description, "topics": len(t.labels),
         "default": t.name == default}
        for t in _runtime().taxonomies
    ]}


@bp.get("/taxonomies/<name>")
def taxonomy(name: str) -> dict[str, Any]:
    found = _runtime().taxonomies.get(name)  # UnknownTaxonomyError -> 404
    return {
        "name": found.name, "title": found.title, "description": found.description, "threshold": found.threshold,
        "sentence_topics": found.sentence_topics, "at_least_one_topic": found.at_least_one_topic,
        "topics": [{"name": lab.name, "description": lab.description, "keywords": list(lab.keywords),
                    "code": lab.code, "parent": lab.parent, "threshold": lab.threshold,
                    "yields_to": list(lab.yields_to), "ruled_out_by": list(lab.ruled_out_by)} for lab in found.labels],
    }


def _model_list(runtime: TaggerRuntime) -> list[dict[str, Any]]:
    out = []
    for name, tagger in runtime.taggers().items():
        fixed, metrics = tagger.fixed_labels, tagger.backend.validation_metrics
        backend = tagger.backend
        # What actually runs it: auto settings, a graph that could not be exported, resolve per model.
        out.append({**model_out(tagger), "default": name == runtime.default_name, "ready": True,
                    "runtime": getattr(backend, "runtime", "torch"), "precision": backend.precision,
                    "labels": [lab.name for lab in fixed] if fixed is not None else None,
                    "metrics": _headline_metrics(metrics) if metrics is not None else None})
    return out


def _headline_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The headline numbers of a model's metrics.json; one that is not a finite number is left
    out: NaN or Infinity (Python's JSON reads them, 1e999 too) answered as bare tokens that
    strict JSON parsers refuse, and the whole listing with them. ``examples`` and
    ``labels_with_examples`` say what the figures rest on (a macro-F1 of 1.0 over 8 articles)."""
    keys = ("micro_f1", "macro_f1", "hamming_loss", "subset_accuracy", "accuracy", "examples", "labels_with_examples")
    out = {}
    for k in keys:
        value = metrics.get(k)
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                number = float(value)  # an integer of 400 digits is too large for a float: left out
            except OverflowError:
                continue
            if math.isfinite(number):
                out[k] = value if isinstance(value, int) else number  # counts stay whole numbers
    return out


# The key of GET /v1/models' errors that says why the default model failed to load.
DEFAULT_MODEL_ERROR = "(default model)"


@bp.get("/models")
def models() -> dict[str, Any]:
    runtime = _runtime()
    # An empty list read as "no model" for the minute a large model loads (a helper's audit);
    # one that failed to load said "loading" for ever (outside gunicorn, which stops then).
    failed = runtime.error if not runtime.ready else None
    errors = {**runtime.model_errors, **({DEFAULT_MODEL_ERROR: failed} if failed else {})}
    return {"models": _model_list(runtime), "errors": errors, "loading": not runtime.ready and not failed}


@bp.post("/models/reload")
def reload_models() -> dict[str, Any]:
    require_admin()
    runtime = _runtime()
    runtime.get(None)  # 503 until the default model is ready
    errors = runtime.reload()
    return {"models": _model_list(runtime), "errors": errors, "loading": False}
