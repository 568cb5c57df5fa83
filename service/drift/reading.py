"""Tag files read into counts: the output of ``service.batch`` or a feedback export.

A batch row is ``{"line", "id", "topics": [{"label", "score", ...}], "language", "warnings"}``
(or ``{"line", "id", "error"}``, left out and counted); a saved answer of POST /v1/classify
reads the same: one text's (``topics``) as a row, and each result of a documents answer
(``{"results": [...], "taxonomy"}``, one answer a line) as a row. A feedback export row
is ``{"text", "labels", "taxonomy", "model", "model_version"}`` (a training file's row
``{"text", "labels"}``, with ``taxonomy`` or not): the editors' labels, with no scores;
``model``, when not null, counts as the model of the row, and ``model_version`` is not read.
Files are streamed, so only the counts and one score per article stay in memory.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import NewstagError
from ..jsonl import json_objects, value_problem

BATCH, FEEDBACK, TRAINING = "batch output", "feedback export", "training data"


class DriftInputError(NewstagError):
    """A tag file cannot be read; the message names the file and the line."""


@dataclass
class TagSet:
    """What one period's tags add up to."""

    source: str
    kind: str
    articles: int = 0
    label_counts: Counter[str] = field(default_factory=Counter)
    no_topic: int = 0
    top_scores: array = field(default_factory=lambda: array("d"))  # articles with a topic; empty without scores
    languages: Counter[str] = field(default_factory=Counter)  # empty when the rows do not say
    models: Counter[str] = field(default_factory=Counter)  # which model tagged the rows, when they say
    failed: int = 0  # rows the job could not tag (with an error), left out
    other_taxonomies: Counter[str] = field(default_factory=Counter)  # rows left out by --taxonomy, by theirs
    taxonomies: Counter[str] = field(default_factory=Counter)  # the rows' taxonomies, where they name one
    taxonomy_unknown: int = 0  # rows kept although --taxonomy was given: they do not name theirs

    @property
    def has_scores(self) -> bool:
        return len(self.top_scores) > 0

    @property
    def skipped(self) -> int:
        return self.failed + sum(self.other_taxonomies.values())

    def left_out(self) -> str:
        """Which rows were left out and why: "2 lines the job could not tag; 46 of another
        taxonomy (news 40, iptc-top 6)", or "" when none were."""
        parts = [f"{self.failed} line{'s' if self.failed != 1 else ''} the job could not tag"] if self.failed else []
        if self.other_taxonomies:
            others = sum(self.other_taxonomies.values())
            named = ", ".join(f"{name} {n}" for name, n in sorted(self.other_taxonomies.items(), key=lambda x: -x[1]))
            parts.append(f"{others} of another taxonomy ({named})")
        return "; ".join(parts)

    def summary(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, "articles": self.articles, "skipped": self.skipped}


def _labels_of(where: str, row: dict[str, Any]) -> tuple[list[str], float | None]:
    """A row's distinct labels and its top score (None for rows without scores)."""
    if "topics" in row:
        topics = row["topics"]
        if not isinstance(topics, list) or not all(isinstance(t, dict) and _is_label(t.get("label"))
                                                   for t in topics):
            raise DriftInputError(f"{where}: 'topics' must be a list of objects with a non-empty 'label'")
        if any("score" in t and not _is_score(t["score"]) for t in topics):
            raise DriftInputError(f"{where}: a topic's 'score' must be a number from 0 to 1")
        scores = [t["score"] for t in topics if "score" in t]
        return list(dict.fromkeys(t["label"] for t in topics)), max(scores) if scores else None
    labels = row.get("labels")
    # A correction names at least one topic (the API refuses an empty list): [] is no editor's answer.
    if not isinstance(labels, list) or not labels or not all(_is_label(x) for x in labels):
        raise DriftInputError(f"{where}: a row needs 'topics' (batch output) or 'labels' (feedback export), "
                              "its labels a non-empty list of non-empty strings")
    return list(dict.fromkeys(labels)), None


