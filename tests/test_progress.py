"""Progress bars redraw live on a terminal and write a line at most every 30 s into a log."""

from __future__ import annotations

import io
import time

from tqdm import tqdm

from service.progress import LOG_INTERVAL, progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _draws(make_bar) -> int:
    log = io.StringIO()
    for _ in make_bar(range(25), file=log):
        time.sleep(0.02)  # half a second in all: five redraws at tqdm's default 0.1 s
    return log.getvalue().count("\r")


def test_a_log_gets_the_first_and_last_line_only_where_plain_tqdm_redraws():
    assert _draws(tqdm) >= 4
    assert _draws(progress_bar) == 2


def test_a_terminal_keeps_live_redraws_and_an_explicit_interval_is_kept():
    assert progress_bar(file=Terminal()).mininterval < 1
    assert progress_bar(file=io.StringIO()).mininterval == LOG_INTERVAL
    assert progress_bar(file=io.StringIO(), mininterval=5).mininterval == 5
