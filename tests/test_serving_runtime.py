"""The serving runtime's parts on their own: the deadline as a parameter from admission
through the Tagger to the batching thread, and reload messaging between workers."""

from __future__ import annotations

import threading
import time

import pytest

from service.config import Settings
from service.engine import Tagger
from service.errors import DeadlineExceeded
from service.http.admission import Admission
from service.http.problems import Overloaded, TooMuchToTag
from service.http.reloads import ReloadSignal


@pytest.fixture()
def gated_tagger(tiny_model_dir):
    """A batching tagger whose model waits for ``gate`` before each batch."""
    tagger = Tagger.load(Settings.from_env({}, model=tiny_model_dir, document_cache=0).engine_options())
    batcher = tagger.backend.encoder.batcher
    assert batcher is not None
    tagger.tag(["Warm up the label vectors and the reference topics."], ["markets"])
    run_batch, gate, busy = batcher.run_batch, threading.Event(), threading.Event()

    def gated(ids):
        busy.set()
        assert gate.wait(10)
        return run_batch(ids)

    batcher.run_batch = gated
    yield tagger, gate, busy
    gate.set()
    batcher.run_batch = run_batch


def test_the_deadline_given_to_tag_reaches_the_batching_thread(gated_tagger):
    tagger, gate, busy = gated_tagger
    first = threading.Thread(target=lambda: tagger.tag(["The model is busy with this one."], ["markets"]))
    first.start()
    assert busy.wait(5)
    with pytest.raises(DeadlineExceeded):  # not the gate's AssertionError after 10 s
        tagger.tag(["This one cannot wait."], ["markets"], deadline=time.monotonic() + 0.2)
    gate.set()
    first.join(10)
    # No deadline: the same call waits as long as it takes, in the same thread as before.
    assert tagger.tag(["This one can wait."], ["markets"], threshold=0.0)[0].topics


def test_admission_hands_each_job_its_own_deadline():
    admission = Admission(max_queue=2, request_timeout=5.0, batching=True)
    before = time.monotonic()
    deadline = admission.run(lambda d: d)
    assert before + 5.0 <= deadline <= time.monotonic() + 5.0
    assert admission.waiting == 0


def test_admission_turns_a_deadline_missed_behind_others_into_503_and_one_missed_alone_into_413():
    admission = Admission(max_queue=3, request_timeout=0.5, batching=True)
    started, release = threading.Event(), threading.Event()

    def late(deadline: float) -> None:
        raise DeadlineExceeded("late")

    # Alone: the same request would run out of time again, so no "retry shortly".
    with pytest.raises(TooMuchToTag, match="needs more than the 0.5 s limit") as alone:
        admission.run(late)
    assert "Retry-After" not in alone.value.headers and alone.value.status == 413

    def ahead(deadline: float) -> None:
        started.set()
        release.wait(10)

    first = threading.Thread(target=admission.run, args=(ahead,))
    first.start()
    assert started.wait(10)
    with pytest.raises(Overloaded, match="busy for 0.5 s") as caught:
        admission.run(late)
    release.set()
    first.join(10)
    assert caught.value.headers == {"Retry-After": "2"} and admission.waiting == 0

    # First in, but others came while it ran and shared its passes: the load, not its size (503).
    started.clear()
    release.clear()

    def first_then_late(deadline: float) -> None:
        started.set()
        release.wait(10)
        raise DeadlineExceeded("late")

    outcome: list[BaseException] = []
    first = threading.Thread(target=lambda: outcome.append(pytest.raises(Overloaded, admission.run, first_then_late)))
    first.start()
    assert started.wait(10)
    admission.run(lambda d: None)  # a request admitted while the first one runs
    release.set()
    first.join(10)
    assert outcome and admission.waiting == 0


