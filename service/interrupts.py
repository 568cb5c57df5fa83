"""Ctrl-C and SIGTERM in the command-line jobs (batch, bulk, training): one line and status 130."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


def quiet_ctrl_c_while_starting(prog: str | None = None) -> None:
    """Until run_command() runs the command, Ctrl-C exits with one line and status 130: a command
    imports torch and transformers for seconds before its main() can catch KeyboardInterrupt, and
    a Ctrl-C then was a traceback from somewhere in torch.

    Without ``prog`` (the packages' ``__init__``), only in ``python -m PACKAGE.MODULE`` while Python
    locates the module: it imports the package first, with ``sys.argv[0]`` "-m" until then, so
    importing the package anywhere else (tests, gunicorn, a notebook) leaves Ctrl-C alone.
    """
    if prog is None:
        if sys.argv[:1] != ["-m"]:
            return
        prog = "python -m " + _module_run()
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not ignored (a script's background job)
        signal.signal(signal.SIGINT, _ExitWhileStarting(prog))


class _ExitWhileStarting:
    def __init__(self, prog: str) -> None:
        self.prog = prog

    def __call__(self, _signum: int, _frame: FrameType | None) -> None:
        print(f"\n{self.prog}: interrupted while starting; nothing was done", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        # Not SystemExit: raised inside a C extension's import (numpy's), it came out as an ImportError
        # and its traceback. Nothing is under way yet to clean up.
        os._exit(130)


def run_command(main: Callable[[], int], prog: str) -> int:
    """A command's ``main()``, with Ctrl-C raising KeyboardInterrupt again (main says what it kept);
    one that main does not catch (parsing its arguments, a lazy import) is one line and 130 too."""
    try:
        if isinstance(signal.getsignal(signal.SIGINT), _ExitWhileStarting):
            signal.signal(signal.SIGINT, signal.default_int_handler)
        return main()
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`newstag cache | head`): a traceback, then another from the
        # interpreter's own flush at exit. Output goes nowhere from here; 141 as a shell says.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _module_run() -> str:
    """The MODULE of ``python [options] -m MODULE``."""
    args = sys.orig_argv[1:]
    for i, arg in enumerate(args):
        if arg == "-m" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("-m") and not arg.startswith("--"):
            return arg[2:]
    return "the command"


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
