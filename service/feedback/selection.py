"""Which corrections an export or the stats read: the selection, and the query of the current ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, select, true

from .tables import feedback


@dataclass(frozen=True)
class Selection:
    """Which corrections an export or the stats cover: by default, every one."""

    by_model: bool = False  # True: only those that named ``model`` (None: those that named none)
    model: str | None = None
    since: datetime | None = None  # only those made at or after this moment (timezone-aware)
    by_taxonomy: bool = False  # True: only those of ``taxonomy`` (None: typed labels)
    taxonomy: str | None = None

    def where(self, table: Any) -> ColumnElement[bool]:
        """The condition on ``table`` (the feedback table or an alias of it)."""
        condition: ColumnElement[bool] = true()
        if self.by_model:
            condition = condition & (table.c.model.is_(None) if self.model is None else table.c.model == self.model)
        if self.by_taxonomy:
            condition = condition & (table.c.taxonomy.is_(None) if self.taxonomy is None
                                     else table.c.taxonomy == self.taxonomy)
        if self.since is not None:
            # In UTC, as created_at is written (SQLite keeps the wall-clock time, not its zone).
            condition = condition & (table.c.created_at >= self.since.astimezone(UTC))
        return condition


EVERY = Selection()


def current_query(after: int, upto: int, selection: Selection, rows: int, *columns: Any) -> Select[Any]:
    """Up to ``rows`` current corrections with ids in (after, upto], as ``columns``."""
    newer = feedback.alias("newer")
    # Replaced only by a newer one of the same model, when a model is asked for; a newer
    # one before ``since`` cannot exist (ids grow with time), so that needs no condition.
    same = Selection(selection.by_model, selection.model).where(newer)
    replaced = (select(newer.c.id)
                .where(newer.c.content_hash == feedback.c.content_hash,
                       newer.c.taxonomy.is_not_distinct_from(feedback.c.taxonomy),
                       newer.c.id > feedback.c.id, newer.c.id <= upto, same)
                .exists())
    return (select(*columns).where(feedback.c.id > after, feedback.c.id <= upto, selection.where(feedback),
                                   ~replaced)
            .order_by(feedback.c.id).limit(rows))
