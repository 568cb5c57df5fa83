"""The feedback store: SQLite (WAL) by default, PostgreSQL or any SQLAlchemy URL otherwise.

The engine and the table are set up on first use, not at start-up: a database that is
down must not stop the service from tagging, and an app that never receives feedback
leaves no file behind. Every failure to reach or write the database is raised as
:class:`StoreUnavailable`, and :meth:`FeedbackStore.add` returns only after the commit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, func, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from ..errors import ConfigError, NewstagError
from .records import Correction, StoredCorrection, content_hash
from .stats import summarize
from .tables import create_schema, feedback

log = logging.getLogger("newstag.feedback")


class StoreUnavailable(NewstagError):
    """The database cannot be reached or did not take the write: nothing was stored."""


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


class FeedbackStore:
    def __init__(self, url: str | URL, *, busy_timeout: float = 10.0):
        try:
            self.url = make_url(url)
        except ArgumentError:
            raise ConfigError("NEWSTAG_DATABASE_URL is not a valid database URL") from None
        self.busy_timeout = busy_timeout
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    def describe(self) -> str:
        return self.url.render_as_string(hide_password=True)

    # Setting up ----------------------------------------------------------------------

    def _create_engine(self) -> Engine:
        if not self.is_sqlite:
            # pool_pre_ping: a server restarted since the last request costs a retry, not a 503.
            return create_engine(self.url, pool_pre_ping=True)
        database = self.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread off: the pool hands each connection to one thread at a time.
        engine = create_engine(self.url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas(self.busy_timeout))
        return engine

    def engine(self) -> Engine:
        """The engine, with the table created; retried on every call until it succeeds."""
        if self._engine is not None:
            return self._engine
        with self._lock:
            if self._engine is None:
                deadline = time.monotonic() + self.busy_timeout
                while True:
                    engine = None
                    try:
                        engine = self._create_engine()
                        with engine.begin() as connection:
                            create_schema(connection)
                        break
                    except (SQLAlchemyError, OSError) as exc:
                        if engine is not None:
                            engine.dispose()
                        if time.monotonic() < deadline and self._wait_if_transient(exc):
                            continue
                        raise self._unavailable("cannot open", exc) from None
                self._engine = engine
        return self._engine

    def _wait_if_transient(self, exc: Exception) -> bool:
        # Workers that open one new SQLite file at the same moment can meet a lock that
        # SQLite's busy wait does not cover (switching the new file to WAL): wait and retry.
        if not (self.is_sqlite and isinstance(exc, OperationalError)):
            return False
        reason = str(exc.orig).lower()
        if "locked" in reason or "busy" in reason:
            log.warning("feedback store %s is busy at open; retrying", self.describe())
            time.sleep(0.1)
            return True
        return False

    def _unavailable(self, action: str, exc: Exception) -> StoreUnavailable:
        # The reason goes to the log; the client hears only that nothing was stored.
        log.error("feedback store %s %s: %s", action, self.describe(), exc)
        return StoreUnavailable(f"the feedback store is unavailable ({type(exc).__name__})")

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # Writing -------------------------------------------------------------------------

    def add(self, correction: Correction) -> int:
        """Store one correction and return its id, once committed; StoreUnavailable otherwise."""
        engine = self.engine()
        row = {
            "content_hash": content_hash(correction.text), "text": correction.text,
            "labels": list(correction.labels), "taxonomy": correction.taxonomy, "model": correction.model,
            "predicted": list(correction.predicted) if correction.predicted is not None else None,
            "created_at": datetime.now(UTC),
        }
        try:
            with engine.begin() as connection:  # commits on leaving, or raises
                key = connection.execute(feedback.insert().values(**row)).inserted_primary_key
        except SQLAlchemyError as exc:
            raise self._unavailable("did not store a correction in", exc) from None
        if key is None:  # no backend newstag supports does this; never answer an id it does not have
            raise StoreUnavailable("the feedback store did not return the stored id")
        return int(key[0])

    # Reading -------------------------------------------------------------------------

    @staticmethod
    def _record(row: Any) -> StoredCorrection:
        return StoredCorrection(
            text=row.text, labels=tuple(row.labels), taxonomy=row.taxonomy, model=row.model,
            predicted=tuple(row.predicted) if row.predicted is not None else None,
            id=row.id, content_hash=row.content_hash, created_at=row.created_at)

    def history(self, text: str) -> list[StoredCorrection]:
        """Every correction of this text, oldest first (the last one is current)."""
        query = select(feedback).where(feedback.c.content_hash == content_hash(text)).order_by(feedback.c.id)
        try:
            with self.engine().connect() as connection:
                return [self._record(row) for row in connection.execute(query)]
        except SQLAlchemyError as exc:
            raise self._unavailable("could not read", exc) from None

    def current(self) -> Rows:
        """Each text's newest correction per taxonomy, in the order they were made, streamed.

        A text corrected under two taxonomies (or once with typed labels) has a current
        correction under each: one label set does not replace another's.

        The query runs before this returns, so an unreachable store raises here; the rows
        then come from one statement, one consistent snapshot, however long the reading takes.
        Iterate to the end or call ``close()``: the rows hold a database connection.
        """
        newest = select(func.max(feedback.c.id)).group_by(feedback.c.content_hash, feedback.c.taxonomy)
        query = select(feedback).where(feedback.c.id.in_(newest)).order_by(feedback.c.id)
        engine = self.engine()
        connection: Connection | None = None
        try:
            connection = engine.connect()
            result = connection.execution_options(stream_results=True, yield_per=500).execute(query)
        except SQLAlchemyError as exc:
            if connection is not None:
                connection.close()
            raise self._unavailable("could not read", exc) from None
        return Rows(self, connection, result)

    def submissions(self) -> int:
        try:
            with self.engine().connect() as connection:
                return int(connection.execute(select(func.count()).select_from(feedback)).scalar_one())
        except SQLAlchemyError as exc:
            raise self._unavailable("could not read", exc) from None

    def stats(self) -> dict[str, Any]:
        submissions = self.submissions()
        with closing(self.current()) as rows:
            return summarize(rows, submissions)


class Rows(Iterator[StoredCorrection]):
    """Streamed rows that give their connection back when exhausted, failed or closed.

    A class rather than a generator: a generator that was never started cannot run its
    ``finally``, and a response that is never read (HEAD, a client gone) must still close.
    """

    def __init__(self, store: FeedbackStore, connection: Connection, result: Any):
        self._store, self._rows = store, iter(result)
        self._connection: Connection | None = connection

    def __next__(self) -> StoredCorrection:
        if self._connection is None:
            raise StopIteration
        try:
            row = next(self._rows)
        except StopIteration:
            self.close()
            raise
        except SQLAlchemyError as exc:
            self.close()
            raise self._store._unavailable("failed while reading", exc) from None
        return self._store._record(row)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
