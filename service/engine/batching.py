"""Cross-request micro-batching: one thread runs the model for every caller in a process.

Callers (request threads) hand in their token sequences and wait. The batching thread
takes a round of queued calls, sorts its sequences by length (less padding), cuts them
into batches within a token budget (as text-embeddings-inference does with
max-batch-tokens) and runs them, so windows of concurrent requests share forward passes.
A round takes the calls whose deadlines come first, up to ROUND_BATCHES batches' worth of
tokens: a call finishes only when its round does, so one round of everything queued made
every request of a burst finish (or run out of time) together at its end, and a request
with nothing ahead of it at admission wait behind later ones. Each caller waits at most
until its deadline (a ``time.monotonic()`` instant it passes in, from
``Tagger.tag(deadline=)``); a caller that gave up is dropped from the next batches, not computed.

``close()`` ends the batching thread once the calls already queued are done, so a model
that a reload replaced or removed can be freed (the thread holds the model). A call that
comes after it (a request that picked the model just before the swap) runs in the
caller's own thread instead, unbatched, and still gets its answer.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import DeadlineExceeded

# Run a batch: token id lists (special tokens included) -> last hidden states [batch, width, dim].
RunBatch = Callable[[list[list[int]]], torch.Tensor]
# Pool sequence ``i`` of a job from its unpadded hidden states; only the result is kept.
Pool = Callable[[int, torch.Tensor], Any]

# A batch holds sequences of one padded width only (length_batches); bench.padding compares.
ONE_WIDTH_PER_BATCH = True
# A round holds at least one call and stops taking more past this many batches' tokens
# (8 x 2,048 by default: about 64 windows of 256, every width's batches still full).
ROUND_BATCHES = 8


def length_batches(lengths: list[int], max_batch_tokens: int, one_length: bool | None = None) -> Iterator[list[int]]:
    """Index batches in length order whose padded size (rows x longest) fits the budget.

    With ``one_length`` (default: ONE_WIDTH_PER_BATCH), a batch holds sequences of one
    length only (callers pass padded widths, multiples of PAD_TO): rows padded up to a
    longer neighbour are compute spent on nothing, 17% of the window slots of BBC News
    articles in calls of 16, and the smaller batches this makes are still big matrices for
    the CPU (docs/benchmarks.md, "One padded width per batch").
    """
    if one_length is None:
        one_length = ONE_WIDTH_PER_BATCH
    batch: list[int] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if batch and ((len(batch) + 1) * lengths[i] > max_batch_tokens
                      or (one_length and lengths[i] != lengths[batch[-1]])):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


@dataclass(eq=False)
class _Job:
    sequences: list[list[int]]
    pool: Pool
    deadline: float = float("inf")  # a time.monotonic() instant; calls without one go last
    tokens: int = 0  # padded tokens of all its sequences
    results: list[Any] = field(init=False)
    left: int = field(init=False)
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    cancelled: bool = False

    def __post_init__(self) -> None:
        self.results = [None] * len(self.sequences)
        self.left = len(self.sequences)


class MicroBatcher:
    """Merges the forward passes of concurrent callers; one batching thread per process."""

    def __init__(self, run_batch: RunBatch, max_batch_tokens: int, width: Callable[[int], int] = lambda n: n):
        self.run_batch = run_batch
        self.max_batch_tokens = max_batch_tokens
        self.width = width  # the padded width run_batch gives a sequence of this length
        self._lock = threading.Lock()
        self._queue: list[_Job] = []
        self._wake = threading.Condition(self._lock)
        self._pid: int | None = None  # the thread does not survive a fork: restart it after one
        self._closed = False
        self._thread: threading.Thread | None = None

    def close(self) -> None:
        """End the batching thread once the calls queued now are done; later calls run in
        their caller's thread. Returns at once (the queued calls' callers wait for them)."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()

    def run(self, sequences: list[list[int]], pool: Pool, deadline: float | None = None) -> list[Any]:
        """Pool every sequence's hidden states; raises DeadlineExceeded past ``deadline``
        (a ``time.monotonic()`` instant; None: wait as long as it takes)."""
        if not sequences:
            return []
        job = _Job(sequences, pool, float("inf") if deadline is None else deadline,
                   sum(self.width(len(s)) for s in sequences))
        with self._lock:
            queued = not self._closed
            if queued:
                self._ensure_thread()
                self._queue.append(job)
                self._wake.notify()
        if not queued:
            return self._run_here(sequences, pool, deadline)
        left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        if not job.done.wait(left):
            job.cancelled = True  # the batching thread skips what it has not started
            raise DeadlineExceeded("the request ran out of time waiting for the model")
        if job.error is not None:
            raise job.error
        return job.results

    def _run_here(self, sequences: list[list[int]], pool: Pool, deadline: float | None) -> list[Any]:
        """The calls after close(): their batches run in the caller's thread."""
        results: list[Any] = [None] * len(sequences)
        for batch in length_batches([self.width(len(s)) for s in sequences], self.max_batch_tokens):
            if deadline is not None and time.monotonic() >= deadline:
                raise DeadlineExceeded("the request ran out of time waiting for the model")
            states = self.run_batch([sequences[i] for i in batch])
            for row, i in enumerate(batch):
                results[i] = pool(i, states[row, : len(sequences[i])])
        return results

    def _ensure_thread(self) -> None:
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._queue = []
            self._thread = threading.Thread(target=self._loop, name="newstag-batcher", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if not self._queue:  # closed, and everything queued before it is done
                    return
                jobs = self._take_round()
            try:
                self._serve(jobs)
            except BaseException as exc:  # noqa: BLE001 - never leave a caller waiting forever
                for job in jobs:
                    if not job.done.is_set():
                        job.error = exc
                        job.done.set()

    def _take_round(self) -> list[_Job]:
        """The calls of the next round, earliest deadline first (ties: arrival order), up to
        ROUND_BATCHES batches' worth of tokens; the rest stay queued. Called under the lock."""
        queued = sorted((job for job in self._queue if not job.cancelled), key=lambda job: job.deadline)
        budget = ROUND_BATCHES * self.max_batch_tokens
        taken: list[_Job] = []
        tokens = 0
        for job in queued:
            if taken and tokens + job.tokens > budget:
                break
            taken.append(job)
            tokens += job.tokens
        chosen = set(map(id, taken))
        self._queue = [job for job in queued if id(job) not in chosen]
        return taken

    def _serve(self, jobs: list[_Job]) -> None:
        items = [(job, i) for job in jobs if not job.cancelled for i in range(len(job.sequences))]
        lengths = [self.width(len(job.sequences[i])) for job, i in items]
        for batch in length_batches(lengths, self.max_batch_tokens):
            chosen = [items[k] for k in batch if not items[k][0].cancelled]
            if not chosen:
                continue
            try:
                states = self.run_batch([job.sequences[i] for job, i in chosen])
                for row, (job, i) in enumerate(chosen):
                    job.results[i] = job.pool(i, states[row, : len(job.sequences[i])])
                    job.left -= 1
            except BaseException as exc:  # noqa: BLE001 - the error belongs to the callers, not this thread
                for job, _ in chosen:
                    job.error, job.cancelled = exc, True
                    job.done.set()
                continue
            for job, _ in chosen:
                if job.left == 0:
                    job.done.set()