def _is_label(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_score(value: Any) -> bool:
    # nan and 7 passed before, and --json then printed NaN, which is not JSON.
    return isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= 1.0


# The fields whose strings the report prints: a lone surrogate ("\ud800") in one crashed it at the end.
PRINTED = ("topics", "labels", "language", "model", "taxonomy")

# Rows with "taxonomy": null (feedback: labels an editor typed; bulk: --labels or a fine-tuned
# model's own labels); --taxonomy "" keeps them, as the export's ?taxonomy= gives them, and so
# does --taxonomy "(typed labels)", the name the notes print.
TYPED_LABELS = "(typed labels)"


def read_tags(path: Path, taxonomy: str | None = None) -> TagSet:
    """Count a tag file's labels, no-topic articles, top scores and languages.

    ``taxonomy`` keeps only the rows of that taxonomy: feedback and bulk rows name it
    ("" or TYPED_LABELS keeps those of none: typed labels, --labels, a fine-tuned model's
    own); service.batch's rows do not, and are all kept.
    """
    if taxonomy == "":
        taxonomy = TYPED_LABELS
    if path.suffix.lower() == ".parquet":
        raise DriftInputError(f"{path}: Parquet is not read here (JSONL only): tag the period with newstag "
                              "batch, or newstag bulk --format jsonl")
    try:
        handle = path.open(encoding="utf-8-sig")  # a byte-order mark before the first row is not part of it
    except OSError as exc:
        raise DriftInputError(f"{path}: {exc.strerror or exc}") from exc
    tags = TagSet(source=str(path), kind="")
    with handle:
        try:
            for number, line_row in json_objects(handle, path, DriftInputError):
                for where, row in _rows(f"{path}:{number}", line_row):
                    _add(tags, where, row, taxonomy)
        except UnicodeDecodeError as exc:
            raise DriftInputError(f"{path}: not UTF-8 ({exc.reason})") from exc
    if not tags.articles:
        which = ("" if taxonomy is None else " with typed labels" if taxonomy == TYPED_LABELS
                 else f" of taxonomy {taxonomy!r}")
        left_out = f" (rows left out: {tags.left_out()})" if tags.skipped else ""
        raise DriftInputError(f"{path}: no tagged articles{which}{left_out}")
    return tags


def _rows(where: str, row: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """A line's rows: the line itself, or each result of a saved ``{"results": [...]}`` answer
    of POST /v1/classify (the taxonomy, named once beside them, given to each)."""
    if "results" not in row or "topics" in row or "labels" in row:
        yield where, row
        return
    results = row["results"]
    if not isinstance(results, list) or not all(isinstance(x, dict) for x in results):
        raise DriftInputError(f"{where}: 'results' must be a list of objects (a saved POST /v1/classify answer)")
    for i, result in enumerate(results):
        yield f"{where}: results[{i}]", ({"taxonomy": row["taxonomy"], **result} if "taxonomy" in row else result)


def _add(tags: TagSet, where: str, row: dict[str, Any], taxonomy: str | None) -> None:
    if row.get("error") is not None and not row.get("topics"):
        tags.failed += 1  # the batch or bulk job could not tag this line (bulk writes "topics": null)
        return
    for key in PRINTED:
        if (problem := value_problem(row.get(key))) is not None:  # the report could not print it
            raise DriftInputError(f"{where}: {key!r} {problem}")
    kind = BATCH if "topics" in row else FEEDBACK
    if tags.kind and kind != tags.kind:
        raise DriftInputError(f"{where}: a {kind} row in a file of {tags.kind} rows")
    tags.kind = kind
    if kind == FEEDBACK or "taxonomy" in row:  # bulk rows name theirs too; service.batch's do not
        row_taxonomy = str(row["taxonomy"]) if row.get("taxonomy") is not None else TYPED_LABELS
        if taxonomy is not None and row_taxonomy != taxonomy:
            tags.other_taxonomies[row_taxonomy] += 1
            return
        tags.taxonomies[row_taxonomy] += 1
    elif taxonomy is not None:
        tags.taxonomy_unknown += 1
    labels, top = _labels_of(where, row)
    tags.articles += 1
    tags.label_counts.update(labels)
    if not labels:
        tags.no_topic += 1
    elif top is not None:
        tags.top_scores.append(float(top))
    if isinstance(row.get("language"), str):
        tags.languages[row["language"]] += 1
    model = row.get("model")
    model = model.get("name") if isinstance(model, dict) else model  # an API answer names it in an object
    if isinstance(model, str):
        tags.models[model] += 1
