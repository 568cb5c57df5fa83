"""A small thread-safe LRU cache with a fixed number of entries (0 turns it off), and
optionally a budget of bytes (an entry larger than the budget is not kept); and where
newstag keeps what it caches on disk."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar


def user_cache_dir(name: str) -> Path:
    """$XDG_CACHE_HOME/newstag/``name`` (~/.cache/newstag/``name``); RuntimeError without a home."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newstag" / name


K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    def __init__(self, max_entries: int, *, max_bytes: int | None = None, size: Callable[[V], int] | None = None):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._size = size or (lambda _value: 0)
        self._items: OrderedDict[K, V] = OrderedDict()
        self._sizes: dict[K, int] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0

    def get(self, key: K) -> V | None:
        if not self.enabled:
            return None
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        if not self.enabled:
            return
        nbytes = self._size(value)
        if self.max_bytes is not None and nbytes > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                self._bytes -= self._sizes.pop(key)
            self._items[key] = value
            self._items.move_to_end(key)
            self._sizes[key] = nbytes
            self._bytes += nbytes
            while len(self._items) > self.max_entries or (self.max_bytes is not None and self._bytes > self.max_bytes):
                old, _ = self._items.popitem(last=False)
                self._bytes -= self._sizes.pop(old)

    @property
    def nbytes(self) -> int:
        """What the entries weigh, by ``size`` (0 without one)."""
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._sizes.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)
