"""Editors' corrections, stored through SQLAlchemy (no Flask here): see :mod:`.store`."""

from __future__ import annotations

from .records import Correction, StoredCorrection, content_hash
from .store import EVERY, FeedbackStore, Rows, Selection, StoreUnavailable

__all__ = ["EVERY", "Correction", "FeedbackStore", "Rows", "Selection", "StoreUnavailable", "StoredCorrection",
           "content_hash"]
