"""Labeled data files: one ``{"text": str, "labels": [str, ...]}`` object per line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


class DataFileError(ValueError):
    """A data file cannot be read; the message names the file and the line."""


@dataclass(frozen=True)
class Example:
    text: str
    labels: tuple[str, ...]


def read_jsonl(path: Path, limit: int | None = None) -> list[Example]:
    """Read labeled examples, reporting the first bad row by line number."""
    examples: list[Example] = []
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(f"{path}: {exc.strerror or exc}") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataFileError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise DataFileError(f"{path}:{number}: each line must be a JSON object")
            text, labels = row.get("text"), row.get("labels")
            if not isinstance(text, str) or not text.strip():
                raise DataFileError(f"{path}:{number}: 'text' must be a non-empty string")
            if isinstance(labels, str):
                labels = [labels]
            if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x for x in labels):
                raise DataFileError(f"{path}:{number}: 'labels' must be a non-empty list of strings")
            examples.append(Example(text, tuple(labels)))
            if limit is not None and len(examples) >= limit:
                break
    if not examples:
        raise DataFileError(f"{path}: no examples")
    return examples


def is_single_label(examples: list[Example]) -> bool:
    return all(len(e.labels) == 1 for e in examples)
