"""What one correction is, and how a text is recognised when it is corrected again."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import datetime


def content_hash(text: str) -> str:
    """SHA-256 of the text's NFC form, ignoring outer whitespace and CRLF line ends.

    A pasted article and the same article dropped as a file (trailing newline, Windows
    line ends, or its accents decomposed, as macOS file names and some CMS exports write
    them) are one text, so a second correction replaces the first.
    """
    normalized = unicodedata.normalize("NFC", text.replace("\r\n", "\n").strip())
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


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
