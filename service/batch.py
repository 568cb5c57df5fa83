"""Bulk tagging: ``python -m service.batch --input IN.jsonl --output OUT.jsonl``.

Streams the input (one ``{"id"?, "text"}`` object per line, read as ``newstag bulk`` reads
its lines; blank lines are skipped, other fields ignored) and writes one result per
document, ``{"line", "id", "topics", ...}`` or ``{"line", "id", "error"}``, in input order,
flushing as it goes, so memory stays constant however large the file. ``line`` is the input
line number and ``id`` the document's own (null when it has none, so the two never collide).
``OUT.jsonl.job.json`` records the input and options that write it, so ``--resume`` continues
an interrupted run after the last complete result only when they are the same; an existing
output is never replaced without ``--overwrite``. A gzip, bzip2 or xz file is read as the JSONL
it holds, known by its first bytes. torch uses every core the process is given
(``NEWSTAG_TORCH_THREADS`` to change it).
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import lzma
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from . import __version__
from .batch_output import Count, OutputError, check_resumable, open_output, resume_point, write_rows
from .bulk.records import Record, parse_line
from .config import Settings
from .engine import InvalidInputError, NewstagError, Tagger
from .interrupts import run_command, sigterm_interrupts
from .progress import progress_bar
from .tagging import (
    TagOptions,
    check_model_choice,
    code_fingerprint,
    result_settings,
    tag_texts,
    tagger_for,
    taxonomy_fingerprint,
)


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, required=True,
                        help="JSONL, one {id?, text} per line (gzip, bzip2 or xz compressed too)")
    parser.add_argument("--output", type=Path, required=True, help="JSONL results, one per input line")
    parser.add_argument("--taxonomy", help="taxonomy name (default: news)")
    parser.add_argument("--labels", help='comma-separated labels that replace the taxonomy: "a,b,c"')
    parser.add_argument("--threshold", type=float, help="one threshold for every label, 0 to 1")
    parser.add_argument("--top-k", type=int, help="at most this many topics per article")
    parser.add_argument("--single-label", action="store_true", help="exactly one topic per article, the best")
    parser.add_argument("--no-evidence", action="store_true", help="leave out each topic's evidence sentences")
    parser.add_argument("--model", type=Path,
                        help="a fine-tuned model directory (training.finetune), or another local embedding model")
    parser.add_argument("--batch-size", type=int, default=32, help="articles per model call")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    return parser


def _check_paths(args: argparse.Namespace) -> None:
    """Refuse what would fail (or destroy the input) before any model loads."""
    if args.batch_size < 1:
        raise NewstagError(f"--batch-size must be at least 1, not {args.batch_size}")
    for option, path in (("--input", args.input), ("--output", args.output)):
        if str(path) == "-":  # it read and wrote a file named "-" in the working directory
            raise NewstagError(f"{option} -: batch reads its input twice (to count the lines, then to tag them) and "
                               "keeps a job file beside its output to resume, so it takes files, not standard "
                               "input or output (newstag tag - reads one article from standard input)")
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
    resuming = args.resume and args.output.exists()  # else a new job file goes beside the output
    writable = ((not args.output.exists() or os.access(args.output, os.W_OK))
                and (resuming or os.access(args.output.parent, os.W_OK | os.X_OK)))
    if not writable:
        raise NewstagError(f"--output {args.output}: cannot write there (a read-only filesystem, or no permission)")
    if args.output.exists() and args.output.samefile(args.input):  # a symlink to it, too
        raise NewstagError(f"--output {args.output} is the input file: writing the tags there would erase the "
                           "articles before they are read; name another file")
    if args.output.exists() and not (args.resume or args.overwrite):
        raise NewstagError(f"{args.output} exists: --resume to continue it, --overwrite to replace it")


def _job(args: argparse.Namespace, options: TagOptions, settings: Settings,
         model_version: str | None) -> dict[str, Any]:
    """What wrote the output: a resumed run must have the same (JSON as it reads back)."""
    stat = args.input.stat()
    job = {"newstag": __version__, "code": code_fingerprint(),
           "input": {"path": str(args.input.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns},
           "options": asdict(options), "settings": result_settings(settings),
           "model": str(args.model.resolve()) if args.model is not None else None, "model_version": model_version,
           # A taxonomy file edited in place keeps its name: resumed, old topics' rows sat beside new ones'.
           "taxonomy_content": taxonomy_fingerprint(settings, options, args.model)}
    return json.loads(json.dumps(job))


# An archive kept compressed is read as the JSONL it holds: its lines were "not valid UTF-8".
_COMPRESSED = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))
# What reading a damaged or truncated compressed file raises, beside OSError (gzip's BadGzipFile is one).
_READ_ERRORS = (OSError, EOFError, lzma.LZMAError)


def _open_input(path: Path) -> BinaryIO:
    with path.open("rb") as handle:
        head = handle.read(6)
    for magic, opener in _COMPRESSED:
        if head.startswith(magic):
            return cast(BinaryIO, opener(path, "rb"))
    return path.open("rb")


def _read_error(exc: BaseException) -> InputError:
    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
    return InputError(f"{why} (a compressed file cut short or damaged?)" if isinstance(exc, EOFError) else why)


def _records(path: Path, after: int, settings: Settings) -> Iterator[Record]:
    """Each non-blank line after line ``after``, read and checked as the bulk job reads it."""
    try:
        with _open_input(path) as handle:
            for number, raw in enumerate(handle, start=1):
                if number > after and raw.strip():
                    yield parse_line(number, raw.rstrip(b"\r\n"), settings, id_required=False)[0]
    except _READ_ERRORS as exc:  # mid-run: an I/O error, a network mount gone, a damaged archive
        raise _read_error(exc) from None


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
    with sigterm_interrupts():
        try:
            return _main(args)
        except KeyboardInterrupt:  # while the model loads (seconds): nothing is written yet
            print("\nbatch: interrupted before tagging began; nothing was written", file=sys.stderr)
            return 130


def _main(args: argparse.Namespace) -> int:
    try:
        options = TagOptions(TagOptions.parse_labels(args.labels), args.taxonomy, multi_label=not args.single_label,
                             threshold=args.threshold, top_k=args.top_k, evidence=not args.no_evidence)
        if (problem := options.problem()) is not None:
            raise NewstagError(problem)
        _check_paths(args)
        # One caller: the model runs in this thread (Ctrl-C stops it there), not a batching thread's.
        settings = Settings.from_env(max_documents=args.batch_size, batching=False)
        version = check_model_choice(args.model, settings, options)  # before the model loads (15-20 s), as bulk and tag
        job = _job(args, options, settings, version)
        done, keep, earlier = 0, None, 0
        if args.resume and args.output.exists():
            check_resumable(args.output, job)
            done, keep, earlier = resume_point(args.output)
        tagger = tagger_for(settings, args.model, lazy=True)  # rows name their model, not its version
        tagger.label_set(list(options.labels) if options.labels else None, args.taxonomy)  # fails now, not per line
        out = open_output(args.output, job, keep)
    except NewstagError as exc:
        print(f"batch: error: {exc}", file=sys.stderr)
        return 2
    count = Count(earlier=earlier)
    try:
        _tag_all(args, tagger, options, settings, out, done, count)
    except KeyboardInterrupt:
        print(f"\nbatch: interrupted; the {count.kept} results written are kept in {args.output}: run the same "
              "command with --resume to finish", file=sys.stderr)
        return 130
    except OutputError as exc:  # a full disk, a quota, the filesystem gone read-only or away
        print(f"batch: error: cannot write {args.output}: {exc}; the {count.kept} results before it are kept "
              "(the output ends after the last complete line): make room, then run the same command with "
              "--resume to continue", file=sys.stderr)
        return 1
    except InputError as exc:
        print(f"batch: error: cannot read {args.input}: {exc}; the {count.kept} results "
              f"written are kept in {args.output}: run the same command with --resume to continue",
              file=sys.stderr)
        return 1
    print(f"tagged {count.written - count.errors} articles into {args.output}; {count.errors} lines had errors",
          file=sys.stderr)
    if count.written and count.errors == count.written:  # a scheduled job must notice: the wrong file, field names
        print(f"batch: error: no line could be tagged; the error rows in {args.output} say why", file=sys.stderr)
        return 1
    return 0


class InputError(Exception):
    """Reading the input failed mid-run; ``str()`` says why."""


def _tag_all(args: argparse.Namespace, tagger: Tagger, options: TagOptions, settings: Settings, out: IO[bytes],
             done: int, count: Count) -> None:
    """Tag the input's lines after line ``done`` into ``out``, a batch at a time."""
    with out:
        try:
            with _open_input(args.input) as handle:
                total = sum(1 for _ in handle)
        except _READ_ERRORS as exc:
            raise _read_error(exc) from None
        with progress_bar(total=total, initial=done, desc="tagging", unit="line", file=sys.stderr) as bar:
            batch: list[Record] = []
            for record in _records(args.input, done, settings):
                batch.append(record)
                if len(batch) == args.batch_size:
                    write_rows(out, _tag_batch(tagger, batch, options), bar, count)
                    batch = []
            if batch:
                write_rows(out, _tag_batch(tagger, batch, options), bar, count)


if __name__ == "__main__":
    sys.exit(run_command(main, "batch"))
