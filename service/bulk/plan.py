"""The job's plan: which input files, cut into shards of rows that are the same on every run.

A shard is a contiguous run of one file's rows (JSONL lines, or rows of one Parquet row
group). The plan depends only on the files and ``shard_rows``, so a restarted job finds
the same shards, and the output shard ``part-000017`` always holds the same records.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..engine import NewstagError

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
# Columns the output adds: an input column of the same name would be overwritten.
RESERVED = ("topics", "warnings", "error", "model", "model_version", "taxonomy", "input_file", "input_row")


@dataclass(frozen=True)
class Shard:
    index: int
    path: str  # absolute, as every worker must see it
    kind: str  # "jsonl" | "parquet"
    first_row: int  # 1-based: the first line (JSONL) or row (Parquet) of the file in this shard
    rows: int  # lines (blank ones included) or rows
    start: int = 0  # JSONL: byte offset of the first line; Parquet: row offset in the row group
    end: int = 0  # JSONL: byte offset after the last line
    row_group: int = 0  # Parquet only

    @property
    def name(self) -> str:
        return f"part-{self.index:06d}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Compressed whole, an input cannot be cut into shards by byte offset: it is named, not read.
COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip")


@dataclass(frozen=True)
class Inputs:
    files: list[Path]  # sorted, each once
    compressed: list[Path]  # 'a.jsonl.gz' files a directory or glob held, left out


def input_files(patterns: list[str]) -> Inputs:
    """The files that ``patterns`` (files, directories or globs) name, and the compressed
    JSONL or Parquet files among what they hold, which are not read."""
    found: dict[Path, None] = {}
    compressed: dict[Path, None] = {}
    for pattern in patterns:
        path = Path(pattern).expanduser()
        if path.is_dir():
            held = sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            if _compressed(path):
                raise NewstagError(f"{path}: a compressed file; the job cuts plain JSONL or Parquet files into "
                                   f"shards by offset: decompress it first (e.g. gunzip -k {path})")
            if path.suffix.lower() not in FORMATS:
                raise NewstagError(f"{path}: not a JSONL or Parquet file (by its name: {', '.join(FORMATS)})")
            held = [path]
        else:
            held = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
            if not any(p.suffix.lower() in FORMATS or _compressed(p) for p in held):
                raise NewstagError(f"--input {pattern}: no such file or directory, and no JSONL or Parquet "
                                   "file matches it")
        for match in held:
            if match.suffix.lower() in FORMATS:
                found[match.resolve()] = None
            elif _compressed(match):
                compressed[match.resolve()] = None
    if not found:
        raise NewstagError(f"--input {' '.join(patterns)}: no JSONL or Parquet files there"
                           + (f"; {_count(list(compressed))} not read: decompress them first"
                              if compressed else ""))
    return Inputs(sorted(found), sorted(compressed))


def _compressed(path: Path) -> bool:
    return path.suffix.lower() in COMPRESSED and Path(path.stem).suffix.lower() in FORMATS


def _count(compressed: list[Path]) -> str:
    """'3 compressed files (a.jsonl.gz, b.jsonl.gz, ...)'"""
    names = ", ".join(p.name for p in compressed[:3]) + (", ..." if len(compressed) > 3 else "")
    return f"{len(compressed)} compressed file{'s' * (len(compressed) > 1)} ({names})"


def compressed_note(inputs: Inputs) -> str | None:
    """What the job leaves out, said before it starts."""
    if not inputs.compressed:
        return None
    return (f"{_count(inputs.compressed)} among the inputs are not read (the job reads plain JSONL and "
            "Parquet): decompress them and run again to tag them too")


def check_apart(files: list[Path], output: Path, inputs: Sequence[str] = (), fmt: str = "parquet") -> None:
    """Refuse inputs inside the output directory (an earlier run's shards would be read as
    articles, and --overwrite would delete them while they are read), and an output inside
    an input directory, or where an input glob would find its shards: the first run went
    through, and every run after it, the one that would finish an interrupted job, found its
    shards among the inputs."""
    target = output.resolve()
    for given in inputs:
        root = Path(given).expanduser()
        if root.is_dir() and target.is_relative_to(root.resolve()):
            raise NewstagError(f"--output {output} is inside the input directory {given}: its shards would be read "
                               "as articles on the next run; put --output outside the input directories")
        if not root.exists() and any(_glob_takes(given, target / shard) for shard in _shard_names(fmt)):
            raise NewstagError(f"--output {output} is where --input {given} finds files: its shards would be read "
                               "as articles on the next run; put --output outside the input directories")
    inside = [f for f in files if f.is_relative_to(target)]
    if inside:
        raise NewstagError(f"--input takes {len(inside)} file(s) inside --output {output} ({inside[0]}"
                           f"{', ...' if len(inside) > 1 else ''}): the job's own output would be read as "
                           "articles; put --output outside the input directories, or name the inputs exactly")


def _shard_names(fmt: str) -> list[str]:
    """Shard names enough to stand for all: a glob naming some digits ('*1.jsonl') takes some."""
    return [f"part-{i:06d}.{fmt}" for i in (*range(10), 10, 99, 100, 999_999)]


def _glob_takes(pattern: str, path: Path) -> bool:
    """Whether ``glob.glob(pattern, recursive=True)`` would list ``path`` (absolute) were it there."""
    parts = Path(pattern).expanduser().parts
    fixed = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))
    base = Path(*parts[:fixed]).resolve() if fixed else Path.cwd()
    if not path.is_relative_to(base):
        return False
    return _matches(parts[fixed:], path.relative_to(base).parts)


def _matches(pattern: Sequence[str], names: Sequence[str]) -> bool:
    """Path segments against glob segments: ``**`` any number of directories, and as glob
    does, no wildcard matches a hidden name."""
    if not pattern:
        return not names
    if not names:
        return pattern[0] == "**" and _matches(pattern[1:], names)
    if names[0].startswith(".") and not pattern[0].startswith("."):
        return False
    if pattern[0] == "**":
        return _matches(pattern[1:], names) or _matches(pattern, names[1:])
    return fnmatch.fnmatchcase(names[0], pattern[0]) and _matches(pattern[1:], names[1:])


def plan(files: list[Path], shard_rows: int) -> list[Shard]:
    shards: list[Shard] = []
    for path in files:
        cut = _jsonl_shards if FORMATS[path.suffix.lower()] == "jsonl" else _parquet_shards
        try:
            cuts = cut(path, shard_rows)
        except OSError as exc:  # unreadable: no permission, a directory named like a file, I/O error
            raise NewstagError(f"cannot read {path}: {exc.strerror or exc}") from None
        for shard in cuts:
            shards.append(Shard(len(shards), **shard))
    return shards


def _jsonl_shards(path: Path, shard_rows: int) -> list[dict[str, Any]]:
    """Every ``shard_rows`` lines, by byte offsets, so a worker reads its lines only."""
    out: list[dict[str, Any]] = []
    start = offset = lines = 0
    with path.open("rb") as handle:
        for line in handle:
            offset += len(line)
            lines += 1
            if lines % shard_rows == 0:
                out.append(dict(path=str(path), kind="jsonl", first_row=lines - shard_rows + 1, rows=shard_rows,
                                start=start, end=offset))
                start = offset
    if lines % shard_rows:
        out.append(dict(path=str(path), kind="jsonl", first_row=lines - lines % shard_rows + 1,
                        rows=lines % shard_rows, start=start, end=offset))
    return out


def _parquet_shards(path: Path, shard_rows: int) -> list[dict[str, Any]]:
    """Every ``shard_rows`` rows within each row group (from the file's footer alone)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise NewstagError(f"{path}: not a readable Parquet file ({exc})") from exc
    names = set(meta.schema.to_arrow_schema().names)
    missing = {"id", "text"} - names
    if missing:
        raise NewstagError(f"{path}: no {' or '.join(sorted(missing))} column (it has: {', '.join(sorted(names))})")
    clash = sorted(names & set(RESERVED))
    if clash:
        raise NewstagError(f"{path}: column(s) {', '.join(clash)} would be overwritten by the output's: "
                           "rename them first")
    out: list[dict[str, Any]] = []
    first = 1
    for group in range(meta.num_row_groups):
        size = meta.row_group(group).num_rows
        for offset in range(0, size, shard_rows):
            rows = min(shard_rows, size - offset)
            out.append(dict(path=str(path), kind="parquet", first_row=first + offset, rows=rows, start=offset,
                            row_group=group))
        first += size
    return out


def fingerprint(files: list[Path]) -> list[dict[str, Any]]:
    """What identifies the inputs between runs: path, size and modification time."""
    out = []
    for path in files:
        stat = os.stat(path)
        out.append({"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})
    return out
