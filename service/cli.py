"""Command line: ``newstag`` (the same as ``python -m service``).

``tag``, ``taxonomies`` and ``export-onnx`` are here; ``serve``, ``batch``, ``bulk`` and ``drift`` hand the rest of
the command line to gunicorn, ``service.batch``, ``service.bulk`` and ``service.drift``, which parse
it themselves.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from .config import Settings, unknown_variable_warnings
from .engine import ConfigError, NewstagError, TagResult, onnx_cache, validation
from .engine.classifier_dir import is_classifier_dir
from .engine.routing import served_by
from .engine.taxonomy import TaxonomyRegistry
from .interrupts import run_command
from .preflight import check_model_dir
from .tagging import TagOptions, tagger_for

SERVE_PREFACE = """newstag serve: gunicorn with newstag's configuration (service/gunicorn_config.py), which sets
  bind 0.0.0.0:$PORT (8000), worker class gthread, workers and torch threads by the cores
  (NEWSTAG_WORKERS, NEWSTAG_TORCH_THREADS), threads NEWSTAG_MAX_QUEUE + 8 (NEWSTAG_THREADS), timeout 120 s;
  docs/production.md explains each. An option given below overrides it. The defaults gunicorn's
  help shows below are gunicorn's own, not what newstag serve runs with.
