"""Progress bars that suit a terminal and a log file alike (tqdm, on stderr)."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

LOG_INTERVAL = 30.0  # seconds between lines when stderr is a file or a pipe


def progress_bar(*args: Any, **kwargs: Any) -> tqdm:
    """A tqdm bar: redrawn live on a terminal, and at most one line every LOG_INTERVAL
    seconds when stderr goes to a log, where every redraw would be a line of its own."""
    stream = kwargs.setdefault("file", sys.stderr)
    if not getattr(stream, "isatty", lambda: False)():
        kwargs.setdefault("mininterval", LOG_INTERVAL)
    return tqdm(*args, **kwargs)
