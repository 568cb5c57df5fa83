"""Editors' corrections, stored through SQLAlchemy (no Flask here): see :mod:`.store`."""

from __future__ import annotations

from .records import Correction, StoredCorrection, content_hash
from .store import FeedbackStore, Rows, StoreUnavailable

__all__ = ["Correction", "FeedbackStore", "Rows", "StoreUnavailable", "StoredCorrection", "content_hash"]
