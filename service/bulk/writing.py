"""Writing one output shard: one row per record, written to a temporary name and renamed,
so a shard is either all there or not there at all.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from .records import ShardRecords

EVIDENCE = pa.struct([("text", pa.string()), ("start", pa.int64()), ("end", pa.int64()), ("score", pa.float64())])
WARNINGS = pa.list_(pa.struct([("code", pa.string()), ("message", pa.string())]))
TMP_MARK = ".tmp-"  # in the names of shards being written; left over only by a killed run


def topic_type(evidence: bool) -> pa.DataType:
    fields = [("label", pa.string()), ("score", pa.float64()), ("code", pa.string())]
    return pa.list_(pa.struct(fields + ([("evidence", pa.list_(EVIDENCE))] if evidence else [])))


@dataclass(frozen=True)
class Stamp:
    """What produced the rows, on every row: a table of millions of rows says it itself."""

    model: str
    model_version: str
    taxonomy: str | None
    evidence: bool


def write_shard(path: Path, records: ShardRecords, outcomes: list[dict[str, Any]], stamp: Stamp,
                input_file: str) -> None:
    """``outcomes[i]``: record i's ``topics`` (a list of topic dicts) or ``error``."""
    tmp = path.with_name(f".{path.name}{TMP_MARK}{uuid.uuid4().hex[:8]}")
    try:
        if path.suffix == ".parquet":
            _write_parquet(tmp, records, outcomes, stamp, input_file)
        else:
            _write_jsonl(tmp, records, outcomes, stamp, input_file)
        os.replace(tmp, path)  # atomic: readers and restarts see the whole shard or none of it
    finally:
        tmp.unlink(missing_ok=True)


def _ours(records: ShardRecords, outcomes: list[dict[str, Any]], stamp: Stamp, input_file: str) -> dict[str, list]:
    """The columns the output adds, apart from the carried ones (``id`` first)."""
    n = len(records.records)
    return {
        "id": [r.id for r in records.records],
        "topics": [o.get("topics") for o in outcomes],
        # Why topics may be missing or unreliable (not news, a language the model does not read), as the API says.
        "warnings": [o.get("warnings") for o in outcomes],
        "error": [o.get("error") for o in outcomes],
        # Each row's own model when routing by language sent it to the multilingual one.
        "model": [o.get("model", stamp.model) for o in outcomes],
        "model_version": [o.get("model_version", stamp.model_version) for o in outcomes],
        "taxonomy": [stamp.taxonomy] * n,
        "input_file": [input_file] * n,
        "input_row": [r.row for r in records.records],
    }


def _write_parquet(tmp: Path, records: ShardRecords, outcomes: list[dict[str, Any]], stamp: Stamp,
                   input_file: str) -> None:
    import pyarrow.parquet as pq

    ours = _ours(records, outcomes, stamp, input_file)
    types = {"id": pa.string(), "topics": topic_type(stamp.evidence), "warnings": WARNINGS, "error": pa.string(),
             "model": pa.string(),
             "model_version": pa.string(), "taxonomy": pa.string(), "input_file": pa.string(),
             "input_row": pa.int64()}
    carried = records.carried if records.carried is not None else _carried_table(records)
    columns = {"id": pa.array(ours.pop("id"), pa.string())}
    columns.update({name: carried.column(name) for name in carried.column_names})
    columns.update({name: pa.array(values, types[name]) for name, values in ours.items()})
    pq.write_table(pa.table(columns), tmp)
    with tmp.open("rb") as handle:
        os.fsync(handle.fileno())  # on disk before the rename makes it count as done


def _carried_table(records: ShardRecords) -> pa.Table:
    """JSONL fields as string columns: a string as it is, any other JSON value (a number,
    true, a list, an object) as JSON text. One type per field whatever a shard holds, so the
    shards of a job read as one table: typed shard by shard, a field null in one shard and
    text in the next could not be read together, and {} had no Parquet type at all (the
    shard failed on every run)."""
    names: dict[str, None] = {}
    for record in records.records:
        names.update(dict.fromkeys(record.carried))
    columns = {}
    for name in names:
        values = [record.carried.get(name) for record in records.records]
        columns[name] = pa.array([v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                                  for v in values], pa.string())
    return pa.table(columns)


def _jsonable(value: Any) -> Any:
    """A Parquet value as strict JSON: NaN and infinities null (JSON has none: other readers
    refused the lines), bytes as base64, dates and times in ISO 8601, decimals as text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)  # Decimal, timedelta, ...


def _write_jsonl(tmp: Path, records: ShardRecords, outcomes: list[dict[str, Any]], stamp: Stamp,
                 input_file: str) -> None:
    ours = _ours(records, outcomes, stamp, input_file)
    carried = (records.carried.to_pylist() if records.carried is not None
               else [record.carried for record in records.records])
    with tmp.open("w", encoding="utf-8") as out:
        for i, values in enumerate(carried):
            row = {"id": ours["id"][i], **values, **{name: ours[name][i] for name in ours if name != "id"}}
            out.write(json.dumps(_jsonable(row), ensure_ascii=False, allow_nan=False) + "\n")
        out.flush()
        os.fsync(out.fileno())
