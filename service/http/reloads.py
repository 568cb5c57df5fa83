"""Reload messaging between a server's workers, through a counter in a shared file.

A reload (POST /v1/models/reload) reaches one worker. It rescans its models and bumps the
counter in ``NEWSTAG_RUN_DIR/models-generation``; every other worker compares the counter
with the last one it applied whenever a request asks which models there are (one tiny
read) and rescans when it has moved (runtime.py). Announcing holds a lock on
``models-generation.lock`` beside the counter, so every reload makes a generation of its
own. Without a run directory (one process, tests) there is nobody to tell.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ReloadSignal:
    def __init__(self, run_dir: Path | None):
        self.path = run_dir / "models-generation" if run_dir is not None else None
        self._applied = 0  # the last generation this worker has applied
        self._lock = threading.Lock()

    def _shared(self) -> int:
        try:
            return int(self.path.read_text()) if self.path else 0
        except (OSError, ValueError):
            return 0

    def catch_up(self) -> None:
        """This worker's models are current (it just loaded them): earlier reloads are applied."""
        self._applied = self._shared()

    def announce(self) -> None:
        """Tell the other workers to rescan (this one just did).

        The counter's read-modify-write holds a lock on a file beside it, so two workers
        announcing at once make two generations, not one (a worker that applied the first
        would have missed the second's change). This worker counts the new generation as
        applied only when nobody announced since the last one it applied: another worker's
        reload that came during this one's scan may have changed the directory after the scan
        read it, so this worker stays behind and rescans at its next request.
        """
        if self.path is None:
            return
        with self._lock, self._file_lock():
            shared = self._shared()
            generation = max(shared, self._applied) + 1
            if shared <= self._applied:
                self._applied = generation
            tmp = self.path.with_suffix(f".{os.getpid()}.{threading.get_ident()}")
            tmp.write_text(str(generation))
            tmp.replace(self.path)  # atomic, so no worker reads half a number

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        assert self.path is not None
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            yield

    def behind(self) -> int | None:
        """The generation announced since this worker last applied one, or None."""
        if self.path is None:
            return None
        shared = self._shared()
        return shared if shared > self._applied else None

    def applied(self, generation: int) -> None:
        """This worker has rescanned for ``generation``."""
        self._applied = max(self._applied, generation)
