"""Reading JSON lines: every bad line gets a reason, never an exception of another kind.

``json.loads`` refuses more than invalid JSON: an integer of more than 4,300 digits
(Python's guard against slow conversions, a plain ``ValueError``) and nesting a few
hundred deep (``RecursionError``). Both crashed the batch job, failed a whole bulk shard
and stopped the drift report with a traceback; here they are bad lines like any other, as
the HTTP layer already answers them (service/http/body.py). A line can also be valid JSON
that cannot be written back out: a lone surrogate escape (``"\\ud800"``) has no UTF-8 form.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


class BadLine(ValueError):
    """A line that cannot be read; ``str()`` is the reason, without the line's place."""


def parse_json(line: str) -> Any:
    """The JSON value of one line, or BadLine with the reason."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        # "Unterminated string starting at", "Invalid control character at" (a raw tab in a string):
        # json's message ends where its place was, and said "(... starting at)" and no more.
        where = f" column {exc.colno}" if exc.msg.endswith(" at") else ""
        raise BadLine(f"not valid JSON ({exc.msg}{where})") from None
    except RecursionError:
        raise BadLine("the JSON is nested too deeply to read") from None
    except ValueError:  # Python refuses integers of more than 4,300 digits (CVE-2020-10735)
        raise BadLine(f"the JSON has a number too long to read (over {sys.get_int_max_str_digits():,} "
                      "digits)") from None


def is_unicode(text: str) -> bool:
    """False for a string with a lone surrogate (as service.engine.validation's)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def value_problem(value: Any, max_depth: int | None = None) -> str | None:
    """Why a parsed JSON value cannot be written out again, as a predicate ("is not valid
    Unicode ..."), or None. Walks the value without recursion: its strings and keys must be
    valid Unicode, and with ``max_depth`` its lists and objects nested at most that deep."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not is_unicode(item):
                return "is not valid Unicode (it has a lone surrogate)"
        elif isinstance(item, dict | list):
            if max_depth is not None and depth >= max_depth:
                return f"is nested more than {max_depth} levels deep"
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)
    return None


def json_objects(lines: Iterable[str], path: Path, error: type[Exception]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; ``error`` names the first bad line."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = parse_json(line)
        except BadLine as exc:
            hint = f"; {_ARRAY_HINT}" if line.lstrip().startswith("[") else ""
            raise error(f"{path}:{number}: {exc}{hint}") from None
        if not isinstance(row, dict):
            hint = f": {_ARRAY_HINT}" if isinstance(row, list) else ""
            raise error(f"{path}:{number}: each line must be a JSON object{hint}")
        yield number, row


# A JSON array of articles (one line, or pretty-printed) is the likeliest wrong file; say how to convert it.
_ARRAY_HINT = ("this looks like a JSON array; the file must be JSON Lines, one object per line "
               "(jq -c '.[]' articles.json > articles.jsonl converts an array)")
