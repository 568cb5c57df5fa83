"""SIGTERM read as Ctrl-C by the command-line jobs, and the handler before it put back."""

from __future__ import annotations

import os
import signal

import pytest

from service.interrupts import sigterm_interrupts


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
