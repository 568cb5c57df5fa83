"""From a request body to a checked request, and from any validation error to field errors.

Two kinds of check, one path for each: the shape of the body (types, unknown fields) is
pydantic's (schemas.py), and the limits on texts and labels are the engine's
(engine/validation.py), run here before the request waits for a model. Both end as
``errors: [{"path": <JSON pointer>, "message"}]`` in a 422 problem.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..engine import Label
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
    # (Ancestors by set, not every pair: a body wrong in 10,000 places took 14 s here.)
    has_child = {ancestor for path in seen for ancestor in _ancestors(path)}
    return [{"path": path, "message": message} for path, message in seen.items() if path not in has_child]


def _ancestors(path: str) -> list[str]:
    """The pointers above ``path``: /labels/3/name -> /labels, /labels/3."""
    parts = path.split("/")
    return ["/".join(parts[:k]) for k in range(2, len(parts))]


def pointer(path: tuple[str | int, ...], single: bool) -> str:
    """The JSON pointer in a /v1/classify body of an engine field path: ("texts", 3) -> /documents/3/text
    (/text when the body has one ``text``)."""
    if path[:1] == ("texts",):
        if single:
            return "/text"
        return "/documents" + (f"/{path[1]}/text" if len(path) > 1 else "")
    return "/" + "/".join(str(part) for part in path)


def engine_errors(exc: InvalidInputError, single: bool) -> list[dict[str, str]] | None:
    """The engine's field problems as ``{"path", "message"}``; None when it named no field."""
    if not exc.problems:
        return None
    return [{"path": pointer(p.path, single), "message": p.message} for p in exc.problems]


def parse_classify(data: Any, options: TaggerOptions) -> ClassifyRequest:
    """Validate a /v1/classify body, or raise ValidationFailed naming every bad field."""
    if not isinstance(data, dict):
        raise ValidationFailed("the body must be a JSON object", errors=[{"path": "/", "message": "not an object"}])
    if ("text" in data) == ("documents" in data):
        raise ValidationFailed("give either 'text' or 'documents'",
                               errors=[{"path": "/", "message": "exactly one of text, documents is required"}])
    single = "text" in data
    model = TextRequest if single else DocumentsRequest
    try:
        request: ClassifyRequest | None = model.model_validate(data)
    except ValidationError as exc:
        shape = field_errors(exc)
        request = None
    else:
        shape = []
    # The engine's limits are checked on the body's own values too when its shape is wrong,
    # each value of the wrong type standing in as a valid one: one answer names every bad field.
    texts, labels = ((_texts(request), request.engine_labels()) if request is not None
                     else (_raw_texts(data), _raw_labels(data.get("labels"))))
    limits: list[dict[str, str]] = _repeated_ids(data)
    try:
        check_call(texts, labels, None, None, options)  # threshold and top_k: the schema's ranges
    except InvalidInputError as exc:
        limits += engine_errors(exc, single) or []
    # An engine problem at a field the schema already named, or inside one, says the same
    # thing twice; one at a field holding it (65 documents, one of them empty) is news.
    named = {s["path"] for s in shape}
    errors = shape + [e for e in limits if not _repeats(e["path"], named)]
    if errors or request is None:
        raise ValidationFailed("the request has invalid fields", errors=errors)
    return request


def _repeats(path: str, named: set[str]) -> bool:
    """Whether ``path`` is one of ``named`` or inside one."""
    return path in named or any(a in named for a in _ancestors(path))


def _texts(request: ClassifyRequest) -> list[str]:
    return [request.text] if isinstance(request, TextRequest) else [d.text for d in request.documents]


def _raw_texts(data: dict[str, Any]) -> list[Any]:
    documents = data.get("documents")
    raw = [data["text"]] if "text" in data else [
        d.get("text") if isinstance(d, dict) else None for d in documents] if isinstance(documents, list) else []
    return [t if isinstance(t, str) else "-" for t in raw]


def _raw_labels(raw: Any) -> list[str | Label] | None:
    if not isinstance(raw, list):
        return None

    def one(item: Any) -> str | Label:
        if isinstance(item, str):
            return item
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            keywords = item.get("keywords")
            description = item.get("description")
            return Label(item["name"].strip(), description.strip() if isinstance(description, str) else "",
                         tuple(k.strip() if isinstance(k, str) else "-" for k in keywords)
                         if isinstance(keywords, list) else ())
        return "-"

    return [one(item) for item in raw]


def _repeated_ids(data: dict[str, Any]) -> list[dict[str, str]]:
    # Results carry the ids back: two documents with one id could not be told apart.
    documents = data.get("documents")
    seen: set[str] = set()
    errors = []
    for i, document in enumerate(documents if isinstance(documents, list) else []):
        name = document.get("id") if isinstance(document, dict) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            errors.append({"path": f"/documents/{i}/id", "message": f"document ids must be unique: {name!r} again"})
        seen.add(name)
    return errors
