"""The tagging engine: no web framework here, so every caller shares one code path."""

from __future__ import annotations

from ..errors import (
    ConfigError,
    InvalidInputError,
    ModelLoadError,
    NewstagError,
    TaxonomyFileError,
    UnknownTaxonomyError,
)
from .tagger import LabelSet, Tagger
from .taxonomy import Taxonomy, TaxonomyRegistry
from .types import Evidence, Label, TagResult, Topic

__all__ = [
    "ConfigError", "Evidence", "InvalidInputError", "Label", "LabelSet", "ModelLoadError",
    "NewstagError", "TagResult", "Tagger", "Taxonomy", "TaxonomyFileError", "TaxonomyRegistry",
    "Topic", "UnknownTaxonomyError",
]
