"""Labeled data files, JSONL or CSV, read with errors that name the line.

JSONL (``.jsonl``): one ``{"text": str, "labels": [str, ...]}`` object per line; ``split`` and ``lang``
are kept when they are strings (the topic matcher reads them), other keys (``id``, metadata)
are ignored. A text with HTML is read as the service reads it (service/engine/page_article.py).
CSV (``.csv``): a header with a ``text`` column and a ``labels``
column (labels separated by ``|``) and optionally ``id``; any other column is an error,
since a misnamed column would otherwise be silently dropped.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from service.engine.page_article import as_read
from service.engine.validation import is_unicode
from service.jsonl import json_objects

from .data_checks import data_warnings, same_text

CSV_COLUMNS = {"text", "labels", "id"}
NOT_UNICODE = "is not valid Unicode (a lone surrogate, such as the JSON escape \\ud800)"


class DataFileError(ValueError):
    """A data file cannot be read; the message names the file and the line."""


@dataclass(frozen=True)
class Example:
    text: str
    labels: tuple[str, ...]
    # The row's split ("train", "validation", "test") and language code, when the file names them.
    split: str | None = field(default=None, compare=False)
    lang: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)  # in the file it was read from
    labels_as_string: bool = field(default=False, compare=False)  # JSONL "labels": "sport" rather than a list


def _example(path: Path, number: int, text: Any, labels: Any, split: Any = None, lang: Any = None,
             at: str | None = None) -> Example:
    """The row as an Example, or an error naming it (``at``: where, when not "path:number")."""
    at = at or f"{path}:{number}"
    if not isinstance(text, str) or not text.strip():
        raise DataFileError(f"{at}: 'text' must be a non-empty string")
    if not is_unicode(text):  # the tokenizer would fail on it deep inside training, with a traceback
        raise DataFileError(f"{at}: 'text' {NOT_UNICODE}")
    as_string = isinstance(labels, str)
    if isinstance(labels, str):
        labels = [labels]
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x.strip() for x in labels):
        raise DataFileError(f"{at}: 'labels' must be a non-empty list of strings")
    if not all(is_unicode(x) for x in labels):  # label names are embedded, stored and printed
        raise DataFileError(f"{at}: 'labels' {NOT_UNICODE}")
    # Read as the service reads it (HTML's markup blanked, a whole page as its headline and article).
    read = as_read(text)
    if not read.strip():  # "<p>&nbsp;</p>": it trained as an empty article, a "copy" of every other such row
        raise DataFileError(f"{at}: 'text' has no words once its HTML markup is removed, as the "
                            "service reads it")
    return Example(read, tuple(dict.fromkeys(x.strip() for x in labels)),
                   split if isinstance(split, str) else None, lang if isinstance(lang, str) else None, number,
                   as_string)


def _read_jsonl_rows(path: Path, handle: TextIO) -> list[Example]:
    return [_example(path, number, row.get("text"), row.get("labels"), row.get("split"), row.get("lang"))
            for number, row in json_objects(handle, path, DataFileError) if _has_fields(path, number, row)]


def _has_fields(path: Path, number: int, row: dict[str, Any]) -> bool:
    """True, or an error naming the keys the row has: a row of "label" (as many public data sets
    name it) or "body" was told only that 'labels' must be a list, or 'text' a string."""
    for name in ("text", "labels"):
        if name not in row:
            keys = ", ".join(repr(k) for k in row) or "none"
            hint = " ('labels' is plural: a list of labels, or one label as a string)" if "label" in row else ""
            raise DataFileError(f"{path}:{number}: the row has no '{name}' key; its keys: {keys}{hint}")
    return True


def _header_problem(path: Path, columns: list[str]) -> str:
    """Why a CSV header lacks 'text' and 'labels', naming what it has and the likely cause."""
    found = ", ".join(repr(c) for c in columns) or "no columns"
    message = f"{path}:1: the header needs 'text' and 'labels' columns; it has {found}"
    if len(columns) == 1 and (delimiter := next((d for d in ";\t" if d in columns[0]), None)):
        return message + f" (the delimiter looks like {delimiter!r}: a CSV file separates columns with ',')"
    if {"text", "labels"} <= {c.strip().lower() for c in columns}:
        return message + " (column names are case-sensitive, without spaces: 'text' and 'labels')"
    return message


def _read_csv_rows(path: Path, handle: TextIO) -> list[Example]:
    reader = csv.DictReader(handle)
    columns = list(reader.fieldnames or [])
    if not {"text", "labels"} <= set(columns):
        raise DataFileError(_header_problem(path, columns))
    unknown = sorted(set(columns) - CSV_COLUMNS)
    if unknown:
        raise DataFileError(f"{path}:1: unknown column(s) {', '.join(unknown)}: a labelled CSV has only 'text', "
                            "'labels' and optionally 'id' (another column is refused rather than dropped, as a "
                            "headline or a misspelt column would be lost unseen); remove it, or join a headline "
                            "column to the text")
    examples = []
    for record, row in enumerate(reader, start=2):  # the header is row 1
        number = reader.line_num
        at = _csv_place(path, number, record)
        if None in row:
            raise DataFileError(f"{at}: more fields than the header has columns")
        labels = [x for x in (row.get("labels") or "").split("|") if x.strip()]
        examples.append(_example(path, number, row.get("text"), labels, at=at))
    return examples


def _csv_place(path: Path, line: int, record: int) -> str:
    """"path:line", and the row a spreadsheet shows when they differ: an article's paragraphs are
    lines of one cell, so the 22nd row of a CMS export was reported as line 206 of the file (blank
    lines, which the reader skips, are not counted)."""
    return f"{path}:{line}" + (f" (spreadsheet row {record})" if line != record else "")


READERS: dict[str, Callable[[Path, TextIO], list[Example]]] = {
    ".jsonl": _read_jsonl_rows, ".ndjson": _read_jsonl_rows, ".csv": _read_csv_rows}  # .ndjson: as bulk reads it


def _line_of_byte(path: Path, exc: UnicodeDecodeError) -> str:
    """":LINE" of the first byte that is not UTF-8, as bad rows are reported ("" if it cannot be found)."""
    try:
        data = path.read_bytes()
        data.decode("utf-8-sig")
    except UnicodeDecodeError as first:  # the reader's own offset is within a chunk, not the file
        line = data.count(b"\n", 0, first.start) + 1
        return f":{line}"
    except OSError:
        return ""
    return ""


def _encoding_hint(path: Path) -> str:
    """How to make the file UTF-8: a newsroom's spreadsheet saves Windows-1252 ("CSV") or UTF-16
    ("Unicode Text") unless told otherwise, and "invalid start byte" alone says neither."""
    try:
        with path.open("rb") as handle:
            utf16 = handle.read(2) in (b"\xff\xfe", b"\xfe\xff")
    except OSError:
        return ""
    if utf16:
        return ("; it is UTF-16 (a spreadsheet's \"Unicode Text\"): save it as \"CSV UTF-8\", or convert it "
                f"(iconv -f utf-16 -t utf-8 {path.name} > {path.stem}-utf8{path.suffix})")
    return ("; save it as UTF-8 (a spreadsheet's \"CSV UTF-8\"), or convert it, e.g. from Windows-1252: "
            f"iconv -f windows-1252 -t utf-8 {path.name} > {path.stem}-utf8{path.suffix}")


def read_labeled(path: Path, limit: int | None = None) -> list[Example]:
    """Read labeled examples from JSONL or CSV (by suffix), reporting the first bad row by line
    and warning (stderr) about labels that look like mistakes."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:  # a .tsv or .txt read as JSONL failed on its first line with a JSON error
        json_file = path.suffix.lower() == ".json"
        array = " (a JSON array converts with jq -c '.[]' file.json > file.jsonl)" if json_file else ""
        raise DataFileError(f"{path}: unknown file type {path.suffix or '(no extension)'!r}: "
                            f"training data is .jsonl (or .ndjson) or .csv{array}")
    try:
        # utf-8-sig: Excel's "CSV UTF-8" (and some editors) start the file with a byte-order mark.
        handle = path.open(encoding="utf-8-sig", newline="" if reader is _read_csv_rows else None)
    except OSError as exc:
        raise DataFileError(f"{path}: {exc.strerror or exc}") from exc
    try:
        with handle:
            examples = reader(path, handle)
    except UnicodeDecodeError as exc:
        where = f"{path}{_line_of_byte(path, exc)}"
        raise DataFileError(f"{where}: not UTF-8 ({exc.reason}){_encoding_hint(path)}") from exc
    except csv.Error as exc:
        raise DataFileError(f"{path}: bad CSV ({exc})") from exc
    if not examples:
        raise DataFileError(f"{path}: no examples")
    examples = examples[:limit] if limit is not None else examples
    for warning in data_warnings(path, examples, csv_labels=reader is _read_csv_rows):
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    return examples


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
    seen = {same_text(e.text) for e in train}
    return sum(same_text(e.text) in seen for e in validation)


