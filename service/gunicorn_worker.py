"""gunicorn's threaded worker, with a time limit on reading a request's headers.

gunicorn's gthread worker hands a connection to one of its threads once the first bytes
arrive, and that thread then blocks until the request's headers are complete, however
long the client takes. 25 connections that sent half a header and stopped held every
thread of a worker, and /healthz went unanswered until they closed (a pod's liveness
probe would fail over and over). gunicorn's advice is a buffering proxy in front; many
deployments have none, so the worker limits it itself: a request's headers must be
complete ``HEADER_SECONDS`` (NEWSTAG_CLIENT_TIMEOUT, 10) after the connection was accepted
(or readable again for its next request), or the connection is shut down, which wakes the
blocked thread (its read returns nothing, as if the client had gone) and frees it. The
body has its own limit where it is read (http/body.py); answers, such as a long export,
have none.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from typing import Any

from gunicorn.http.errors import InvalidHeader
from gunicorn.workers.gthread import ThreadWorker as GunicornThreadWorker

# NEWSTAG_CLIENT_TIMEOUT, checked by gunicorn_config.py; gunicorn waits up to 5 s of it for the first bytes.
HEADER_SECONDS = float(os.environ.get("NEWSTAG_CLIENT_TIMEOUT", "10"))
CHECK_EVERY_SECONDS = 1.0
log = logging.getLogger("newstag.server")
_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}")  # an HTTP token: what a header name may be


class ThreadWorker(GunicornThreadWorker):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._deadlines: dict[int, tuple[Any, float]] = {}  # id(conn) -> (conn, when its headers must be in)
        self._deadlines_lock = threading.Lock()
        self._closed: set[int] = set()  # id(conn) of connections handle() closed, for finish_request

    def init_process(self) -> None:
        threading.Thread(target=self._watch, name="newstag-connection-watchdog", daemon=True).start()
        super().init_process()  # runs the worker until it stops

    def enqueue_req(self, conn: Any) -> None:
        # The clock starts when the connection is accepted, or readable again for its next
        # request: connections queued behind stalled ones expire as well, not one thread-full
        # of them at a time (12 half-sent headers on 4 threads took three rounds of the limit).
        with self._deadlines_lock:
            self._deadlines[id(conn)] = (conn, time.monotonic() + HEADER_SECONDS)
        super().enqueue_req(conn)

    def handle(self, conn: Any) -> Any:
        try:
            keep = super().handle(conn)
        finally:
            self._headers_in(conn)  # answered, closed or handed back to the poller: no longer timed
        if not keep:
            # gunicorn would close it on the worker's main thread, lingering up to 2 s until the
            # client closes its end (RFC 9112 9.6): each client that kept its end open stalled every
            # other connection, /healthz included (five kept it unanswered for 10 s). Here, in this
            # request's thread, the linger holds only this thread.
            try:
                conn.close(graceful=True)
            except OSError:
                pass  # closed already (gunicorn does so on some errors)
            with self._deadlines_lock:
                self._closed.add(id(conn))
        return keep

    def finish_request(self, conn: Any, fs: Any) -> None:
        with self._deadlines_lock:
            closed = id(conn) in self._closed
            self._closed.discard(id(conn))
        if closed:  # by handle(): only the count is left (closing it again failed, and counted it twice)
            self.nr_conns -= 1
            return
        super().finish_request(conn, fs)

    def handle_request(self, req: Any, conn: Any) -> Any:
        self._headers_in(conn)
        return super().handle_request(req, conn)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        # gunicorn logs a header line without a colon whole, and answers with it: a client's
        # "Authorization Bearer <key>" put the key in the error log. Only the name the line
        # would have had is kept (a header name is a token: no blank, no "=").
        hdr = getattr(exc, "hdr", None)
        if type(exc) is InvalidHeader and isinstance(hdr, str) and not _NAME.fullmatch(hdr):
            name = _NAME.match(hdr)
            shown: Any = InvalidHeader(f"{name.group(0) if name else ''} (rest of the line not shown)")
            shown.req = getattr(exc, "req", None)  # gunicorn logs the request, when it has one, from it
            exc = shown
        super().handle_error(req, client, addr, exc)

    # HTTP/2 (off unless an operator turns it on) reads its own frames, stream after stream.
    def handle_http2(self, conn: Any) -> Any:
        self._headers_in(conn)
        return super().handle_http2(conn)

    def handle_h2c_upgrade(self, conn: Any, req: Any, settings: Any) -> Any:
        self._headers_in(conn)
        return super().handle_h2c_upgrade(conn, req, settings)

    def _headers_in(self, conn: Any) -> None:
        with self._deadlines_lock:
            self._deadlines.pop(id(conn), None)

    def _watch(self) -> None:
        while True:
            time.sleep(CHECK_EVERY_SECONDS)
            now = time.monotonic()
            # Under the lock: a connection whose headers arrive meanwhile is never shut down.
            with self._deadlines_lock:
                late = [(key, conn) for key, (conn, deadline) in self._deadlines.items() if deadline < now]
                for key, conn in late:
                    del self._deadlines[key]
                    try:
                        conn.sock.shutdown(socket.SHUT_RDWR)  # a thread blocked on it reads nothing and lets go
                    except OSError:
                        pass  # already closed
            for _, conn in late:
                log.warning("closed a connection from %s: no complete request headers in %g s", _peer(conn),
                            HEADER_SECONDS)


def _peer(conn: Any) -> str:
    client = getattr(conn, "client", None)
    return f"{client[0]}:{client[1]}" if isinstance(client, tuple) and len(client) >= 2 else "a client"
