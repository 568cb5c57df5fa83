"""Bulk tagging: ``python -m service.batch --input IN.jsonl --output OUT.jsonl``.

Streams the input (one ``{"id"?, "text"}`` object per line, read as ``newstag bulk`` reads
its lines; blank lines are skipped, other fields ignored) and writes one result per
document, ``{"line", "id", "topics", ...}`` or ``{"line", "id", "error"}``, in input order,
flushing as it goes, so memory stays constant however large the file. ``line`` is the input
line number and ``id`` the document's own (null when it has none, so the two never collide).
``OUT.jsonl.job.json`` records the input and options that write it, so ``--resume`` continues
an interrupted run after the last complete result only when they are the same; an existing
output is never replaced without ``--overwrite``. torch uses every core the process is given
(``NEWSTAG_TORCH_THREADS`` to change it).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from . import __version__
from .bulk.checks import check_labels
from .bulk.records import Record, parse_line
from .config import Settings
from .engine import InvalidInputError, NewstagError, Tagger, TaxonomyRegistry
from .progress import progress_bar
from .tagging import TagOptions, job_difference, result_settings, tag_texts


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, required=True, help="JSONL, one {id?, text} per line")
    parser.add_argument("--output", type=Path, required=True, help="JSONL results, one per input line")
    parser.add_argument("--taxonomy", help="taxonomy name (default: news)")
    parser.add_argument("--labels", help='comma-separated labels that replace the taxonomy: "a,b,c"')
    parser.add_argument("--threshold", type=float, help="one threshold for every label, 0 to 1")
    parser.add_argument("--top-k", type=int, help="at most this many topics per article")
    parser.add_argument("--single-label", action="store_true")
    parser.add_argument("--no-evidence", action="store_true")
    parser.add_argument("--batch-size", type=int, default=32, help="articles per model call")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    return parser


def job_file(output: Path) -> Path:
    return output.with_name(output.name + ".job.json")


def _check_paths(args: argparse.Namespace) -> None:
    """Refuse what would fail (or destroy the input) before any model loads."""
    if args.batch_size < 1:
        raise NewstagError(f"--batch-size must be at least 1, not {args.batch_size}")
    if args.input.is_dir():
        raise NewstagError(f"--input {args.input} is a directory: name a JSONL file (newstag bulk takes directories)")
    if args.input.exists() and not args.input.is_file():
        raise NewstagError(f"--input {args.input} is not a regular file (a pipe or a device): batch reads its input "
                           "twice, to count the lines and to tag them, so name a file")
    if not args.input.is_file():
        raise NewstagError(f"no such input file: {args.input}")
    if args.output.is_dir():
        raise NewstagError(f"--output {args.output} is a directory: name a file")
    if not args.output.parent.is_dir():
        raise NewstagError(f"--output {args.output}: no such directory {args.output.parent}")
    writable = (os.access(args.output, os.W_OK) if args.output.exists()
                else os.access(args.output.parent, os.W_OK | os.X_OK))
    if not writable:
        raise NewstagError(f"--output {args.output}: cannot write there (a read-only filesystem, or no permission)")
    if args.output.exists() and args.output.samefile(args.input):  # a symlink to it, too
        raise NewstagError(f"--output {args.output} is the input file: writing the tags there would erase the "
                           "articles before they are read; name another file")
    if args.output.exists() and not (args.resume or args.overwrite):
        raise NewstagError(f"{args.output} exists: --resume to continue it, --overwrite to replace it")


def _job(args: argparse.Namespace, options: TagOptions, settings: Settings) -> dict[str, Any]:
    """What wrote the output: a resumed run must have the same (JSON as it reads back)."""
    stat = args.input.stat()
    job = {"newstag": __version__,
           "input": {"path": str(args.input.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns},
           "options": asdict(options), "settings": result_settings(settings)}
    return json.loads(json.dumps(job))


def _check_resumable(output: Path, job: dict[str, Any]) -> None:
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


def _resume_point(path: Path) -> tuple[int, int]:
    """(input line of the last complete result, bytes up to its end); reads only, so a file that
    is not ours is refused unchanged."""
    with path.open("rb") as handle:
        data_end, complete, last = 0, 0, b""
        for line in handle:
            data_end += len(line)
            if line.endswith(b"\n"):
                complete, last = data_end, line
    if not last:
        return 0, 0
    try:
        return int(json.loads(last)["line"]), complete
    except (ValueError, KeyError, TypeError) as exc:
        raise NewstagError(f"{path}: its last line is not a result of this command, cannot resume") from exc


def _records(path: Path, after: int, settings: Settings) -> Iterator[Record]:
    """Each non-blank line after line ``after``, read and checked as the bulk job reads it."""
    try:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if number > after and raw.strip():
                    yield parse_line(number, raw.rstrip(b"\r\n"), settings, id_required=False)[0]
    except OSError as exc:  # mid-run: an I/O error, a network mount gone
        raise InputError(exc.strerror or str(exc)) from None


def _tag_batch(tagger: Tagger, batch: list[Record], options: TagOptions) -> list[dict[str, Any]]:
    """One output row per record: its topics, or why it could not be tagged."""
    out = [{"line": r.row, "id": r.id, "error": r.error} if r.text is None else {"line": r.row, "id": r.id}
           for r in batch]
    good = [(slot, r.text) for slot, r in enumerate(batch) if r.text is not None]
    results = tag_texts(tagger, [text for _, text in good], options)
    for (slot, _), result in zip(good, results, strict=True):
        if isinstance(result, InvalidInputError):
            why = result.problems[0].message if result.problems else str(result)
            out[slot]["error"] = f"line {out[slot]['line']}: {why}"
        else:
            out[slot].update({**result.to_dict(), "model": result.model})
    return out


def main(argv: list[str] | None = None, prog: str = "python -m service.batch") -> int:
    args = _parser(prog).parse_args(argv)
    with _sigterm_interrupts():
        try:
            return _main(args)
        except KeyboardInterrupt:  # while the model loads (seconds): nothing is written yet
            print("\nbatch: interrupted before tagging began; nothing was written", file=sys.stderr)
            return 130


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (kill, a container stopping) stops the run as Ctrl-C does, keeping the results
    written; it killed the process without a word. As training.trainer's of the same name."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def _interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(args: argparse.Namespace) -> int:
    try:
        options = TagOptions(TagOptions.parse_labels(args.labels), args.taxonomy, multi_label=not args.single_label,
                             threshold=args.threshold, top_k=args.top_k, evidence=not args.no_evidence)
        if (problem := options.problem()) is not None:
            raise NewstagError(problem)
        _check_paths(args)
        # One caller: the model runs in this thread (Ctrl-C stops it there), not a batching thread's.
        settings = Settings.from_env(max_documents=args.batch_size, batching=False)
        if options.labels is not None:  # before the model loads (15-20 s), as bulk and tag check them
            check_labels(options.labels, settings.max_labels)
        else:
            TaxonomyRegistry.load(settings.taxonomies_dir).get(args.taxonomy or settings.taxonomy)
        job = _job(args, options, settings)
        done, keep = 0, None
        if args.resume and args.output.exists():
            _check_resumable(args.output, job)
            done, keep = _resume_point(args.output)
        tagger = Tagger.load(settings.engine_options())
        tagger.label_set(list(options.labels) if options.labels else None, args.taxonomy)  # fails now, not per line
        out = _open_output(args.output, job, keep)
    except NewstagError as exc:
        print(f"batch: error: {exc}", file=sys.stderr)
        return 2
    count = Count()
    try:
        _tag_all(args, tagger, options, settings, out, done, count)
    except KeyboardInterrupt:
        print(f"\nbatch: interrupted; the {count.written} results written are kept in {args.output}: run the same "
              "command with --resume to finish", file=sys.stderr)
        return 130
    except OutputError as exc:  # a full disk, a quota, the filesystem gone read-only or away
        print(f"batch: error: cannot write {args.output}: {exc}; the {count.written} results before it are kept "
              "(the output ends after the last complete line): make room, then run the same command with "
              "--resume to continue", file=sys.stderr)
        return 1
    except InputError as exc:
        print(f"batch: error: cannot read {args.input}: {exc}; the {count.written} results "
              f"written are kept in {args.output}: run the same command with --resume to continue",
              file=sys.stderr)
        return 1
    print(f"tagged {count.written - count.errors} articles into {args.output}; {count.errors} lines had errors",
          file=sys.stderr)
    return 0


@dataclass
class Count:
    written: int = 0  # results in the output (this run's)
    errors: int = 0  # of them, error rows


class OutputError(Exception):
    """Writing the output failed; ``str()`` says why."""


class InputError(Exception):
    """Reading the input failed mid-run; ``str()`` says why."""


def _tag_all(args: argparse.Namespace, tagger: Tagger, options: TagOptions, settings: Settings, out: IO[bytes],
             done: int, count: Count) -> None:
    """Tag the input's lines after line ``done`` into ``out``, a batch at a time."""
    with out:
        try:
            with args.input.open("rb") as handle:
                total = sum(1 for _ in handle)
        except OSError as exc:
            raise InputError(exc.strerror or str(exc)) from None
        with progress_bar(total=total, initial=done, desc="tagging", unit="line", file=sys.stderr) as bar:
            batch: list[Record] = []
            for record in _records(args.input, done, settings):
                batch.append(record)
                if len(batch) == args.batch_size:
                    _write(out, _tag_batch(tagger, batch, options), bar, count)
                    batch = []
            if batch:
                _write(out, _tag_batch(tagger, batch, options), bar, count)


def _open_output(path: Path, job: dict[str, Any], keep: int | None) -> IO[bytes]:
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
        out.truncate(keep or 0)  # resuming: a partial line left by an interruption
        if keep is None:
            tmp = job_file(path).with_suffix(".tmp")
            tmp.write_text(json.dumps(job, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, job_file(path))
    except OSError as exc:
        out.close()
        raise NewstagError(f"--output {path}: {exc.strerror or exc}") from None
    return out


def _write(out: IO[bytes], rows: list[dict[str, Any]], bar: tqdm, count: Count) -> None:
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


if __name__ == "__main__":
    sys.exit(main())
