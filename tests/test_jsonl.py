"""Reading JSON lines (service/jsonl.py) as the batch and bulk jobs do: lines that Python's
JSON reader refuses with other errors than JSONDecodeError, and valid JSON that cannot be
written back out, each become one error row; no exception, and the shard is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.bulk.plan import plan
from service.bulk.records import read_shard
from service.config import Settings
from service.jsonl import BadLine, parse_json, value_problem

TEXT = "Oil prices rose sharply as OPEC announced production cuts."


def line(ident: str, extra: str = "") -> str:
    """A JSONL line as written, escapes and all: ``ident`` is the id's JSON, ``extra`` more fields."""
    return '{"id": ' + ident + ', "text": "' + TEXT + '"' + extra + "}"


# (the line, the start of its error); the good lines around them must still be read.
BAD = [
    (line('"big"', ', "n": ' + "1" * 5000), "the JSON has a number too long to read"),
    (line('"deep"', ', "n": ' + "[" * 100_000 + "]" * 100_000), "the JSON is nested too deeply to read"),
    (line('"\\ud800"'), "'id' is not valid Unicode (it has a lone surrogate)"),
    (line('"f"', ', "author": "\\ud800"'), "field 'author' is not valid Unicode"),
    (line('"g"', ', "meta": {"names": ["ok", "\\udc80"]}'), "field 'meta' is not valid Unicode"),
    (line('"h"', ', "meta": {"\\udc80": 1}'), "field 'meta' is not valid Unicode"),
    (line('"i"', ', "\\ud800": 1'), "field '\\ud800' is not valid Unicode"),
    (line('"j"', ', "n": ' + "[" * 600 + "]" * 600), "field 'n' is nested more than 100"),
]


def shard_file(tmp_path: Path) -> Path:
    good = json.dumps({"id": "ok", "text": TEXT, "section": "energy"})
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join([good] + [line for line, _ in BAD] + [good]) + "\n", encoding="utf-8")
    return path


def test_every_bad_line_is_one_error_record_and_the_good_ones_are_read(tmp_path):
    [shard] = plan([shard_file(tmp_path)], 1000)
    records = read_shard(shard, Settings.from_env()).records
    assert [r.row for r in records] == list(range(1, len(BAD) + 3))
    assert [r.text for r in (records[0], records[-1])] == [TEXT, TEXT]
    for record, (_, said) in zip(records[1:-1], BAD, strict=True):
        assert record.text is None and record.error.startswith(f"line {record.row}: {said}"), record.error
        assert record.id in (None, "f", "g", "h", "i", "j")  # never the lone surrogate
        assert all(value_problem(v, 100) is None and value_problem(k) is None for k, v in record.carried.items())


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_a_shard_with_such_lines_is_written_with_one_row_each(tmp_path, fmt):
    """Each of them failed the whole shard (2,000 rows), on every run."""
    pytest.importorskip("pyarrow")
    from service.bulk.writing import Stamp, write_shard

    [shard] = plan([shard_file(tmp_path)], 1000)
    records = read_shard(shard, Settings.from_env())
    outcomes = [{"error": r.error} if r.text is None else {"topics": [], "warnings": []} for r in records.records]
    out = tmp_path / f"part-000000.{fmt}"
    write_shard(out, records, outcomes, Stamp("m", "v", "news", False), shard.path)
    if fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    else:
        import pyarrow.parquet as pq
        rows = pq.read_table(out).to_pylist()
    assert [r["input_row"] for r in rows] == list(range(1, len(BAD) + 3))
    assert [r["error"] is None for r in rows] == [True] + [False] * len(BAD) + [True]
    assert rows[0]["section"] == "energy"


def test_parse_json_gives_one_kind_of_error():
    assert parse_json('{"a": [1]}') == {"a": [1]}
    for line, said in (("{broken", "not valid JSON (Expecting property name"),
                       ('{"text": "cut off', "not valid JSON (Unterminated string starting at column 10)"),
                       ('{"text": "a\tb"}', "not valid JSON (Invalid control character at column 12)"),
                       ("1" * 5000, "the JSON has a number too long to read (over 4,300 digits)"),
                       ("[" * 50_000, "the JSON is nested too deeply to read")):
        with pytest.raises(BadLine, match=said.replace("(", r"\(").replace(")", r"\)")):
            parse_json(line)


@pytest.mark.parametrize("content", [
    '[{"text": "a", "labels": ["x"]}, {"text": "b", "labels": ["y"]}]\n',  # on one line
    '[\n  {"text": "a", "labels": ["x"]},\n  {"text": "b", "labels": ["y"]}\n]\n',  # pretty-printed
])
def test_a_json_array_of_articles_is_named_as_such_with_the_way_to_convert_it(tmp_path, content):
    """A training file exported as a JSON array got "each line must be a JSON object" (or "not
    valid JSON" for its "[" line) and no word on what the file should have been."""
    from training.data import DataFileError, read_labeled

    path = tmp_path / "articles.jsonl"
    path.write_text(content)
    with pytest.raises(DataFileError, match=r"articles\.jsonl:1: .*JSON array.*JSON Lines.*jq -c"):
        read_labeled(path)
    path.rename(tmp_path / "articles.json")  # named as what it is: the file type is refused, with the same way out
    with pytest.raises(DataFileError, match=r"unknown file type '\.json'.*jq -c"):
        read_labeled(tmp_path / "articles.json")
