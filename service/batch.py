"""Bulk tagging: ``python -m service.batch --input IN.jsonl --output OUT.jsonl``.

Streams the input (one ``{"id"?, "text"}`` object per line, the API's document; blank
lines are skipped) and writes one result per document, ``{"line", "id", "topics", ...}``
or ``{"line", "id", "error"}``, in input order, flushing as it goes, so memory stays
constant however large the file. ``line`` is the input line number and ``id`` the
document's own (null when it has none, so the two never collide). ``--resume`` continues
an interrupted run after the last complete result; an existing output is never replaced
without ``--overwrite``. torch uses every core the process is given
(``NEWSTAG_TORCH_THREADS`` to change it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from tqdm import tqdm

from .config import Settings
from .engine import InvalidInputError, NewstagError, Tagger
from .http.parsing import field_errors
from .http.schemas import BatchDocument
from .progress import progress_bar
from .tagging import TagOptions, tag_texts


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, required=True, help="JSONL, one {id?, text} per line")
    parser.add_argument("--output", type=Path, required=True, help="JSONL results, one per input line")
    parser.add_argument("--taxonomy", help="taxonomy name (default: news)")
    parser.add_argument("--labels", help='comma-separated labels that replace the taxonomy: "a,b,c"')
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--single-label", action="store_true")
    parser.add_argument("--no-evidence", action="store_true")
    parser.add_argument("--batch-size", type=int, default=32, help="articles per model call")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    return parser


def _resume_point(path: Path) -> int:
    """The input line of the last complete result, cutting off a partial line left by an interruption."""
    if not path.exists():
        return 0
    with path.open("rb+") as handle:
        data_end, last_newline, last = 0, 0, b""
        for line in handle:
            data_end += len(line)
            if line.endswith(b"\n"):
                last_newline, last = data_end, line
        handle.truncate(last_newline)
    if not last:
        return 0
    try:
        return int(json.loads(last)["line"])
    except (ValueError, KeyError, TypeError) as exc:
        raise NewstagError(f"{path}: its last line is not a result of this command, cannot resume") from exc


def _rows(path: Path, after: int) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object or the JSON error) of each non-blank line after ``after``."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if number <= after or not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, exc


def _document(number: int, row: Any) -> tuple[dict[str, Any], str | None]:
    """The output row's start, and the text to tag (None when the line is not a valid document)."""
    if isinstance(row, json.JSONDecodeError):
        return {"line": number, "id": None, "error": f"line {number}: not valid JSON ({row.msg})"}, None
    ident = row.get("id") if isinstance(row, dict) and isinstance(row.get("id"), str) else None
    try:
        document = BatchDocument.model_validate(row)
    except ValidationError as exc:
        problems = "; ".join(f"{e['path']}: {e['message']}" for e in field_errors(exc))
        return {"line": number, "id": ident, "error": f"line {number}: {problems}"}, None
    if not document.text.strip():
        return {"line": number, "id": ident, "error": f"line {number}: 'text' must be a non-empty string"}, None
    return {"line": number, "id": document.id}, document.text


def _tag_batch(tagger: Tagger, batch: list[tuple[int, Any]], options: TagOptions) -> list[dict[str, Any]]:
    """One output row per input row: its topics, or why it could not be tagged."""
    out: list[dict[str, Any]] = []
    good: list[tuple[int, str]] = []  # (row in out, text)
    for number, row in batch:
        start, text = _document(number, row)
        out.append(start)
        if text is not None:
            good.append((len(out) - 1, text))
    results = tag_texts(tagger, [text for _, text in good], options)
    for (slot, _), result in zip(good, results, strict=True):
        if isinstance(result, InvalidInputError):
            out[slot]["error"] = str(result)
        else:
            out[slot].update({**result.to_dict(), "model": result.model})
    return out


def main(argv: list[str] | None = None, prog: str = "python -m service.batch") -> int:
    args = _parser(prog).parse_args(argv)
    options = TagOptions(TagOptions.parse_labels(args.labels), args.taxonomy, multi_label=not args.single_label,
                         threshold=args.threshold, top_k=args.top_k, evidence=not args.no_evidence)
    labels = list(options.labels) if options.labels else None
    try:
        if not args.input.is_file():
            raise NewstagError(f"no such input file: {args.input}")
        if args.output.exists() and args.output.samefile(args.input):  # a symlink to it, too
            raise NewstagError(f"--output {args.output} is the input file: writing the tags there would erase the "
                               "articles before they are read; name another file")
        if args.output.exists() and not (args.resume or args.overwrite):
            raise NewstagError(f"{args.output} exists: --resume to continue it, --overwrite to replace it")
        done = _resume_point(args.output) if args.resume else 0
        settings = Settings.from_env(max_documents=max(1, args.batch_size))
        tagger = Tagger.load(settings.engine_options())
        tagger.label_set(labels, args.taxonomy)  # an unknown taxonomy fails now, not per line
    except NewstagError as exc:
        print(f"batch: error: {exc}", file=sys.stderr)
        return 2
    with args.input.open("rb") as handle:
        total = sum(1 for _ in handle)
    errors = written = 0
    with args.output.open("a" if args.resume else "w", encoding="utf-8") as out, \
            progress_bar(total=total, initial=done, desc="tagging", unit="line", file=sys.stderr) as bar:
        batch: list[tuple[int, Any]] = []
        for item in _rows(args.input, done):
            batch.append(item)
            if len(batch) == args.batch_size:
                errors += _write(out, _tag_batch(tagger, batch, options), bar)
                written += len(batch)
                batch = []
        if batch:
            errors += _write(out, _tag_batch(tagger, batch, options), bar)
            written += len(batch)
    print(f"tagged {written - errors} articles into {args.output}; {errors} lines had errors", file=sys.stderr)
    return 0


def _write(out, rows: list[dict[str, Any]], bar: tqdm) -> int:
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    out.flush()
    bar.n = rows[-1]["line"]  # lines of the input read so far, blank ones included
    bar.refresh()
    return sum(1 for row in rows if "error" in row)


if __name__ == "__main__":
    sys.exit(main())
