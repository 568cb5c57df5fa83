"""The closed set of errors newstag raises on purpose; the HTTP layer maps each to one status.

They live below every other module (the engine, the settings, the feedback store and the
HTTP layer all raise or catch them), so this module imports nothing of newstag's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class NewstagError(Exception):
    """Base class: every error newstag raises on purpose derives from it."""


@dataclass(frozen=True)
class FieldProblem:
    """One bad field of a call: where it is, in the engine's terms, and what is wrong with it.

    ``path`` names a parameter of ``Tagger.tag`` and, for a list, the item: ``("texts", 3)``
    is the fourth text, ``("labels",)`` the label list as a whole. ``message`` speaks of
    that field alone ("text is empty or only whitespace"); the HTTP layer shows it beside
    the field's JSON pointer in the request (/documents/3/text).
    """

    path: tuple[str | int, ...]
    message: str


class InvalidInputError(NewstagError, ValueError):
    """The caller's texts, labels or options cannot be tagged (HTTP 422).

    ``str(error)`` tells the whole story (for the CLI, batch files and logs); ``problems``
    lists every bad field, so a caller can point at each one.
    """

    def __init__(self, detail: str, problems: Sequence[FieldProblem] = ()):
        super().__init__(detail)
        self.problems = tuple(problems)


class UnknownTaxonomyError(NewstagError, LookupError):
    """No taxonomy of that name is installed (HTTP 404)."""


class TaxonomyFileError(NewstagError):
    """A taxonomy file is malformed; the message names the file and the entry."""


class ModelLoadError(NewstagError):
    """A model directory is missing, incomplete or fails its checksum."""


class ConfigError(NewstagError):
    """A setting has a value newstag cannot use; the message names the variable."""


class DeadlineExceeded(NewstagError, TimeoutError):
    """A call waited for the model past its time limit (HTTP 503 with Retry-After)."""