def test_a_reload_announced_by_one_worker_stays_pending_for_the_others_until_applied(tmp_path):
    announcer, other, late = ReloadSignal(tmp_path), ReloadSignal(tmp_path), ReloadSignal(tmp_path)
    late.catch_up()
    assert other.behind() is None
    announcer.announce()
    assert other.behind() == 1 and other.behind() == 1  # until it has rescanned...
    other.applied(1)
    assert other.behind() is None  # ...then not again
    assert announcer.behind() is None  # its own reload is applied already
    assert late.behind() == 1
    announcer.announce()
    assert other.behind() == 2 and (tmp_path / "models-generation").read_text() == "2"


def test_without_a_run_directory_there_is_nobody_to_tell():
    alone = ReloadSignal(None)
    alone.announce()
    assert alone.behind() is None


def test_every_taxonomys_topics_are_embedded_while_the_model_loads_not_on_a_requests_clock(tiny_model_dir,
                                                                                          tmp_path):
    from service import create_app

    topics = "\n".join(f"  - name: topic {i}\n    keywords: [word {i}]" for i in range(40))
    (tmp_path / "big.yaml").write_text(f"name: big\ntopics:\n{topics}\n")
    settings = {"NEWSTAG_MODEL": str(tiny_model_dir), "NEWSTAG_TAXONOMIES_DIR": str(tmp_path)}
    tagger = Tagger.load(Settings.from_env(settings).engine_options())
    cache = tagger.backend.label_cache()
    big = tagger.label_set(taxonomy="big").labels
    assert all(cache._get(label) is None for label in big)
    create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False})
    assert all(cache._get(label) is not None for label in big)


def test_without_batching_a_request_that_ran_out_with_the_model_to_itself_is_413_whoever_came_after():
    """Requests take turns without batching: one admitted later waited, it did not share the model."""
    admission = Admission(max_queue=3, request_timeout=0.5, batching=False)
    started = threading.Event()

    def too_big(deadline: float) -> None:
        started.set()
        time.sleep(max(deadline - time.monotonic(), 0) + 0.05)
        raise DeadlineExceeded("late")

    outcome: list[BaseException] = []
    first = threading.Thread(target=lambda: outcome.append(pytest.raises(TooMuchToTag, admission.run, too_big)))
    first.start()
    assert started.wait(10)
    with pytest.raises(Overloaded):  # the one behind it waited out its own time
        admission.run(lambda d: None)
    first.join(10)
    assert outcome and admission.waiting == 0


def test_a_reload_another_worker_announced_during_this_ones_scan_stays_pending_here(tmp_path):
    """announce() set applied = shared + 1: B's reload, announced while A was scanning, counted
    as applied in A though A's scan may have read the directory before B's change."""
    a, b = ReloadSignal(tmp_path), ReloadSignal(tmp_path)
    a.catch_up()  # A's reload: it starts its scan at generation 0...
    b.announce()  # ...B's reload is announced meanwhile...
    a.announce()  # ...and A announces its own when its scan is done
    assert (tmp_path / "models-generation").read_text() == "2"
    assert a.behind() == 2  # A rescans once more, for B's change
    assert b.behind() == 2
    a.applied(2)
    a.announce()  # nobody announced since: A's own reload is applied
    assert a.behind() is None and b.behind() == 3


def test_two_workers_announcing_at_once_make_two_generations(tmp_path, monkeypatch):
    """The counter's read-modify-write was not locked across workers: two reloads at once wrote
    the same generation, and a worker that had applied the first never rescanned for the second."""
    a, b = ReloadSignal(tmp_path), ReloadSignal(tmp_path)
    read, go = threading.Event(), threading.Event()
    real = ReloadSignal._shared

    def slow_read(signal):
        value = real(signal)
        if signal is a and not read.is_set():
            read.set()  # A has read the counter and not written it yet...
            assert go.wait(10)
        return value

    with monkeypatch.context() as patch:
        patch.setattr(ReloadSignal, "_shared", slow_read)
        first = threading.Thread(target=a.announce)
        first.start()
        assert read.wait(10)
        second = threading.Thread(target=b.announce)  # ...when B announces
        second.start()
        second.join(0.5)  # B waits for A's lock (unlocked, it wrote 1 here)
        go.set()
        first.join(10)
        second.join(10)
    assert (tmp_path / "models-generation").read_text() == "2"
