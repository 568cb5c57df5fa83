"""Labeled data files, JSONL or CSV, read with errors that name the line.

JSONL: one ``{"text": str, "labels": [str, ...]}`` object per line; ``split`` and ``lang``
are kept when they are strings (the topic matcher reads them), other keys (``id``, metadata)
are ignored. CSV: a header with a ``text`` column and a ``labels``
column (labels separated by ``|``) and optionally ``id``; any other column is an error,
since a misnamed column would otherwise be silently dropped.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.jsonl import json_objects

CSV_COLUMNS = {"text", "labels", "id"}


class DataFileError(ValueError):
    """A data file cannot be read; the message names the file and the line."""


@dataclass(frozen=True)
class Example:
    text: str
    labels: tuple[str, ...]
    # The row's split ("train", "validation", "test") and language code, when the file names them.
    split: str | None = field(default=None, compare=False)
    lang: str | None = field(default=None, compare=False)


def _example(path: Path, number: int, text: Any, labels: Any, split: Any = None, lang: Any = None) -> Example:
    if not isinstance(text, str) or not text.strip():
        raise DataFileError(f"{path}:{number}: 'text' must be a non-empty string")
    if isinstance(labels, str):
        labels = [labels]
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x.strip() for x in labels):
        raise DataFileError(f"{path}:{number}: 'labels' must be a non-empty list of strings")
    return Example(text, tuple(dict.fromkeys(x.strip() for x in labels)),
                   split if isinstance(split, str) else None, lang if isinstance(lang, str) else None)


def _read_jsonl_rows(path: Path, handle) -> list[Example]:
    return [_example(path, number, row.get("text"), row.get("labels"), row.get("split"), row.get("lang"))
            for number, row in json_objects(handle, path, DataFileError)]


def _read_csv_rows(path: Path, handle) -> list[Example]:
    reader = csv.DictReader(handle)
    columns = set(reader.fieldnames or [])
    if not {"text", "labels"} <= columns:
        raise DataFileError(f"{path}:1: the header needs 'text' and 'labels' columns")
    unknown = sorted(columns - CSV_COLUMNS)
    if unknown:
        raise DataFileError(f"{path}:1: unknown column(s) {', '.join(unknown)}")
    examples = []
    for row in reader:
        number = reader.line_num
        if None in row:
            raise DataFileError(f"{path}:{number}: more fields than the header has columns")
        labels = [x for x in (row.get("labels") or "").split("|") if x.strip()]
        examples.append(_example(path, number, row.get("text"), labels))
    return examples


def read_labeled(path: Path, limit: int | None = None) -> list[Example]:
    """Read labeled examples from JSONL or CSV (by suffix), reporting the first bad row by line."""
    try:
        handle = path.open(encoding="utf-8", newline="" if path.suffix.lower() == ".csv" else None)
    except OSError as exc:
        raise DataFileError(f"{path}: {exc.strerror or exc}") from exc
    try:
        with handle:
            reader = _read_csv_rows if path.suffix.lower() == ".csv" else _read_jsonl_rows
            examples = reader(path, handle)
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{path}: not UTF-8 ({exc.reason})") from exc
    except csv.Error as exc:
        raise DataFileError(f"{path}: bad CSV ({exc})") from exc
    if not examples:
        raise DataFileError(f"{path}: no examples")
    return examples[:limit] if limit is not None else examples




def is_single_label(examples: list[Example]) -> bool:
    return all(len(e.labels) == 1 for e in examples)


def label_names(examples: list[Example]) -> list[str]:
    return sorted({x for e in examples for x in e.labels})


def fingerprint(path: Path, examples: list[Example]) -> dict[str, Any]:
    """What the model was trained on: the file's SHA-256, row count and label counts."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    counts = Counter(x for e in examples for x in e.labels)
    return {"file": path.name, "sha256": digest, "rows": len(examples), "label_counts": dict(sorted(counts.items()))}


def label_sets(path: Path) -> list[str]:
    """The taxonomies a feedback export's rows name ("(typed labels)" for null); [] when the
    rows name none (any other training file)."""
    if path.suffix.lower() != ".jsonl":
        return []
    found: set[str] = set()
    with path.open(encoding="utf-8-sig") as handle:
        for line in handle:
            try:
                row = json.loads(line)
            except ValueError:
                continue  # read_labeled has reported it
            if isinstance(row, dict) and "taxonomy" in row:
                found.add(str(row["taxonomy"]) if row["taxonomy"] is not None else "(typed labels)")
    return sorted(found)


def check_trainable(path: Path, train: list[Example], after_split: bool = True) -> None:
    """Refuse training data no model can be trained on, saying why (not a library's error
    from deep inside the fit). The whole file is checked first (``after_split`` False), so a
    file of one label is not blamed on the split."""
    where = f"{path}: once the validation split is held out, " if after_split else f"{path}: "
    more = "; give more articles, or a --validation file" if after_split else ""
    if len(train) < (1 if after_split else 2):
        raise DataFileError(f"{where}too few articles are left to train on{more or '; give at least two'}")
    labels = {x for e in train for x in e.labels}
    if len(labels) < 2:
        raise DataFileError(f"{where}every training article is labelled {next(iter(labels))!r}; a model needs "
                            f"at least two labels to choose between{more}")


def labels_never_trained(train: list[Example], validation: list[Example]) -> list[str]:
    """Labels of the validation data that no training article has: the model cannot learn them."""
    return sorted({x for e in validation for x in e.labels} - {x for e in train for x in e.labels})


def texts_in_both(train: list[Example], validation: list[Example]) -> int:
    """How many validation articles have a training article's very text (wire copy is
    often filed twice): each one flatters the validation scores."""
    seen = {_same_text(e.text) for e in train}
    return sum(_same_text(e.text) in seen for e in validation)


def _same_text(text: str) -> str:
    return " ".join(text.split())  # the same words, whatever the spacing and line breaks


def split_validation(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """A seeded random split: (train, validation). Articles with the same text (wire copy
    filed twice: 68 of BBC News's 1,787) go to the same side, so validation scores are
    on articles the model did not train on; without such copies the split is the plain
    seeded shuffle of the rows."""
    if not 0.0 < fraction < 1.0:
        raise DataFileError("--validation-split must be between 0 and 1")
    copies: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        copies.setdefault(_same_text(e.text), []).append(i)
    order = list(copies.values())
    random.Random(seed).shuffle(order)
    cut = max(1, round(len(examples) * fraction))
    held: list[int] = []
    for rows in order:
        if len(held) >= cut:
            break
        held += rows
    kept = set(held)
    return [e for i, e in enumerate(examples) if i not in kept], [examples[i] for i in held]
