"""Editors' corrections, stored through SQLAlchemy (no Flask here): see :mod:`.store`."""

from __future__ import annotations

from .records import Correction, StoredCorrection, content_hash
from .selection import EVERY, Selection
from .store import FeedbackStore, Rows, StoreUnavailable

__all__ = ["EVERY", "Correction", "FeedbackStore", "Rows", "Selection", "StoreUnavailable", "StoredCorrection",
           "content_hash"]