def split_validation(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """A seeded random split: (train, validation). Articles with the same text (wire copy
    filed twice: 68 of BBC News's 1,787) go to the same side, so validation scores are
    on articles the model did not train on; without such copies the split is the plain
    seeded shuffle of the rows. A label's last training articles are never held out: the
    model would carry a label it never learnt (a label of one article, 'rye' in Reuters at
    seed 42, was one). Validation may then be empty: the caller says why."""
    if not 0.0 < fraction < 1.0:
        raise DataFileError(f"--validation-split must be above 0 and below 1, not {fraction:g}: every run measures "
                            "its model on articles it did not train on; hold out a share of --train, or give a "
                            "--validation file")
    copies: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        copies.setdefault(same_text(e.text), []).append(i)
    order = list(copies.values())
    random.Random(seed).shuffle(order)
    cut = max(1, round(len(examples) * fraction))
    left = Counter(x for e in examples for x in e.labels)  # each label's articles still in training
    held: list[int] = []
    for rows in order:
        if len(held) >= cut:
            break
        taken = Counter(x for i in rows for x in examples[i].labels)
        if any(left[x] <= n for x, n in taken.items()):
            continue  # the last of a label's articles: kept for training
        left -= taken
        held += rows
    kept = set(held)
    return [e for i, e in enumerate(examples) if i not in kept], [examples[i] for i in held]
