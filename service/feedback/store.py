"""The feedback store: SQLite (WAL) by default, PostgreSQL or any SQLAlchemy URL otherwise.

The engine and the table are set up on first use, not at start-up: a database that is
down must not stop the service from tagging, and an app that never receives feedback
leaves no file behind. Every failure to reach or write the database is raised as
:class:`StoreUnavailable`, and :meth:`FeedbackStore.add` returns only after the commit.
Reads go page by page, each page on a connection of its own: a slow export download
holds no connection (the pool is shared with the editors' writes) and no snapshot.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import URL, Engine, create_engine, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError

from ..errors import ConfigError, NewstagError
from .database import create_store_engine, unwritable_sqlite_file, usable_url
from .records import Correction, StoredCorrection, content_hash
from .selection import EVERY, Selection, current_query
from .stats import Review, summarize
from .tables import create_schema, feedback
from .upgrade import ADDED_COLUMNS, missing_columns, upgrade_table

log = logging.getLogger("newstag.feedback")
PAGE_ROWS = 200  # rows read per query (a text is at most 100,000 characters)
REVIEW_ROWS = 5000  # rows the stats read per query: labels and model, no text (a few MB a page)


class SchemaMismatch(Exception):
    """The feedback table exists with other columns than newstag's."""


class StoreUnavailable(NewstagError):
    """The database cannot be reached or did not confirm the write (it may still have been stored).

    ``lasting``: a retry cannot help until the operator changes something (an unwritable file).
    """

    def __init__(self, message: str, *, lasting: bool = False):
        super().__init__(message)
        self.lasting = lasting


