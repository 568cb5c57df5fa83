"""From a request body to a checked request, and from any validation error to field errors.

Two kinds of check, one path for each: the shape of the body (types, unknown fields) is
pydantic's (schemas.py), and the limits on texts and labels are the engine's
(engine/validation.py), run here before the request waits for a model. Both end as
``errors: [{"path": <JSON pointer>, "message"}]`` in a 422 problem.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..engine.validation import check_call
from ..errors import InvalidInputError
from ..options import TaggerOptions
from .problems import ValidationFailed
from .schemas import TEXT_MESSAGE, DocumentsRequest, TextRequest

ClassifyRequest = TextRequest | DocumentsRequest


def _pydantic_pointer(loc: tuple[Any, ...]) -> str:
    # pydantic puts the union member's name in the location ("str", "LabelObject"); drop it.
    parts = [str(p) for p in loc
             if not (isinstance(p, str) and (p in ("str", "constrained-str") or p[:1].isupper()))]
    return "/" + "/".join(parts)


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """pydantic's errors as ``{"path", "message"}``, one per field."""
    seen: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        message = TEXT_MESSAGE if error["type"] == "string_pattern_mismatch" else error["msg"]
        seen.setdefault(_pydantic_pointer(error["loc"]), message)
    # For "string or object" fields, an error inside the object says more than "not a string".
    return [{"path": path, "message": message} for path, message in seen.items()
            if not any(other.startswith(path + "/") for other in seen)]


def pointer(path: tuple[str | int, ...], request: ClassifyRequest) -> str:
    """The JSON pointer in a /v1/classify body of an engine field path: ("texts", 3) -> /documents/3/text."""
    if path[:1] == ("texts",):
        if isinstance(request, TextRequest):
            return "/text"
        return "/documents" + (f"/{path[1]}/text" if len(path) > 1 else "")
    return "/" + "/".join(str(part) for part in path)


def engine_errors(exc: InvalidInputError, request: ClassifyRequest) -> list[dict[str, str]] | None:
    """The engine's field problems as ``{"path", "message"}``; None when it named no field."""
    if not exc.problems:
        return None
    return [{"path": pointer(p.path, request), "message": p.message} for p in exc.problems]


def parse_classify(data: Any, options: TaggerOptions) -> ClassifyRequest:
    """Validate a /v1/classify body, or raise ValidationFailed naming every bad field."""
    if not isinstance(data, dict):
        raise ValidationFailed("the body must be a JSON object", errors=[{"path": "/", "message": "not an object"}])
    if ("text" in data) == ("documents" in data):
        raise ValidationFailed("give either 'text' or 'documents'",
                               errors=[{"path": "/", "message": "exactly one of text, documents is required"}])
    model = TextRequest if "text" in data else DocumentsRequest
    try:
        request = model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("the request has invalid fields", errors=field_errors(exc)) from None
    if isinstance(request, DocumentsRequest):
        _check_unique_ids(request)
    texts = [request.text] if isinstance(request, TextRequest) else [d.text for d in request.documents]
    try:
        check_call(texts, request.engine_labels(), request.threshold, request.top_k, options)
    except InvalidInputError as exc:
        raise ValidationFailed("the request has invalid fields", errors=engine_errors(exc, request)) from None
    return request


def _check_unique_ids(request: DocumentsRequest) -> None:
    # Results carry the ids back: two documents with one id could not be told apart.
    seen: set[str] = set()
    for i, document in enumerate(request.documents):
        if document.id in seen:
            raise ValidationFailed("document ids must be unique", errors=[
                {"path": f"/documents/{i}/id", "message": f"document ids must be unique: {document.id!r} again"}])
        seen.add(document.id)
