"""The batch command's output file: its job record, resuming it, and writing it a batch at a time."""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from .engine import NewstagError
from .tagging import job_difference


@dataclass
class Count:
    written: int = 0  # results this run wrote
    errors: int = 0  # of them, error rows
    earlier: int = 0  # results earlier runs wrote (resuming)

    @property
    def kept(self) -> int:
        """The results in the output."""
        return self.earlier + self.written


class OutputError(Exception):
    """Writing the output failed; ``str()`` says why."""


def job_file(output: Path) -> Path:
    return output.with_name(output.name + ".job.json")


def check_resumable(output: Path, job: dict[str, Any]) -> None:
    path = job_file(output)
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NewstagError(f"--resume: {path} is missing, so nothing says which input and options wrote "
                           f"{output}: --overwrite to start again") from None
    except (OSError, ValueError) as exc:
        raise NewstagError(f"--resume: {path} is unreadable ({exc}): --overwrite to start again") from None
    if why := job_difference(earlier, job):
        edited = (" (the input file changes its size or time when edited)"
                  if earlier.get("input") != job["input"] else "")
        raise NewstagError(f"--resume: {output} {why}{edited}: --overwrite to start again")


def resume_point(path: Path) -> tuple[int, int, int]:
    """(input line of the last complete result, bytes up to its end, complete results); reads
    only, so a file that is not ours is refused unchanged."""
    with path.open("rb") as handle:
        data_end, complete, last, results = 0, 0, b"", 0
        for line in handle:
            data_end += len(line)
            if line.endswith(b"\n"):
                complete, last, results = data_end, line, results + 1
    if not last:
        return 0, 0, 0
    try:
        return int(json.loads(last)["line"]), complete, results
    except (ValueError, KeyError, TypeError) as exc:
        raise NewstagError(f"{path}: its last line is not a result of this command, cannot resume") from exc


def open_output(path: Path, job: dict[str, Any], keep: int | None) -> IO[bytes]:
    """The output, locked against a second run, then cut after its last complete result (``keep``
    bytes, resuming) or emptied with its job file written (None: a new run). Unbuffered: each
    batch's results are written at once, and a failed write can be cut back to a whole line."""
    try:
        out = path.open("ab", buffering=0)  # "w" would empty it before the lock is ours
    except OSError as exc:
        raise NewstagError(f"--output {path}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(out, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        out.close()
        raise NewstagError(f"{path}: another batch job is writing it now") from None
    try:
        if keep is None:  # the new job file first: where it cannot be written, the old results stay whole
            tmp = job_file(path).with_suffix(".tmp")
            tmp.write_text(json.dumps(job, indent=1, sort_keys=True), encoding="utf-8")
            out.truncate(0)
            os.replace(tmp, job_file(path))
        else:
            out.truncate(keep)  # resuming: a partial line left by an interruption
    except OSError as exc:
        out.close()
        raise NewstagError(f"--output {path}: {exc.strerror or exc}") from None
    return out


def write_rows(out: IO[bytes], rows: list[dict[str, Any]], bar: tqdm, count: Count) -> None:
    """Append one batch's results; on a failed write, cut the output back to its last whole line."""
    data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    fd = out.fileno()
    end = os.fstat(fd).st_size
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        try:
            os.ftruncate(fd, end)  # the half line this batch left (resuming cuts it too, should this fail)
        except OSError:
            pass
        raise OutputError(exc.strerror or str(exc)) from None
    count.written += len(rows)
    count.errors += sum(1 for row in rows if "error" in row)
    # Lines of the input read so far, blank ones included. update() draws on the bar's own
    # schedule: refresh() after every batch wrote a line each into a log (progress.py's promise).
    bar.update(rows[-1]["line"] - bar.n)
