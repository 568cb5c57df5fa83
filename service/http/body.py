"""Reading a JSON request body, with the same errors for every endpoint."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, request
from gunicorn.http.errors import NoMoreData, ParseException

from .problems import MalformedJSON, PayloadTooLarge, RequestTimeout, UnsupportedMediaType


class _NotJSONConstant(ValueError):
    pass


def _not_json(constant: str) -> Any:
    # Python's json reads NaN, Infinity and -Infinity; other JSON parsers (and the spec) do not.
    raise _NotJSONConstant(constant)


class _DuplicateKey(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Python's json keeps the last of two equal keys ({"text": "a", "text": "b"} tagged "b" and
    # stored "b" as a correction); other parsers keep the first or refuse: an ambiguous body.
    found = dict(pairs)
    if len(found) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return found


def _read_body(limit: int, stall_seconds: float) -> bytes:
    # A client that stops sending mid-body would hold this thread for as long as it keeps the
    # connection open: reads give up after NEWSTAG_CLIENT_TIMEOUT without a byte (gunicorn's socket).
    sock = request.environ.get("gunicorn.socket")
    if sock is not None:
        sock.settimeout(stall_seconds)
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
    try:
        # The server's own stream (Werkzeug's would turn a read that timed out into "client
        # disconnected"). A chunked body has no length up front: read one byte more than the
        # limit and say 413 rather than cut it silently.
        raw = request.environ["wsgi.input"].read(limit + 1 if length is None else length)
        if len(raw) > limit:
            raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
        if length is not None and len(raw) < length:
            raise MalformedJSON(f"the body ended after {len(raw)} of the {length} bytes its Content-Length gives")
        return raw
    except TimeoutError:
        # gunicorn closes the connection after it (the rest of the body is never read).
        raise RequestTimeout(f"the request body stopped arriving for {stall_seconds:g} s") from None
    except (ParseException, NoMoreData) as exc:
        # gunicorn's reader of a chunked body (a chunk size that is not hex, a chunk longer or
        # shorter than its size, the connection closed mid-chunk) raised from inside the app:
        # a 500 until now. The rest of the stream cannot be read as a next request: close it.
        raise MalformedJSON(f"the body's chunked transfer encoding is malformed ({exc})",
                            headers={"Connection": "close"}) from None
    finally:
        if sock is not None:
            sock.settimeout(None)


def json_body() -> Any:
    """The request body as JSON: 415 unless declared JSON and uncompressed, 413 beyond the limit, 400 if malformed."""
    if not request.is_json:
        raise UnsupportedMediaType(f"send Content-Type: application/json, not {request.mimetype or 'nothing'!r}")
    # A compressed body would otherwise read as "not UTF-8"; the limit is on the bytes as sent.
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise UnsupportedMediaType(f"send the body uncompressed: Content-Encoding {encoding!r} is not accepted")
    settings = current_app.config["NEWSTAG_SETTINGS"]
    raw = _read_body(settings.max_body_bytes, settings.client_timeout)
    try:
        # UTF-8 only (RFC 8259), a byte-order mark before it ignored: json.loads on bytes
        # would also take UTF-16 and UTF-32, which the API says it refuses.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MalformedJSON("the body is not UTF-8") from None
    try:
        return json.loads(text, parse_constant=_not_json, object_pairs_hook=_object)
    except _DuplicateKey as exc:
        raise MalformedJSON(f"the key {exc.args[0]!r} is given twice in one object: give it once") from None
    except _NotJSONConstant as exc:
        raise MalformedJSON(f"{exc.args[0]} is not JSON (RFC 8259 has no NaN or Infinity)") from None
    except json.JSONDecodeError as exc:
        raise MalformedJSON(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise MalformedJSON("the JSON is nested too deeply") from None
    except ValueError:  # Python refuses integers of more than 4,300 digits (CVE-2020-10735)
        raise MalformedJSON("the JSON has a number too long to read") from None
