"""The closed set of errors newstag raises on purpose; the HTTP layer maps each to one status.

They live below every other module (the engine, the settings, the feedback store and the
HTTP layer all raise or catch them), so this module imports nothing of newstag's.
"""

from __future__ import annotations


class NewstagError(Exception):
    """Base class: every error newstag raises on purpose derives from it."""


class InvalidInputError(NewstagError, ValueError):
    """The caller's texts, labels or options cannot be tagged (HTTP 422)."""


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
