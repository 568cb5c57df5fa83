"""Reading one shard's records: each with its id and text, or the reason it has none.

Columns other than ``id`` and ``text`` are carried to the output untouched: for Parquet
as the input's own Arrow columns, for JSONL as the parsed values.
"""

from __future__ import annotations

import codecs
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..jsonl import BadLine, is_unicode, parse_json, value_problem
from ..tagging import text_problem
from .plan import RESERVED, Shard

if TYPE_CHECKING:  # pyarrow is the bulk job's: newstag batch reads its lines here without it
    import pyarrow as pa

MAX_ID_CHARS = 200  # as the API's document ids
# A carried JSONL field may nest lists and objects this deep: the reader takes a few hundred
# levels, but the JSONL writer (writing._jsonable) recurses in Python and failed the whole
# shard on a field nested 500 deep.
MAX_CARRIED_DEPTH = 100


@dataclass
class Record:
    row: int  # 1-based line (JSONL) or row (Parquet) in its file
    id: str | None = None
    text: str | None = None  # None when the record cannot be tagged
    error: str | None = None
    carried: dict[str, Any] = field(default_factory=dict)  # JSONL only


@dataclass
class ShardRecords:
    records: list[Record]
    carried: pa.Table | None = None  # Parquet: the other columns, one row per record


def read_shard(shard: Shard, settings: Settings) -> ShardRecords:
    return _read_jsonl(shard, settings) if shard.kind == "jsonl" else _read_parquet(shard, settings)


def _read_jsonl(shard: Shard, settings: Settings) -> ShardRecords:
    with open(shard.path, "rb") as handle:
        handle.seek(shard.start)
        data = handle.read(shard.end - shard.start)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # after the last newline
    records = []
    for number, raw in enumerate(lines, start=shard.first_row):
        if raw.strip():
            records.append(_jsonl_record(number, raw, settings))
    return ShardRecords(records)


def _jsonl_record(number: int, raw: bytes, settings: Settings) -> Record:
    record, row = parse_line(number, raw, settings, id_required=True)
    if row is None:
        return record
    record.carried = row
    clash = sorted(set(row) & set(RESERVED))
    if clash and record.error is None:
        record.text, record.error = None, (f"line {number}: field(s) {', '.join(clash)} would be overwritten "
                                           "by the output's: rename them")
    for name in clash:
        del row[name]  # the output's own column keeps its meaning
    for name in list(row):
        problem = value_problem(name) or value_problem(row[name], MAX_CARRIED_DEPTH)
        if problem is not None:  # it could not be written, in the error row either: left out
            del row[name]
            if record.error is None:
                record.text, record.error = None, f"line {number}: field {name!r} {problem}"
    return record


def parse_line(number: int, raw: bytes, settings: Settings, id_required: bool) -> tuple[Record, dict[str, Any] | None]:
    """One JSONL line (its number in the file, the bytes without the newline) as a record, and the
    object's other fields (None when the line is not a JSON object). Shared with ``service.batch``."""
    if number == 1:
        raw = raw.removeprefix(codecs.BOM_UTF8)  # as editors and spreadsheets save "UTF-8"
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Record(number, error=f"line {number}: not valid UTF-8 (byte {exc.start})"), None
    try:
        row = parse_json(line)
    except BadLine as exc:  # invalid JSON, a number of over 4,300 digits, nesting too deep to read
        return Record(number, error=f"line {number}: {exc}"), None
    if not isinstance(row, dict):
        return Record(number, error=f"line {number}: not a JSON object"), None
    ident, text = row.pop("id", None), row.pop("text", None)
    return _checked(Record(number), ident, text, settings, f"line {number}", id_required), row


def _read_parquet(shard: Shard, settings: Settings) -> ShardRecords:
    import pyarrow.parquet as pq

    table = pq.ParquetFile(shard.path).read_row_group(shard.row_group).slice(shard.start, shard.rows)
    ids, texts = table.column("id").to_pylist(), table.column("text").to_pylist()
    records = [_checked(Record(shard.first_row + i), ident, text, settings, f"row {shard.first_row + i}")
               for i, (ident, text) in enumerate(zip(ids, texts, strict=True))]
    return ShardRecords(records, table.drop_columns(["id", "text"]))


def _checked(record: Record, ident: Any, text: Any, settings: Settings, where: str,
             id_required: bool = True) -> Record:
    """The record with its id and text, or with the first reason it cannot be tagged."""
    if isinstance(ident, float) and math.isnan(ident):
        ident = None  # a missing id in a pandas column of numbers
    elif isinstance(ident, float) and ident.is_integer():
        ident = int(ident)  # pandas stores an integer column with a missing value as floats: 17.0
    if isinstance(ident, int) and not isinstance(ident, bool):
        ident = str(ident)
    if isinstance(ident, str) and not is_unicode(ident):  # could not be written to the output
        record.error = f"{where}: 'id' is not valid Unicode (it has a lone surrogate)"
    elif isinstance(ident, str) and 0 < len(ident) <= MAX_ID_CHARS:
        record.id = ident
    elif ident is None:
        if id_required:
            record.error = f"{where}: no 'id'"
    else:
        record.error = f"{where}: 'id' must be a string of 1 to {MAX_ID_CHARS} characters or a whole number"
    if text is None:
        record.error = record.error or f"{where}: no 'text'"
    elif (problem := text_problem(text, settings)) is not None:
        record.error = record.error or f"{where}: {problem}"
    if record.error is None:
        record.text = text
    return record
