"""Counts over current corrections: labels, and how often editors changed the model's answer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

NO_MODEL = "(none)"  # a correction that did not name its model (as /metrics labels it)


def _sorted(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


@dataclass(frozen=True)
class Review:
    """What the stats read of a correction: never its text (up to 100,000 characters a row)."""

    labels: tuple[str, ...]
    predicted: tuple[str, ...] | None  # None: no prediction was sent
    model: str | None

    @property
    def changed(self) -> bool | None:
        return None if self.predicted is None else set(self.predicted) != set(self.labels)


def summarize(current: Iterable[Review], submissions: int) -> dict[str, Any]:
    """Stats over each text's current correction; ``submissions`` counts history too."""
    labels: Counter[str] = Counter()
    added: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    by_model: dict[str, Counter[str]] = {}
    corrections = reviewed = changed = 0
    for row in current:
        corrections += 1
        labels.update(row.labels)
        if row.predicted is None:
            continue  # no prediction was sent: nothing to compare with
        reviewed += 1
        changed += bool(row.changed)
        added.update(set(row.labels) - set(row.predicted))
        removed.update(set(row.predicted) - set(row.labels))
        model = by_model.setdefault(row.model or NO_MODEL, Counter())
        model["reviewed"] += 1
        model["changed"] += bool(row.changed)
    return {
        "corrections": corrections,
        "submissions": submissions,
        "labels": _sorted(labels),
        "reviewed": reviewed,
        "changed": changed,
        "changed_rate": round(changed / reviewed, 4) if reviewed else None,
        "added": _sorted(added),
        "removed": _sorted(removed),
        "models": {name: {"reviewed": c["reviewed"], "changed": c["changed"]} for name, c in sorted(by_model.items())},
    }
