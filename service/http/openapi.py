"""The OpenAPI 3.1 document, built from the same pydantic models that validate requests,
and the /docs pages (Swagger UI files served from the swagger-ui-py wheel: no CDN)."""

from __future__ import annotations

from html import escape
from typing import Any

from flask import Blueprint, abort, current_app, send_from_directory
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from swagger_ui.utils import SWAGGER_UI_PY_ROOT

from .. import __version__
from ..config import Settings
from ..engine.validation import MARKUP_ALLOWANCE
from .feedback_schemas import SELECTION_PARAMETERS, FeedbackCreated, FeedbackRequest, FeedbackStats, TrainingRow
from .problems import ALL_PROBLEMS, PROBLEM_JSON, NotReady, Overloaded, Problem, StoreUnavailable, TooMuchToTag
from .schemas import (
    DocumentsRequest,
    DocumentsResponse,
    ModelList,
    ProblemOut,
    TaxonomyDetail,
    TaxonomyList,
    TextRequest,
    TextResponse,
)

bp = Blueprint("docs", __name__)
SWAGGER_FILES = {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"}
_REQUESTS: list[type[BaseModel]] = [TextRequest, DocumentsRequest, FeedbackRequest]
_RESPONSES: list[type[BaseModel]] = [TextResponse, DocumentsResponse, TaxonomyList, TaxonomyDetail, ModelList,
                                     FeedbackCreated, FeedbackStats, TrainingRow, ProblemOut]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(schema: dict[str, Any], description: str, media: str = "application/json") -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": schema}}}


# Several problems share a status (503): each operation names only those it can answer.
_MODEL_PROBLEMS = tuple(p for p in ALL_PROBLEMS if p is not StoreUnavailable)
_STORE_PROBLEMS = tuple(p for p in ALL_PROBLEMS if p not in (Overloaded, NotReady, TooMuchToTag))


def _problems(*statuses: int, kinds: tuple[type[Problem], ...] = _MODEL_PROBLEMS) -> dict[str, Any]:
    def title(status: int) -> str:
        return " or ".join(dict.fromkeys(p.title for p in kinds if p.status == status)) or "Error"

    out = {str(s): _json(_ref(ProblemOut), title(s), PROBLEM_JSON) for s in statuses}
    if "503" in out:  # a 503 that a retry can cure says when to try again
        out["503"]["headers"] = {"Retry-After": {"description": "seconds to wait before retrying",
                                                 "schema": {"type": "integer", "minimum": 1}}}
    return out


def _array(schema: dict[str, Any]) -> dict[str, Any]:
    """The array schema in a field's schema (``anyOf: [array, null]`` for an optional one)."""
    return next(s for s in [schema, *schema.get("anyOf", [])] if s.get("type") == "array")


def _with_limits(schemas: dict[str, Any], settings: Settings) -> None:
    """The engine's limits, which are settings (NEWSTAG_MAX_*), not part of the pydantic models."""
    for name in ("TextRequest", "Document", "FeedbackRequest"):
        # HTML counts the characters it shows, up to MARKUP_ALLOWANCE times the limit with its markup:
        # the schema can only state the outer bound.
        schemas[name]["properties"]["text"]["maxLength"] = MARKUP_ALLOWANCE * settings.max_text_chars
        schemas[name]["properties"]["text"]["description"] = (
            f"Plain text of at most {settings.max_text_chars} characters, or HTML (a whole page as scraped, "
            f"a fragment, an RSS summary) showing at most that many, {MARKUP_ALLOWANCE} times that with its markup.")
    for name, field in (("TextRequest", "labels"), ("DocumentsRequest", "labels"), ("FeedbackRequest", "labels"),
                        ("FeedbackRequest", "predicted")):
        array = _array(schemas[name]["properties"][field])
        # What the engine checks beyond the types: one label at least (predicted may be empty),
        # and no label twice, where case and Unicode form do not make two labels.
        array.update(maxItems=settings.max_labels, uniqueItems=True, minItems=0 if field == "predicted" else 1)
    _array(schemas["DocumentsRequest"]["properties"]["documents"])["maxItems"] = settings.max_documents


def build_spec(settings: Settings | None = None) -> dict[str, Any]:
    """The document, with the limits of ``settings`` (default: the defaults)."""
    modes = [(m, "validation") for m in _REQUESTS] + [(m, "serialization") for m in _RESPONSES]
    _, top = models_json_schema(modes, ref_template="#/components/schemas/{model}")  # type: ignore[arg-type]
    _with_limits(top["$defs"], settings or Settings.from_env({}))
    paths = {**_tagging_paths(), **_feedback_paths(), **_ops_paths()}
    for operations in paths.values():
        for operation in operations.values():
            operation["responses"]["default"] = _json(_ref(ProblemOut), _OTHER_ERRORS, PROBLEM_JSON)
    return {
        "openapi": "3.1.0",
        "info": {"title": "newstag", "version": __version__,
                 "description": "Topic tagging for news: topics with scores, taxonomy codes and evidence "
                                "sentences. Errors are RFC 9457 problem details; see /docs/problems."},
        "paths": paths,
        "components": {"schemas": top["$defs"],
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


# Every route answers these as problems too; no operation lists them one by one.
_OTHER_ERRORS = ("Any other error, as a problem: 405 for a method the path does not allow (with an Allow header), "
                 "500 for a fault of the service")
_SECURED: list[dict[str, list[str]]] = [{}, {"bearer": []}]  # the key is needed only when NEWSTAG_API_KEYS is set
_OPS_ERRORS = (401, 403, 503)


def _tagging_paths() -> dict[str, Any]:
    return {
        "/v1/classify": {"post": {
            "summary": "Tag one text or a batch of documents",
            "security": _SECURED,
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"oneOf": [_ref(TextRequest), _ref(DocumentsRequest)]}}}},
            "responses": {"200": _json({"oneOf": [_ref(TextResponse), _ref(DocumentsResponse)]},
                                       "Topics, in request order for documents"),
                          **_problems(400, 404, 408, 413, 415, 422, *_OPS_ERRORS)},
        }},
        "/v1/taxonomies": {"get": {"summary": "List taxonomies", "security": _SECURED,
                                   "responses": {"200": _json(_ref(TaxonomyList), "Taxonomies"),
                                                 **_problems(401, 403)}}},
        "/v1/taxonomies/{name}": {"get": {
            "summary": "One taxonomy with its topics", "security": _SECURED,
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": _json(_ref(TaxonomyDetail), "The taxonomy"), **_problems(401, 403, 404)}}},
        "/v1/models": {"get": {"summary": "Loaded models", "security": _SECURED,
                               "responses": {"200": _json(_ref(ModelList), "Models"), **_problems(401, 403)}}},
        "/v1/models/reload": {"post": {
            "summary": "Rescan NEWSTAG_MODELS_DIR in every worker (needs an admin key)",
            "security": [{"bearer": []}],
            "responses": {"200": _json(_ref(ModelList), "Models after the rescan"),
                          **_problems(401, 403, 503)}}},
    }


_TAXONOMY_PARAMETER = {"name": "taxonomy", "in": "query", "required": False,
                       "description": "only the corrections of this installed taxonomy (empty: the typed labels, "
                                      "taxonomy null): one label set; a taxonomy not installed is a 404",
                       "schema": {"type": "string"}}


def _feedback_paths() -> dict[str, Any]:
    return {
        "/v1/feedback": {"post": {
            "summary": "Store an editor's correction of a text's topics",
            "description": "The same text corrected again replaces its current labels; earlier corrections "
                           "are kept as history. Answered only once the correction is committed.",
            "security": _SECURED,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(FeedbackRequest)}}},
            "responses": {"201": _json(_ref(FeedbackCreated), "Stored"),
                          **_problems(400, 401, 403, 408, 413, 415, 422, 503, kinds=_STORE_PROBLEMS)}}},
        "/v1/feedback/export": {"get": {
            "summary": "Each text's current correction, as training data",
            "description": "One JSON object per line, the schema `python -m training.finetune --train` "
                           "reads; each line is a TrainingRow.",
            "security": _SECURED,
            "parameters": [{"name": "format", "in": "query", "required": False,
                            "schema": {"type": "string", "enum": ["jsonl"], "default": "jsonl"}},
                           _TAXONOMY_PARAMETER, *SELECTION_PARAMETERS],
            "responses": {"200": {"description": "JSONL, one TrainingRow per line", "content": {
                "application/x-ndjson": {"schema": {"type": "string"}, "x-line-schema": _ref(TrainingRow)}}},
                          **_problems(401, 403, 404, 422, 503, kinds=_STORE_PROBLEMS)}}},
        "/v1/feedback/stats": {"get": {
            "summary": "Counts per label, and how often editors changed the model's prediction",
            "security": _SECURED,
            "parameters": [_TAXONOMY_PARAMETER, *SELECTION_PARAMETERS],
            "responses": {"200": _json(_ref(FeedbackStats), "Counts over current corrections"),
                          **_problems(401, 403, 404, 422, 503, kinds=_STORE_PROBLEMS)}}},
    }


