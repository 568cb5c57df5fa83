"""Bringing a feedback table made by an older newstag up to date, once, on first use.

Tables made before ``model_version`` existed lack that column, and their content hashes
were taken before texts were put in NFC form: a text stored decomposed (NFD, as some
CMS exports and macOS write accents) would count as a second text once corrected again.
The hashes are recomputed first and the column added last, in one transaction: the
column is what marks a table as upgraded, so an upgrade cut short is simply done again.
Since session 44 the hash also ignores a byte order mark or direction mark at a text's ends;
a table of the current columns keeps the hashes its rows were stored with (such a row and
its text corrected again since count as two) until the next added column recomputes them all.
"""

from __future__ import annotations

import logging

from sqlalchemy import inspect, select, update
from sqlalchemy.engine import Connection, Dialect

from .records import content_hash
from .tables import feedback

log = logging.getLogger("newstag.feedback")
# Columns newstag can add to an older table; any other missing column means a foreign table.
ADDED_COLUMNS = frozenset({"model_version"})
PAGE_ROWS = 200


def add_column_sql(dialect: Dialect, name: str) -> str:
    """The ALTER TABLE that adds one of ADDED_COLUMNS, in the dialect's words (also for a DBA to run)."""
    column = feedback.c[name]
    quote = dialect.identifier_preparer.quote
    # PostgreSQL: two workers upgrading at once must not collide (SQLite has no IF NOT EXISTS
    # here; the store waits out its "duplicate column name" and looks again).
    guard = "IF NOT EXISTS " if dialect.name == "postgresql" else ""
    return (f"ALTER TABLE {quote(feedback.name)} ADD COLUMN {guard}{quote(name)} "
            f"{column.type.compile(dialect=dialect)}")


def upgrade_table(connection: Connection, missing: set[str]) -> int:
    """Recompute the content hashes an older newstag took, then add the ``missing`` columns.

    Needs UPDATE and ALTER on the table (its owner); returns how many hashes changed.
    """
    statements = [add_column_sql(connection.dialect, name) for name in sorted(missing)]
    log.warning("table %s was made by an older newstag: recomputing content hashes (texts not in NFC form) "
                "and adding column(s) %s; a role that may not alter the table fails here: open the store "
                "once as the table's owner, or have it run: %s", feedback.name, ", ".join(sorted(missing)),
                "; ".join(statements))
    if connection.dialect.name == "postgresql":
        # Two workers upgrading at once would each hold the table (the rehash's reads) while
        # asking for it alone (ALTER): a deadlock, one worker's 503. The first to come takes
        # this transaction-scoped lock (no table privilege needed); the second waits, then
        # finds the table upgraded and leaves it be.
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock(hashtext('{feedback.name} upgrade'))")
        if not missing & missing_columns(connection):
            return 0
    rehashed = _rehash(connection)
    for statement in statements:
        connection.exec_driver_sql(statement)
    log.warning("table %s upgraded: %d content hash(es) recomputed", feedback.name, rehashed)
    return rehashed


def missing_columns(connection: Connection) -> set[str]:
    """The table's columns newstag knows that it lacks, read afresh (not from a cached inspection)."""
    return {c.name for c in feedback.columns} - {c["name"] for c in inspect(connection).get_columns(feedback.name)}


def _rehash(connection: Connection) -> int:
    """Give every row the hash content_hash gives its text now; return how many changed."""
    changed, after = 0, 0
    while True:
        page = connection.execute(select(feedback.c.id, feedback.c.text, feedback.c.content_hash)
                                  .where(feedback.c.id > after).order_by(feedback.c.id).limit(PAGE_ROWS)).all()
        if not page:
            return changed
        for row in page:
            fresh = content_hash(row.text)
            if fresh != row.content_hash:  # rare: only texts that were not in NFC form
                connection.execute(update(feedback).where(feedback.c.id == row.id).values(content_hash=fresh))
                changed += 1
        after = page[-1].id
