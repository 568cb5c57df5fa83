"""How the feedback store connects: the engine for a URL, with each backend's settings.

SQLite gets WAL and a busy wait, PostgreSQL libpq's timeouts and a pool that checks a
connection before lending it; both hide statement parameters (article text) from logs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event

# libpq's own timeouts (psycopg and psycopg2 pass them through): a database that does not
# answer costs a request seconds and a 503, not a thread held for minutes. statement_timeout
# bounds each query on the server (pages are small); tcp_user_timeout a server gone from the network.
LIBPQ_TIMEOUTS = {"connect_timeout": 5, "tcp_user_timeout": 15_000, "keepalives": 1, "keepalives_idle": 30,
                  "options": "-c statement_timeout=30000 -c lock_timeout=10000"}
POOL_TIMEOUT = 10.0  # seconds a request waits for a pooled connection before its 503


def _sqlite_pragmas(busy_timeout: float):
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            # First, so the statements below wait for a lock too: writers from other threads
            # and workers wait their turn instead of failing at once.
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            # WAL: readers (export, stats) never block the writer, nor the writer them.
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before 201 is answered (NORMAL may lose the last ones).
            cursor.execute("PRAGMA synchronous=FULL")
        finally:
            cursor.close()

    return on_connect


def usable_url(url: URL) -> URL:
    # postgres:// is what many hosting providers hand out; SQLAlchemy only knows postgresql://.
    backend, _, driver = url.drivername.partition("+")
    return url.set(drivername="postgresql" + (f"+{driver}" if driver else "")) if backend == "postgres" else url


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def unwritable_sqlite_file(url: URL) -> Path | None:
    """The SQLite file of ``url`` when it can never be written (a read-only filesystem, no
    permission), else None. Such a store answers 503 until it is configured otherwise, so
    saying why, at start and in each answer, beats "retry shortly"."""
    path = _sqlite_file(url)
    if path is None:
        return None
    path = path.absolute()
    try:
        if path.exists():
            # SQLite writes its WAL and shared-memory files beside the database, too.
            writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)
        else:
            existing = next((p for p in path.parents if p.exists()), None)
            writable = existing is not None and os.access(existing, os.W_OK | os.X_OK)
    except OSError:  # a directory above it that this user may not search: it cannot be written either
        writable = False
    return None if writable else path


def create_store_engine(url: URL, busy_timeout: float) -> Engine:
    """The engine for ``url``; a SQLite file's directory is made if missing."""
    # hide_parameters: an error's log line must not carry article text (docs/production.md).
    if url.get_backend_name() != "sqlite":
        connect_args: dict[str, Any] = {}
        if url.get_driver_name() in ("psycopg", "psycopg2"):
            connect_args = {k: v for k, v in LIBPQ_TIMEOUTS.items() if k not in url.query}
        # pool_pre_ping: a server restarted since the last request costs a retry, not a 503.
        return create_engine(url, pool_pre_ping=True, pool_timeout=POOL_TIMEOUT, hide_parameters=True,
                             connect_args=connect_args)
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    # check_same_thread off: the pool hands each connection to one thread at a time.
    engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)
    event.listen(engine, "connect", _sqlite_pragmas(busy_timeout))
    return engine
