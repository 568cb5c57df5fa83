"""Ctrl-C while a command starts, SIGTERM read as Ctrl-C by the command-line jobs, and the handlers put back."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from service.interrupts import quiet_ctrl_c_while_starting, run_command, sigterm_interrupts

ROOT = Path(__file__).resolve().parent.parent


def _console_script() -> list[str]:
    """What pip's generated ``newstag`` script runs, from the entry point pyproject.toml declares."""
    entry = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["newstag"]
    module, function = entry.split(":")
    return ["-c", f"import sys; from {module} import {function}; sys.exit({function}())"]


def _wait_for_library(process: subprocess.Popen, library: str) -> None:
    """Until ``library`` is mapped into the process: it is importing, past the package's ``__init__``."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if library in Path(f"/proc/{process.pid}/maps").read_text():
                return
        except (FileNotFoundError, ProcessLookupError):
            pass
        if process.poll() is not None:
            pytest.fail(f"the command ended before it loaded {library}: {process.communicate()}")
        time.sleep(0.005)
    pytest.fail(f"the command did not load {library} in 60 s")


def _as_from_a_terminal() -> None:
    """Ctrl-C's default action, as a command started from a terminal has it: a test run started in
    the background (`make test &`, a CI runner) passes its children SIGINT ignored, and a command
    that inherits that is rightly left alone (quiet_ctrl_c_while_starting)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow  # each command imports torch in a fresh interpreter
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="watches /proc/PID/maps")
@pytest.mark.parametrize("library", ["_multiarray_umath", "libtorch_cpu"])  # numpy, then torch (seconds before the end)
@pytest.mark.parametrize("command", [
    ["-m", "training.finetune"], ["-m", "training.evaluate"], ["-m", "service.drift"], ["-m", "service"],
    _console_script(),
], ids=["finetune", "evaluate", "drift", "service", "newstag"])
def test_ctrl_c_while_a_command_imports_is_one_line_and_status_130(command, library):
    process = subprocess.Popen([sys.executable, *command, "--help"], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_as_from_a_terminal)
    try:
        _wait_for_library(process, library)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert "Traceback" not in err
    assert process.returncode == 130, (out[-300:], err)
    assert re.fullmatch(r"\n(python -m [\w.]+|newstag): interrupted while starting; nothing was done\n", err), err


def test_every_command_runs_its_main_through_run_command():
    """A module run as a command that does not leaves the start's handler in place: Ctrl-C mid-run
    would say 'interrupted while starting' and skip what the command does on Ctrl-C."""
    for package in ("service", "training", "bench"):
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if path.name == "__main__.py" or 'if __name__ == "__main__":' in text:
                assert "run_command(" in text, path


def test_ctrl_c_in_main_that_main_does_not_catch_is_one_line_and_130(capsys):
    def main() -> int:
        raise KeyboardInterrupt  # e.g. while it parses its arguments or imports lazily

    assert run_command(main, "finetune") == 130
    assert capsys.readouterr().err == "\nfinetune: interrupted\n"


def test_ctrl_c_is_left_alone_when_the_package_is_imported_outside_python_m():
    before = signal.getsignal(signal.SIGINT)
    quiet_ctrl_c_while_starting()  # as service/__init__.py calls it: sys.argv[0] is pytest's here
    assert signal.getsignal(signal.SIGINT) is before


def test_run_command_gives_ctrl_c_back_to_the_command():
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        quiet_ctrl_c_while_starting("newstag")
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        assert run_command(lambda: 0 if signal.getsignal(signal.SIGINT) is signal.default_int_handler else 1,
                           "newstag") == 0
    finally:
        signal.signal(signal.SIGINT, before)


def test_sigterm_raises_keyboard_interrupt_inside_and_the_handler_is_put_back():
    def mine(*_):
        pytest.fail("SIGTERM reached the handler outside")

    before = signal.signal(signal.SIGTERM, mine)
    try:
        with pytest.raises(KeyboardInterrupt), sigterm_interrupts():
            os.kill(os.getpid(), signal.SIGTERM)  # Python runs the handler before the next line
            pytest.fail("SIGTERM did not interrupt")
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, before)


def test_sigterm_that_a_parent_ignores_stays_ignored():
    before = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with sigterm_interrupts():
            assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGTERM)  # ignored: nothing happens
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, before)


def test_a_handler_set_outside_python_is_left_alone(monkeypatch):
    """signal.getsignal() answers None for it, and signal.signal(SIGTERM, None) is a TypeError."""
    monkeypatch.setattr(signal, "getsignal", lambda _sig: None)
    set_to = []
    monkeypatch.setattr(signal, "signal", lambda sig, handler: set_to.append(handler))
    with sigterm_interrupts():
        pass
    assert set_to == []
