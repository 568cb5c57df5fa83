"""Progress bars redraw live on a terminal and write a line at most every 30 s into a log."""

from __future__ import annotations

import io
import re
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


def test_the_frozen_encoder_pass_counts_articles_not_slices_of_64(tiny_model_dir, monkeypatch):
    """A newsroom's few dozen articles were one slice of 64: the bar sat at 0/1 for the whole pass
    (3 minutes on the multilingual model, 41 articles). It counts articles, a few at a time."""
    from service.engine.encoder import SentenceEncoder
    from training import probe

    drawn = io.StringIO()
    monkeypatch.setattr(probe, "progress_bar", lambda *a, **k: progress_bar(*a, **{**k, "file": drawn,
                                                                                  "mininterval": 0}))
    docs = [SentenceEncoder(tiny_model_dir, max_tokens=64).prepare(f"Article {i} about the markets.")
            for i in range(20)]
    vectors = probe.frozen_windows(tiny_model_dir, 64, {"train": docs})["train"]
    assert len(vectors) == 20
    counts = [int(m) for m in re.findall(r"(\d+)/20 ", drawn.getvalue())]
    assert 0 < min(c for c in counts if c) < 20 and max(counts) == 20
    assert "doc/s" in drawn.getvalue()