"""


def _serve(argv: list[str]) -> int:
    """gunicorn with newstag's settings (what `make serve` runs); gunicorn's own options may follow."""
    from gunicorn.app.wsgiapp import run

    if {"-h", "--help"} & set(argv):
        # gunicorn's help lists its own defaults (127.0.0.1:8000, 1 sync worker, ...), which newstag's config replaces.
        print(SERVE_PREFACE)
    sys.argv = ["newstag serve", "-c", "python:service.gunicorn_config", *argv]
    run(prog="newstag serve")  # returns only through SystemExit, when the server stops
    return 0


def _batch(argv: list[str]) -> int:
    from .batch import main as batch

    return batch(argv, prog="newstag batch")


def _bulk(argv: list[str]) -> int:
    from .bulk import main as bulk

    return bulk(argv, prog="newstag bulk")


def _drift(argv: list[str]) -> int:
    from .drift.__main__ import main as drift

    return drift(argv, prog="newstag drift")


def _cache(argv: list[str]) -> int:
    from .cache_cli import main as cache

    return cache(argv, prog="newstag cache")


# Commands whose options belong to another parser: (run, help).
HANDED_ON = {
    "serve": (_serve, "serve the API with gunicorn on 0.0.0.0:$PORT, as make serve does (gunicorn options follow)"),
    "batch": (_batch, "tag a JSONL file of articles: newstag batch --input IN.jsonl --output OUT.jsonl"),
    "bulk": (_bulk, "tag an archive on Ray: newstag bulk --input 'archive/*.jsonl' --output tagged/"),
    "drift": (_drift, "compare the tags of two periods: newstag drift THEN.jsonl NOW.jsonl"),
    "cache": (_cache, "list the label-vector and ONNX cache files this build never reads; --prune removes them"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newstag", description="newstag: topic tagging for news.")
    commands = parser.add_subparsers(dest="command", required=True)
    tag = commands.add_parser("tag", help="tag one article (a file, or - for standard input)")
    tag.add_argument("file", nargs="?", default="-", help="a UTF-8 text file, or - (default) for stdin")
    tag.add_argument("--taxonomy", help="taxonomy name (default: news, or NEWSTAG_TAXONOMY)")
    tag.add_argument("--labels", help='comma-separated labels that replace the taxonomy: "a,b,c"')
    tag.add_argument("--top-k", type=int, help="at most this many topics")
    tag.add_argument("--threshold", type=float, help="one threshold for every label, 0 to 1")
    tag.add_argument("--single-label", action="store_true", help="return exactly one topic, the best")
    tag.add_argument("--no-evidence", action="store_true", help="leave out the evidence sentences")
    tag.add_argument("--model", type=Path,
                     help="a fine-tuned model directory (training.finetune), or another local embedding model")
    tag.add_argument("--json", action="store_true", help="print the result as JSON")
    commands.add_parser("taxonomies", help="list the installed taxonomies")
    export = commands.add_parser("export-onnx", help="export the model's ONNX graphs into NEWSTAG_ONNX_DIR "
                                 "(install or image build time), checked and checksummed")
    export.add_argument("--precision", default="fp32,int8", help="comma-separated: fp32, int8 (default both)")
    export.add_argument("--model", type=Path, action="append",
                        help="a fine-tuned model directory (training.finetune) or another local embedding model "
                             "instead of the default model (NEWSTAG_MODEL); repeat for several")
    export.add_argument("--int8-range", choices=("auto", "full", "reduced", "both"), default="auto",
                        help="int8 weights: 8-bit (full: CPUs with VNNI, ARM) or 7-bit (reduced: x86 without "
                             "VNNI); auto: what this CPU needs; both: for an image that runs on either")
    for name, (_, summary) in HANDED_ON.items():
        commands.add_parser(name, help=summary, add_help=False)  # listed here, parsed by their own parser
    return parser


def _read(path: str) -> str:
    """The text as it is in the file (CRLF kept, so evidence offsets count its characters), a
    UTF-8 byte-order mark left out."""
    name = "standard input" if path == "-" else path
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as handle:
                data = handle.read()
    except OSError as exc:
        raise NewstagError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NewstagError(f"{name} is not valid UTF-8 (byte {exc.start})") from None


def _print_result(result: TagResult) -> None:
    if not result.topics:  # the warnings below say why, when something other than the threshold did
        print("no topic" if result.warnings else "no topic passed its threshold")
    for topic in result.topics:
        code = f"  {topic.code}" if topic.code else ""
        print(f"{topic.score:.2f}  {topic.label}{code}")
        for ev in topic.evidence:
            quoted = textwrap.shorten(ev.text, width=100, placeholder=" …")
            print(f"        {ev.score:.2f} [{ev.start}:{ev.end}] {quoted}")
    for warning in result.warnings:  # why there is no topic, or why to trust them less (as --json gives them)
        print(f"warning ({warning.code}): {warning.message}")


def _check(args: argparse.Namespace, text: str, settings: Settings, labels: list[str] | None) -> None:
    """Everything that can be wrong with the request, before the model is loaded (seconds)."""
    complaint = validation.text_problem(text, settings.max_text_chars)
    if complaint is not None:
        raise NewstagError(f"{'standard input' if args.file == '-' else args.file} {complaint}")
    options = TagOptions(tuple(labels) if labels is not None else None, args.taxonomy,
                         threshold=args.threshold, top_k=args.top_k)
    if (problem := options.problem()) is not None:  # the batch and bulk jobs' checks and words
        raise NewstagError(problem)
    if args.model is not None:
        check_model_dir(args.model, settings.models_dir)
    if args.model is not None and is_classifier_dir(args.model):  # ModelLoadError when it cannot be read
        if args.taxonomy:
            raise NewstagError(f"--model {args.model.name} has its own labels: a taxonomy does not apply")
        return
    if labels is None:
        _registry(settings).get(args.taxonomy or settings.taxonomy)  # an unknown name says which exist


def _registry(settings: Settings) -> TaxonomyRegistry:
    return TaxonomyRegistry.load(settings.taxonomies_dir)


def _tag(args: argparse.Namespace) -> int:
    text = _read(args.file)
    parsed = TagOptions.parse_labels(args.labels)
    labels = list(parsed) if parsed is not None else None
    settings = Settings.from_env(batching=False)  # one call: the model runs in this thread
    _check(args, text, settings, labels)
    tagger = tagger_for(settings, args.model, lazy=True)  # one text: load EmbeddingGemma only for it
    [result] = tagger.tag(
        [text], labels, taxonomy=args.taxonomy, multi_label=not args.single_label,
        threshold=args.threshold, top_k=args.top_k, evidence=not args.no_evidence,
    )
    if args.json:
        payload = {**result.to_dict(), "model": served_by(tagger)[result.model], "taxonomy": result.taxonomy}
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        _print_result(result)
    return 0


def _taxonomies() -> int:
    settings = Settings.from_env()
    registry = _registry(settings)
    registry.get(settings.taxonomy)  # NEWSTAG_TAXONOMY naming none: said here, as serve and tag say it
    for taxonomy in registry:
        default = " (default)" if taxonomy.name == settings.taxonomy else ""
        count = len(taxonomy.labels)
        title = f" {taxonomy.title}" if taxonomy.title else ""  # optional in a file
        print(f"{taxonomy.name}{default}: {count} topic{'' if count == 1 else 's'}.{title}")
    return 0


def _export_onnx(args: argparse.Namespace) -> int:
    """Load each model with NEWSTAG_RUNTIME=onnx once per precision: each load exports its graph
    (or verifies the one there), so a read-only image can ship them. A fine-tuned model on the
    embedded base needs the base's graph without the matcher; a full-mode model, its own."""
    precisions = [p.strip() for p in args.precision.split(",") if p.strip()]
    # Every value checked before the first export (fp32 was exported, then "garbage" refused;
    # an empty list exported nothing and exited 0).
    if not precisions or any(p not in ("fp32", "int8") for p in precisions):
        raise NewstagError(f"--precision {args.precision!r}: give fp32, int8 or both (ONNX graphs are fp32 or int8)")
    for model in args.model or []:
        check_model_dir(model)
    for precision in precisions:
        ranges = ("full", "reduced") if args.int8_range == "both" else (args.int8_range,)
        for int8_range, model in itertools.product(ranges if precision == "int8" else ("auto",),
                                                   args.model or [None]):
            settings = Settings.from_env(runtime="onnx", precision=precision, multilingual_model="off",
                                         onnx_int8_range=int8_range)
            target = settings.onnx_dir or onnx_cache.default_onnx_dir()
            try:
                backend = tagger_for(settings, model).backend
            except ConfigError as exc:
                if onnx_cache.writable(target):
                    raise
                # Not "NEWSTAG_PRECISION=int8 is not supported ... export one (newstag export-onnx ...)",
                # which told the user to run the command that had just failed.
                raise NewstagError(f"cannot write the {precision} graph of {model or 'the default model'} into "
                                   f"{target}: make it writable, or set NEWSTAG_ONNX_DIR to a directory that is "
                                   f"({exc})") from None
            if getattr(backend, "runtime", "torch") != "onnx":
                raise NewstagError(f"no {precision} ONNX graph could be exported for {backend.model_name} into "
                                   f"{target}" + ("" if onnx_cache.writable(target) else ", which cannot be written")
                                   + " (the log above says why)")
            weights = f", {int8_range} range" if precision == "int8" and int8_range != "auto" else ""
            print(f"{precision}: ONNX graph verified in {settings.onnx_dir or 'the default cache'} "
                  f"({backend.model_name}{weights})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "serve":  # the server logs them at start, among its other warnings
        for warning in unknown_variable_warnings():
            print(f"newstag: warning: {warning}", file=sys.stderr)
    if argv and argv[0] in HANDED_ON:
        return HANDED_ON[argv[0]][0](argv[1:])
    args = _parser().parse_args(argv)
    try:
        if args.command == "export-onnx":
            return _export_onnx(args)
        return _tag(args) if args.command == "tag" else _taxonomies()
    except NewstagError as exc:
        print(f"newstag: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # an export's staging directory is removed on the way out
        print("newstag: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # python -m service.cli, as python -m service
    sys.exit(run_command(main, "newstag"))