class FeedbackStore:
    def __init__(self, url: str | URL, *, busy_timeout: float = 10.0):
        try:
            self.url = usable_url(make_url(url))
        except ArgumentError:
            raise ConfigError("NEWSTAG_DATABASE_URL is not a valid database URL") from None
        self.busy_timeout = busy_timeout
        self._engine: Engine | None = None
        self._schema_ready = False
        self._lock = threading.Lock()

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    def describe(self) -> str:
        """The URL for logs: no password, in the user part or in the query."""
        secret = {key: "***" for key in self.url.query if "password" in key.lower()}
        return self.url.update_query_dict(secret).render_as_string(hide_password=True)

    def write_problem(self) -> str | None:
        """Why this store can never write (a read-only filesystem, no permission), or None."""
        path = unwritable_sqlite_file(self.url)
        if path is None:
            return None
        return (f"the feedback store cannot write {path} (read-only or not permitted), nor read it (SQLite "
                "writes beside a file it reads): set NEWSTAG_DATABASE_URL to a database this service may write, "
                f"or, to export an archived file, to sqlite:///file:{path}?immutable=1&uri=true")

    # Setting up ----------------------------------------------------------------------

    def _create_engine(self) -> Engine:
        return create_store_engine(self.url, self.busy_timeout)

    def check_driver(self) -> None:
        """Raise ConfigError when the URL names a database or driver this install cannot use."""
        if self.is_sqlite:
            return  # in the standard library; creating the engine would create its directory
        try:
            create_engine(self.url).dispose()  # loads the dialect and its driver; connects to nothing
        except (ImportError, SQLAlchemyError) as exc:
            raise ConfigError(f"NEWSTAG_DATABASE_URL={self.describe()!r} cannot be used: {exc} "
                              "(postgresql://user:password@host/db works with the installed psycopg)") from None

    def engine(self) -> Engine:
        """The engine, with the table in place; retried on every call until it succeeds."""
        if self._engine is not None and self._schema_ready:
            return self._engine
        with self._lock:
            deadline = time.monotonic() + self.busy_timeout
            while not self._schema_ready:
                try:
                    if self._engine is None:
                        self._engine = self._create_engine()
                    with self._engine.begin() as connection:
                        # Checked before created: a role that may only read and insert (its table
                        # created by a DBA) never needs CREATE on the schema.
                        found = inspect(connection)
                        if not found.has_table(feedback.name):
                            create_schema(connection)
                        elif (missing := missing_columns(connection)) and missing <= ADDED_COLUMNS:
                            upgrade_table(connection, missing)  # made by an older newstag
                        elif missing:
                            raise SchemaMismatch(f"table {feedback.name} has no column(s) {', '.join(sorted(missing))}"
                                                 ": made by another program or an older newstag; rename or drop it "
                                                 "(newstag creates its own), or add them")
                    self._schema_ready = True
                except (SQLAlchemyError, OSError, ImportError, SchemaMismatch) as exc:
                    if self._engine is not None:
                        self._engine.dispose()
                        self._engine = None
                    if time.monotonic() < deadline and self._wait_if_transient(exc):
                        continue
                    raise self._unavailable("cannot open", exc) from None
        assert self._engine is not None
        return self._engine

    def _wait_if_transient(self, exc: Exception) -> bool:
        reason = str(getattr(exc, "orig", exc)).lower()
        # Workers that open one new SQLite file at the same moment can meet a lock that
        # SQLite's busy wait does not cover (switching the new file to WAL); workers or
        # replicas creating the table in one new PostgreSQL database at once collide in
        # its catalogue ("duplicate key", "already exists"): wait, and the next look finds the table.
        busy = self.is_sqlite and isinstance(exc, OperationalError) and ("locked" in reason or "busy" in reason)
        created = isinstance(exc, (IntegrityError, ProgrammingError)) and (
            "already exists" in reason or "duplicate key" in reason)
        # Two workers upgrading one older SQLite table: the second finds the column added.
        created = created or (isinstance(exc, OperationalError) and "duplicate column" in reason)
        if busy or created:
            log.warning("feedback store %s: %s at open; retrying", self.describe(),
                        "busy" if busy else "table created meanwhile")
            time.sleep(0.1)
            return True
        return False

    def _unavailable(self, action: str, exc: Exception) -> StoreUnavailable:
        # The next call looks for the table again: it may have gone (a restore, a failover).
        self._schema_ready = False
        # The reason goes to the log (without the statement's parameters); the client hears a 503.
        log.error("feedback store %s %s: %s", action, self.describe(), exc)
        problem = self.write_problem()
        if problem:
            return StoreUnavailable(problem, lasting=True)
        return StoreUnavailable(f"the feedback store is unavailable ({type(exc).__name__})")

    def close(self) -> None:
        """Close the pool's connections; on SQLite, first copy the write-ahead log into the file.

        SQLite does that itself when its last connection closes, but a gunicorn worker leaves
        with os._exit (service/gunicorn_config.py): feedback.db then held nothing after a clean
        stop, every correction in feedback.db-wal beside it, and a copy of the file alone lost them.
        """
        if self._engine is None:
            return
        if self.is_sqlite and self._schema_ready:
            try:
                with self._engine.connect() as connection:
                    busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").scalar()
                if busy:  # another worker still reading or writing: the last one to close copies the rest
                    log.warning("feedback store %s: the log was not all copied into the file at close",
                                self.describe())
            except SQLAlchemyError as exc:
                log.warning("feedback store %s: no checkpoint at close: %s", self.describe(), exc)
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
            "model_version": correction.model_version, "created_at": datetime.now(UTC),
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
            model_version=row.model_version, id=row.id, content_hash=row.content_hash, created_at=row.created_at)

    def history(self, text: str) -> list[StoredCorrection]:
        """Every correction of this text, oldest first (the last one is current)."""
        query = select(feedback).where(feedback.c.content_hash == content_hash(text)).order_by(feedback.c.id)
        try:
            with self.engine().connect() as connection:
                return [self._record(row) for row in connection.execute(query)]
        except SQLAlchemyError as exc:
            raise self._unavailable("could not read", exc) from None

    def current(self, selection: Selection = EVERY) -> Rows:
        """Each text's newest correction per taxonomy, in the order they were made, page by page.

        A text corrected under two taxonomies (or once with typed labels) has a current
        correction under each: one label set does not replace another's. With a model in
        ``selection``, the newest among those that named it: one desk's corrections, which
        another desk's correction of the same text does not replace. With ``since``, those
        made since then.

        The rows are those stored when this is called (ids up to the newest then; the table
        is append-only, so later pages see the same rows): corrections made while an export
        is read wait for the next one. An unreachable store raises here, before any row; a
        page that cannot be read raises StoreUnavailable from the iteration.
        """
        try:
            with self.engine().connect() as connection:
                newest = connection.execute(select(func.max(feedback.c.id))).scalar_one()
        except SQLAlchemyError as exc:
            raise self._unavailable("could not read", exc) from None
        return Rows(self, int(newest or 0), selection)

    def _page(self, after: int, upto: int, selection: Selection = EVERY) -> list[StoredCorrection]:
        """Up to PAGE_ROWS current corrections with ids in (after, upto]."""
        query = current_query(after, upto, selection, PAGE_ROWS, feedback)
        try:
            with self.engine().connect() as connection:
                return [self._record(row) for row in connection.execute(query)]
        except SQLAlchemyError as exc:
            raise self._unavailable("failed while reading", exc) from None

    def _review_page(self, after: int, upto: int, selection: Selection) -> list[tuple[int, Review]]:
        """As :meth:`_page`, up to REVIEW_ROWS with only what the stats count: reading the texts
        made stats on 100,000 corrections take 8 s."""
        query = current_query(after, upto, selection, REVIEW_ROWS, feedback.c.id, feedback.c.labels,
                                    feedback.c.predicted, feedback.c.model)
        try:
            with self.engine().connect() as connection:
                return [(row.id, Review(tuple(row.labels), tuple(row.predicted) if row.predicted is not None else None,
                                        row.model))
                        for row in connection.execute(query)]
        except SQLAlchemyError as exc:
            raise self._unavailable("failed while reading", exc) from None

    def submissions(self, upto: int | None = None, selection: Selection = EVERY) -> int:
        """Every correction stored (history included), or those with ids up to ``upto``."""
        query = select(func.count()).select_from(feedback).where(selection.where(feedback))
        if upto is not None:
            query = query.where(feedback.c.id <= upto)
        try:
            with self.engine().connect() as connection:
                return int(connection.execute(query).scalar_one())
        except SQLAlchemyError as exc:
            raise self._unavailable("could not read", exc) from None

    def models(self) -> list[str]:
        """The model names corrections gave (loaded now or not), sorted."""
        query = select(feedback.c.model).where(feedback.c.model.is_not(None)).distinct()
        try:
            with self.engine().connect() as connection:
                return sorted(connection.execute(query).scalars())
        except SQLAlchemyError as exc:
            raise self._unavailable("could not read", exc) from None

    def stats(self, selection: Selection = EVERY) -> dict[str, Any]:
        rows = self.current(selection)
        # Counted up to the same id as the rows: corrections never outnumber submissions.
        return summarize(rows.reviews(), self.submissions(upto=rows.upto, selection=selection))


class Rows(Iterator[StoredCorrection]):
    """Current corrections up to one id, read a page at a time as they are consumed."""

    def __init__(self, store: FeedbackStore, upto: int, selection: Selection = EVERY):
        self._store, self.upto, self.selection = store, upto, selection
        self._after = 0
        self._buffer: list[StoredCorrection] = []
        self._done = upto == 0

    def __next__(self) -> StoredCorrection:
        if not self._buffer and not self._done:
            self._buffer = self._store._page(self._after, self.upto, self.selection)
            self._buffer.reverse()  # popped from the end, oldest first
            self._done = len(self._buffer) < PAGE_ROWS
        if not self._buffer:
            self._done = True
            raise StopIteration
        row = self._buffer.pop()
        self._after = row.id
        return row

    def reviews(self) -> Iterator[Review]:
        """The same rows as the stats read them (no text), page by page; not the rows' iteration."""
        after = 0
        while self.upto:
            page = self._store._review_page(after, self.upto, self.selection)
            yield from (review for _, review in page)
            if len(page) < REVIEW_ROWS:
                return
            after = page[-1][0]

    def close(self) -> None:
        """Stop early (nothing is held between pages; kept for callers that close what they open)."""
        self._buffer, self._done = [], True
