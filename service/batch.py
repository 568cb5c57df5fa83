"""Bulk tagging: ``python -m service.batch --input IN.jsonl --output OUT.jsonl``.

Streams the input (one ``{"id"?, "text"}`` object per line) and writes one result per
line, ``{"id", "topics"}`` or ``{"id", "error"}``, in input order, flushing as it goes, so
memory stays constant however large the file. ``--resume`` continues an interrupted run:
it keeps the complete lines already written and skips that many input lines. torch uses
every core the process is given (``NEWSTAG_TORCH_THREADS`` to change it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .config import Settings
from .engine import InvalidInputError, NewstagError, Tagger, TagResult


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m service.batch", description=__doc__.split("\n")[0])
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
    return parser


def _complete_lines(path: Path) -> int:
    """Count complete lines, cutting off a partial last line left by an interruption."""
    if not path.exists():
        return 0
    with path.open("rb+") as handle:
        data_end, count, last_newline = 0, 0, 0
        for line in handle:
            data_end += len(line)
            if line.endswith(b"\n"):
                count += 1
                last_newline = data_end
        handle.truncate(last_newline)
    return count


def _rows(path: Path, skip: int) -> Iterator[tuple[int, Any]]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if number <= skip:
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, exc


def _tag_batch(tagger: Tagger, batch: list[tuple[int, Any]], args: argparse.Namespace,
               labels: list[str] | None) -> list[dict[str, Any]]:
    """One output row per input row: its topics, or why it could not be tagged."""
    out: list[dict[str, Any]] = []
    good: list[tuple[int, str]] = []  # (row in out, text)
    for number, row in batch:
        ident = row.get("id", number) if isinstance(row, dict) else number
        text = row.get("text") if isinstance(row, dict) else None
        if isinstance(row, json.JSONDecodeError):
            out.append({"id": ident, "error": f"line {number}: not valid JSON ({row.msg})"})
        elif not isinstance(text, str) or not text.strip():
            out.append({"id": ident, "error": f"line {number}: 'text' must be a non-empty string"})
        else:
            out.append({"id": ident})
            good.append((len(out) - 1, text))
    options: dict[str, Any] = dict(taxonomy=args.taxonomy, multi_label=not args.single_label,
                                   threshold=args.threshold, top_k=args.top_k, evidence=not args.no_evidence)
    results: list[TagResult | InvalidInputError]
    try:
        results = list(tagger.tag([text for _, text in good], labels, **options)) if good else []
    except InvalidInputError:
        results = []
        for _, text in good:  # tag one by one to find the bad text(s) without losing the rest
            try:
                results.append(tagger.tag([text], labels, **options)[0])
            except InvalidInputError as exc:
                results.append(exc)
    for (slot, _), result in zip(good, results, strict=True):
        if isinstance(result, InvalidInputError):
            out[slot]["error"] = str(result)
        else:
            out[slot].update(result.to_dict())
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    labels = [x.strip() for x in args.labels.split(",") if x.strip()] if args.labels else None
    try:
        if not args.input.is_file():
            raise NewstagError(f"no such input file: {args.input}")
        done = _complete_lines(args.output) if args.resume else 0
        settings = Settings.from_env(max_documents=max(1, args.batch_size))
        tagger = Tagger.from_settings(settings)
        tagger.label_set(labels, args.taxonomy)  # an unknown taxonomy fails now, not per line
    except NewstagError as exc:
        print(f"batch: error: {exc}", file=sys.stderr)
        return 2
    with args.input.open("rb") as handle:
        total = sum(1 for _ in handle)
    errors = 0
    with args.output.open("a" if args.resume else "w", encoding="utf-8") as out, \
            tqdm(total=total, initial=done, desc="tagging", unit="doc", file=sys.stderr) as bar:
        batch: list[tuple[int, Any]] = []
        for item in _rows(args.input, done):
            batch.append(item)
            if len(batch) == args.batch_size:
                errors += _write(out, _tag_batch(tagger, batch, args, labels), bar)
                batch = []
        if batch:
            errors += _write(out, _tag_batch(tagger, batch, args, labels), bar)
    print(f"tagged {total - done - errors} articles into {args.output}; {errors} lines had errors", file=sys.stderr)
    return 0


def _write(out, rows: list[dict[str, Any]], bar: tqdm) -> int:
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    out.flush()
    bar.update(len(rows))
    return sum(1 for row in rows if "error" in row)


if __name__ == "__main__":
    sys.exit(main())
