"""The output directory: its job file, its lock, and which shards are already done.

``_newstag_job.json`` records the inputs and options a directory's shards were made with.
Running the same command again finds it and tags only the shards that are not there; a
command with other inputs or options is refused rather than mixed in.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from pathlib import Path
from typing import IO, Any

from ..engine import NewstagError
from ..tagging import job_difference
from .writing import TMP_MARK

JOB_FILE = "_newstag_job.json"
LOCK_FILE = "_newstag_job.lock"
SHARD = re.compile(r"part-(\d{6,})\.(parquet|jsonl)")


class OutputDir:
    def __init__(self, path: Path, fmt: str):
        self.path = path
        self.fmt = fmt
        self._lock: IO[str] | None = None
        self._made_dir = False  # this run made the directory
        self._wrote_job = False  # this run wrote its job file

    def shard_path(self, name: str) -> Path:
        return self.path / f"{name}.{self.fmt}"

    def claim(self, job: dict[str, Any], overwrite: bool) -> None:
        """Lock the directory for this run and check it holds this job (or nothing)."""
        try:
            self._claim(json.loads(json.dumps(job)), overwrite)  # as it reads back (tuples are lists)
        except OSError as exc:  # not a directory, no permission, a full disk
            raise NewstagError(f"--output {self.path}: {exc.strerror or exc}") from None

    def _claim(self, job: dict[str, Any], overwrite: bool) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise NewstagError(f"--output {self.path} is a file: name a directory (the shards are written into it)")
        self._made_dir = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = (self.path / LOCK_FILE).open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise NewstagError(f"{self.path}: another bulk job is writing there now") from None
        job_file = self.path / JOB_FILE
        replaced = False
        if overwrite:
            # Refused before anything is removed: the earlier job's shards were deleted, then the run
            # refused the directory for the files of the user's beside them.
            if not job_file.exists() and any(not _ours(p.name) for p in self.path.iterdir()):
                raise NewstagError(f"{self.path} is not empty and holds no bulk job: use an empty or new directory")
            replaced = job_file.exists()
            self._clear()
        if job_file.exists():
            try:
                earlier = json.loads(job_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise NewstagError(f"{job_file}: unreadable ({exc}); --overwrite to start again") from None
            if why := job_difference(earlier, job):
                raise NewstagError(f"{self.path} holds a job that {why}: use another --output, or --overwrite "
                                   "to replace its shards")
        elif not replaced and any(p.name != LOCK_FILE for p in self.path.iterdir()):
            raise NewstagError(f"{self.path} is not empty and holds no bulk job: use an empty or new directory")
        else:  # a new job (files of the user's beside a job it replaced are left alone)
            tmp = job_file.with_name(job_file.name + TMP_MARK)
            tmp.write_text(json.dumps(job, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, job_file)
            self._wrote_job = True
        for leftover in self.path.glob(f".part-*{TMP_MARK}*"):
            leftover.unlink(missing_ok=True)  # half-written by a run that was killed

    def done(self) -> set[int]:
        """Indexes of the shards already written (complete: they appear only by rename)."""
        found = (SHARD.fullmatch(p.name) for p in self.path.iterdir())
        return {int(m.group(1)) for m in found if m and m.group(2) == self.fmt}

    def abandon(self) -> None:
        """A run refused before it wrote a shard (too many threads for the CPUs, an unreachable
        cluster) leaves nothing behind: its job file blocked the corrected command ("holds a job
        that was written with other options")."""
        if not self._wrote_job:
            return
        try:
            if self.done():
                return
            (self.path / JOB_FILE).unlink(missing_ok=True)
            if all(p.name == LOCK_FILE for p in self.path.iterdir()):
                (self.path / LOCK_FILE).unlink(missing_ok=True)
                if self._made_dir:
                    self.path.rmdir()
        except OSError:
            pass  # the error being reported matters more than this tidying
        self._wrote_job = False

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _clear(self) -> None:
        """Remove what earlier bulk jobs wrote here, and nothing else."""
        for path in self.path.iterdir():
            if SHARD.fullmatch(path.name) or path.name == JOB_FILE or TMP_MARK in path.name:
                path.unlink()


def _ours(name: str) -> bool:
    """A file a bulk job writes in its output directory."""
    return bool(SHARD.fullmatch(name)) or name in (JOB_FILE, LOCK_FILE) or TMP_MARK in name
