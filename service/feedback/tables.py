"""The feedback table: append-only, one row per correction.

Rows are never updated (but once, by upgrade.py, when an older table's hashes are
recomputed): a text's current labels are its newest row (highest id for its content
hash), and older rows are its history. Appending only means concurrent writers
never read-modify-write, so they cannot lose each other's corrections.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateIndex, CreateTable

metadata = MetaData()

feedback = Table(
    "newstag_feedback", metadata,
    # BIGINT on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("content_hash", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("taxonomy", String(200)),
    Column("model", String(200)),
    Column("predicted", JSON(none_as_null=True)),  # SQL NULL when no prediction was sent
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Added after the first release: upgrade.py adds it to a table made without it.
    Column("model_version", String(64)),
)
by_hash = Index("ix_newstag_feedback_content_hash_id", feedback.c.content_hash, feedback.c.id)


def create_schema(connection: Connection) -> None:
    # IF NOT EXISTS, so several workers starting at once do not race on a check-then-create.
    connection.execute(CreateTable(feedback, if_not_exists=True))
    connection.execute(CreateIndex(by_hash, if_not_exists=True))