def _ops_paths() -> dict[str, Any]:
    return {
        "/": {"get": {"summary": "The editor's page (HTML; its script calls the API with the key typed in it)",
                      "responses": {"200": {"description": "The page", "content": {"text/html": {
                          "schema": {"type": "string"}}}}}}},
        "/healthz": {"get": {"summary": "Liveness", "responses": {"200": _json(
            {"type": "object", "properties": {"status": {"const": "ok"}}, "required": ["status"]}, "Alive")}}},
        "/readyz": {"get": {"summary": "Readiness: the model is loaded and warmed up", "responses": {
            "200": _json({"type": "object", "properties": {"status": {"const": "ready"},
                                                           "model": {"type": "string"}},
                          "required": ["status", "model"]}, "Ready"),
            **_problems(503, kinds=(NotReady,))}}},
        "/metrics": {"get": {"summary": "Prometheus metrics (keep behind the network edge)", "responses": {
            "200": {"description": "Prometheus text format", "content": {"text/plain": {
                "schema": {"type": "string"}}}}}}},
    }


@bp.get("/openapi.json")
def openapi() -> dict[str, Any]:
    spec = current_app.extensions.get("newstag.openapi")
    if spec is None:
        spec = current_app.extensions["newstag.openapi"] = build_spec(current_app.config["NEWSTAG_SETTINGS"])
    return spec


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>newstag API</title>
<link rel="icon" href="/docs/static/favicon-32x32.png">
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><p style="font-family:sans-serif;margin:1em 2em">Errors: <a href="/docs/problems">problem types</a></p>
<div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  validatorUrl: null, presets: [SwaggerUIBundle.presets.apis]});
</script></body></html>"""


@bp.get("/docs")
@bp.get("/docs/")  # people type it with the slash; the page's links are absolute
def docs_page() -> str:
    return _PAGE


@bp.get("/docs/problems")
def problems_page() -> str:
    rows = "".join(
        f'<tr id="{p.slug}"><td>{p.status}</td><td><code>/docs/problems#{p.slug}</code></td>'
        f"<td>{escape(p.title)}</td></tr>" for p in ALL_PROBLEMS)
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>newstag problem types</title></head>"
            "<body style='font-family:sans-serif'><h1>Problem types</h1><p>Every error is "
            "<code>application/problem+json</code> (RFC 9457) with type, title, status and detail; validation "
            "errors add <code>errors</code>, each with the <code>path</code> of a bad field: a JSON pointer into "
            "the body (<code>/documents/0/text</code>), or a query parameter's name (<code>since</code>).</p>"
            f"<table><tr><th>status</th><th>type</th><th>title</th></tr>{rows}</table></body></html>")


@bp.get("/docs/static/<path:filename>")
def swagger_static(filename: str):
    if filename not in SWAGGER_FILES:
        abort(404)
    return send_from_directory(SWAGGER_UI_PY_ROOT / "static", filename, max_age=86400)
