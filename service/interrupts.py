"""SIGTERM read as Ctrl-C by the command-line jobs (batch, bulk, training)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def sigterm_interrupts(replace_foreign: bool = False) -> Iterator[None]:
    """SIGTERM (kill, a container stopping) raises KeyboardInterrupt, so a job stops as Ctrl-C
    stops it, keeping what it wrote and saying so; otherwise it died without a word.

    Left alone off the main thread (only it may set handlers), when SIGTERM is ignored (a
    parent chose that) and when its handler was set outside Python (it could not be put back),
    unless ``replace_foreign``: Ray's core worker sets one in C++ that aborts the process with a
    dump of its threads; the default action is put back after the block.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous == signal.SIG_IGN or (previous is None and not replace_foreign):
        yield
        return

    def _interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
