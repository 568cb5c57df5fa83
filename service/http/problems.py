"""The closed set of API errors, each with one status code, rendered as RFC 9457 problems.

Every error a client can see is a :class:`Problem` subclass (or an engine error mapped
to one in ``ENGINE_ERRORS``), and one handler renders them all as
``application/problem+json``. Unexpected exceptions become a 500 without internals.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, has_request_context, json
from werkzeug.exceptions import HTTPException

from ..errors import InvalidInputError, NewstagError, UnknownTaxonomyError

PROBLEM_JSON = "application/problem+json"
MAX_ERRORS = 100  # field errors listed in one 422
log = logging.getLogger("newstag.http")


class Problem(Exception):
    status = 500
    slug = "internal-error"
    title = "Internal server error"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": f"/docs/problems#{self.slug}", "title": self.title,
                                "status": self.status, "detail": self.detail}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


class MalformedJSON(Problem):
    status, slug, title = 400, "malformed-json", "Malformed JSON"


class Unauthorized(Problem):
    status, slug, title = 401, "unauthorized", "API key required"


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", "API key not accepted"


class NotFound(Problem):
    status, slug, title = 404, "not-found", "Not found"


class MethodNotAllowed(Problem):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"


class RequestTimeout(Problem):
    status, slug, title = 408, "request-timeout", "Request body too slow"


class PayloadTooLarge(Problem):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class TooMuchToTag(Problem):
    # The request alone needed more than the time limit: retrying the same request cannot help.
    status, slug, title = 413, "too-much-to-tag", "Request too large to tag within the time limit"


class UnsupportedMediaType(Problem):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class RangeNotSatisfiable(Problem):
    # Static files (the editor's page, Swagger UI) answer Range requests; one past the end is this.
    status, slug, title = 416, "range-not-satisfiable", "Range not satisfiable"


class ValidationFailed(Problem):
    status, slug, title = 422, "validation-error", "Request failed validation"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None):
        # A body wrong in thousands of places gets the first MAX_ERRORS and a count of the rest.
        if errors is not None and len(errors) > MAX_ERRORS:
            errors = errors[:MAX_ERRORS] + [{"path": "/", "message": f"{len(errors) - MAX_ERRORS} more errors "
                                                                     "not listed"}]
        super().__init__(detail, errors=errors, headers=headers)


class Overloaded(Problem):
    status, slug, title = 503, "overloaded", "Service overloaded"


class NotReady(Problem):
    status, slug, title = 503, "not-ready", "Model not ready"


class StoreUnavailable(Problem):
    status, slug, title = 503, "store-unavailable", "Feedback store unavailable"


ALL_PROBLEMS: tuple[type[Problem], ...] = (
    MalformedJSON, Unauthorized, Forbidden, NotFound, MethodNotAllowed, RequestTimeout, PayloadTooLarge, TooMuchToTag,
    UnsupportedMediaType, RangeNotSatisfiable, ValidationFailed, Overloaded, NotReady, StoreUnavailable, Problem,
)
# Engine errors a request can cause, and the problem each one is.
ENGINE_ERRORS: dict[type[Exception], type[Problem]] = {
    InvalidInputError: ValidationFailed,
    UnknownTaxonomyError: NotFound,
}
# Werkzeug's own HTTP errors (routing, body limits), by status.
_HTTP_STATUS: dict[int, type[Problem]] = {
    400: MalformedJSON, 404: NotFound, 405: MethodNotAllowed, 413: PayloadTooLarge, 415: UnsupportedMediaType,
    416: RangeNotSatisfiable,
}


def problem_response(problem: Problem) -> Response:
    if has_request_context():
        g.problem = problem.slug  # for the metrics (access_log.py): which problem, beside its status
    response = Response(json.dumps(problem.body()), status=problem.status, mimetype=PROBLEM_JSON)
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def _from_http_exception(exc: HTTPException) -> Problem:
    kind = _HTTP_STATUS.get(exc.code or 500, Problem)
    detail = {404: "no such path", 405: "method not allowed for this path",
              413: "the request body is larger than the limit"}.get(exc.code or 500, exc.description or "")
    problem = kind(detail)
    if exc.code == 405 and exc.response is None:
        allowed = getattr(exc, "valid_methods", None)
        if allowed:
            problem.headers["Allow"] = ", ".join(sorted(allowed))
    if exc.code == 416:
        # Content-Range: */<length> tells the client how much there is.
        problem.headers.update((k, v) for k, v in exc.get_headers() if k.lower() == "content-range")
    if kind is Problem and exc.code:
        log.warning("HTTP error %s without a problem type of its own: %s", exc.code, exc.description)
    return problem


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        return problem_response(exc)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        return problem_response(_from_http_exception(exc))

    @app.errorhandler(NewstagError)
    def _engine(exc: NewstagError) -> Response:
        kind = next((p for e, p in ENGINE_ERRORS.items() if isinstance(exc, e)), None)
        if kind is None:
            log.error("engine error: %s", exc)
            return problem_response(Problem("the tagger failed on this request"))
        return problem_response(kind(str(exc)))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")  # the trace goes to the log, never to the client
        return problem_response(Problem("an unexpected error occurred"))
