"""Reload messaging between a server's workers, through a counter in a shared file.

A reload (POST /v1/models/reload) reaches one worker. It rescans its models and bumps the
counter in ``NEWSTAG_RUN_DIR/models-generation``; every other worker compares the counter
with the last one it applied whenever a request asks which models there are (one tiny
read) and rescans when it has moved (runtime.py). Without a run directory (one process,
tests) there is nobody to tell.
"""

from __future__ import annotations

import threading
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
        """Tell the other workers to rescan (this one just did)."""
        if self.path is None:
            return
        with self._lock:
            self._applied = self._shared() + 1
            tmp = self.path.with_suffix(f".{threading.get_ident()}")
            tmp.write_text(str(self._applied))
            tmp.replace(self.path)  # atomic, so no worker reads half a number

    def behind(self) -> int | None:
        """The generation announced since this worker last applied one, or None."""
        if self.path is None:
            return None
        shared = self._shared()
        return shared if shared > self._applied else None

    def applied(self, generation: int) -> None:
        """This worker has rescanned for ``generation``."""
        self._applied = max(self._applied, generation)
