"""What one correction is, and how a text is recognised when it is corrected again."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import datetime


def content_hash(text: str) -> str:
    """SHA-256 of the text's NFC form, ignoring CRLF line ends, and whitespace and invisible
    format characters at either end (without_invisible_ends).

    A pasted article and the same article dropped as a file (trailing newline, Windows
    line ends, a byte order mark, or its accents decomposed, as macOS file names and some
    CMS exports write them) are one text, so a second correction replaces the first; so is
    one that a right-to-left editor starts with a direction mark.
    """
    normalized = unicodedata.normalize("NFC", without_invisible_ends(text.replace("\r\n", "\n")))
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def without_invisible_ends(text: str) -> str:
    """``text`` without the whitespace and invisible format characters (Cf: a byte order mark, a
    left-to-right or right-to-left mark) at either end: a file's BOM or a mark a right-to-left
    editor adds before an article does not make it another article. Marks inside are kept: a
    zero-width non-joiner spells Persian words."""
    start, end = 0, len(text)
    while start < end and _invisible(text[start]):
        start += 1
    while end > start and _invisible(text[end - 1]):
        end -= 1
    return text[start:end]


def _invisible(c: str) -> bool:
    return c.isspace() or unicodedata.category(c) == "Cf"


@dataclass(frozen=True)
class Correction:
    """The labels an editor says a text has, and what the model had said (when known)."""

    text: str
    labels: tuple[str, ...]
    taxonomy: str | None = None  # None: the labels were typed, not taken from a taxonomy
    model: str | None = None
    predicted: tuple[str, ...] | None = None
    # The version the classify result named for ``model``: a model retrained in place keeps its name.
    model_version: str | None = None

    @property
    def changed(self) -> bool | None:
        """Whether the editor changed the model's set of labels; None when no prediction was sent."""
        return None if self.predicted is None else set(self.predicted) != set(self.labels)


@dataclass(frozen=True)
class StoredCorrection(Correction):
    id: int = 0
    content_hash: str = ""
    created_at: datetime | None = None

    def training_row(self) -> dict[str, object]:
        """The row `training.finetune --train` reads (``text``, ``labels``), with what it
        ignores: the taxonomy the labels belong to (null for typed labels), and the model
        corrected and its version (null when the correction did not name them)."""
        return {"text": self.text, "labels": list(self.labels), "taxonomy": self.taxonomy,
                "model": self.model, "model_version": self.model_version}
