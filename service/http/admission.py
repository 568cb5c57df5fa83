"""Admission control: a bounded queue in front of the model, and a time limit per request.

Each admitted job gets its deadline (a ``time.monotonic()`` instant) as its argument and
hands it to ``Tagger.tag(deadline=)``, which passes it down to the micro-batcher. With
batching on, admitted jobs run together (the batching thread merges their windows into
shared forward passes); with it off, one job at a time has the model, because torch
already uses every core it was given (gunicorn.conf.py sizes torch threads per worker).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from ..errors import DeadlineExceeded
from .problems import Overloaded, TooMuchToTag

T = TypeVar("T")


class Admission:
    def __init__(self, max_queue: int, request_timeout: float, batching: bool):
        self.max_queue = max_queue
        self.request_timeout = request_timeout
        self.batching = batching
        self._slot = threading.Semaphore(1)  # the model, when requests take turns
        self._waiting = 0
        self._admitted = 0  # requests ever admitted: did another one come while this one ran?
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        """Requests admitted and not finished."""
        return self._waiting

    def run(self, job: Callable[[float], T]) -> T:
        """Run ``job(deadline)``; 503 when too many wait already or its time runs out beside others,
        413 when it runs out with no other request admitted before it finished."""
        with self._lock:
            if self._waiting >= self.max_queue:
                waiting = "1 request is" if self._waiting == 1 else f"{self._waiting} requests are"
                raise Overloaded(f"{waiting} already waiting; retry shortly",
                                 headers={"Retry-After": "1"})
            first_alone = self._waiting == 0
            self._waiting += 1
            self._admitted += 1
            admitted = self._admitted
        deadline = time.monotonic() + self.request_timeout
        try:
            return job(deadline) if self.batching else self._one_at_a_time(job, deadline)
        except DeadlineExceeded:
            # Alone from start to end: the same request would run out of time again. With
            # batching, requests admitted after it share its forward passes and the cores, so
            # a small request that ran out among them is the server's load, not its size: a
            # 503. Without it they wait their turn behind it, and it had the model to itself.
            if first_alone and (not self.batching or self._admitted == admitted):
                raise TooMuchToTag(f"tagging this request needs more than the {self.request_timeout:g} s limit "
                                   "(NEWSTAG_REQUEST_TIMEOUT) with no other request beside it: send fewer or "
                                   "shorter documents per call, or raise the limit") from None
            raise Overloaded(f"the model was busy for {self.request_timeout:g} s; retry shortly",
                             headers={"Retry-After": "2"}) from None
        finally:
            with self._lock:
                self._waiting -= 1

    def _one_at_a_time(self, job: Callable[[float], T], deadline: float) -> T:
        if not self._slot.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
            raise DeadlineExceeded("the model stayed busy past the request time limit")
        try:
            return job(deadline)
        finally:
            self._slot.release()
