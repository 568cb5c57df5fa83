"""Tag an archive on Ray: ``python -m service.bulk --input 'archive/*.jsonl' --output tagged/``.

Inputs are JSONL or Parquet files, directories or globs, one record per article with
``id`` and ``text``; every other column is carried to the output untouched. The output
directory gets one shard (Parquet, or JSONL with --format jsonl) per slice of the input,
one row per record: its id, its carried columns, its topics or its error, and the model
and taxonomy that tagged it. Running the same command again after an interruption tags
only the shards that are missing. Without --address (or RAY_ADDRESS) Ray runs here on
this machine's cores.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from .. import __version__
from ..config import Settings
from ..engine import NewstagError
from ..interrupts import sigterm_interrupts
from ..tagging import TagOptions, check_model_choice, code_fingerprint, result_settings, taxonomy_fingerprint
from .output import OutputDir
from .plan import check_apart, compressed_note, fingerprint, input_files, plan
from .runner import Tally, pool_size, ray_session, run


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("--input", nargs="+", required=True, help="JSONL or Parquet files, directories or globs")
    parser.add_argument("--output", type=Path, required=True, help="a directory for the output shards")
    parser.add_argument("--format", choices=["parquet", "jsonl"], default="parquet", help="of the output shards")
    parser.add_argument("--taxonomy", help="taxonomy name (default: news, or NEWSTAG_TAXONOMY)")
    parser.add_argument("--labels", help='comma-separated labels that replace the taxonomy: "a,b,c"')
    parser.add_argument("--threshold", type=float, help="one threshold for every label, 0 to 1")
    parser.add_argument("--top-k", type=int, help="at most this many topics per article")
    parser.add_argument("--single-label", action="store_true", help="exactly one topic per article, the best")
    parser.add_argument("--evidence", action="store_true", help="add each topic's evidence sentences")
    parser.add_argument("--model", type=Path, help="a fine-tuned model directory, or another local embedding model")
    parser.add_argument("--address", help="a Ray cluster to run on (default: RAY_ADDRESS, else Ray on this machine)")
    parser.add_argument("--workers", type=int, help="model copies (default: as many as the CPUs hold)")
    parser.add_argument("--threads-per-worker", type=int, default=1, help="CPUs (torch threads) per worker")
    parser.add_argument("--batch-size", type=int, default=32, help="articles per model call")
    parser.add_argument("--shard-rows", type=int, default=2000, help="input rows per output shard")
    parser.add_argument("--overwrite", action="store_true", help="replace the shards of an earlier job there")
    return parser


def _options(args: argparse.Namespace, settings: Settings) -> TagOptions:
    """The options, checked before Ray starts or any model loads."""
    options = TagOptions(TagOptions.parse_labels(args.labels), args.taxonomy, multi_label=not args.single_label,
                         threshold=args.threshold, top_k=args.top_k, evidence=args.evidence)
    if (problem := options.problem()) is not None:
        raise NewstagError(problem)
    return options


def _check_counts(args: argparse.Namespace) -> None:
    for name in ("workers", "threads_per_worker", "batch_size", "shard_rows"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise NewstagError(f"--{name.replace('_', '-')} must be at least 1, not {value}")


def main(argv: list[str] | None = None, prog: str = "python -m service.bulk") -> int:
    args = _parser(prog).parse_args(argv)
    output = OutputDir(args.output, args.format)
    try:
        _check_counts(args)  # before the settings, which would name NEWSTAG_TORCH_THREADS for --threads-per-worker
        settings = Settings.from_env(max_documents=args.batch_size, torch_threads=args.threads_per_worker)
        options = _options(args, settings)
        # Before Ray starts, else every Ray worker refused a broken model after it had started.
        model_version = check_model_choice(args.model, settings, options)
        inputs = input_files(args.input)
        files = inputs.files
        if (note := compressed_note(inputs)) is not None:
            print(f"bulk: {note}", file=sys.stderr)
        check_apart(files, args.output, args.input, args.format)
        shards = plan(files, args.shard_rows)
        if not shards:  # said "nothing left to do: all 0 shards are in ..."
            print(f"bulk: nothing to tag: the input ({len(files)} file{'s' * (len(files) > 1)}) has no records; "
                  f"nothing written to {args.output}", file=sys.stderr)
            return 0
        model = str(args.model.resolve()) if args.model else None
        job = {"newstag": __version__, "code": code_fingerprint(), "inputs": fingerprint(files),
               "shard_rows": args.shard_rows, "format": args.format, "options": asdict(options),
               "model": model or str(settings.model or "default"),
               "model_version": model_version, "settings": result_settings(settings),
               "taxonomy_content": taxonomy_fingerprint(settings, options, args.model)}
        output.claim(job, args.overwrite)
        done = output.done()
        todo = [shard for shard in shards if shard.index not in done]
        if done:
            print(f"bulk: {len(done)} of {len(shards)} shards are already in {args.output}; tagging the other "
                  f"{len(todo)}", file=sys.stderr)
        if not todo:
            print(f"bulk: nothing left to do: all {len(shards)} shards are in {args.output}", file=sys.stderr)
            return 0
        # SIGTERM as Ctrl-C once Ray has set its own handler (which aborted with a dump of its threads)
        with ray_session(args.address, None) as local, sigterm_interrupts(replace_foreign=True):
            workers = pool_size(args.workers, args.threads_per_worker, local)
            workers = min(workers, len(todo))  # an actor with no shard would only load the model
            threads = args.threads_per_worker
            print(f"bulk: {sum(s.rows for s in todo):,} input lines/rows in {len(todo)} shards, {workers} "
                  f"worker{'s' * (workers > 1)} × {threads} thread{'s' * (threads > 1)}", file=sys.stderr, flush=True)
            tally = Tally(sum(s.rows for s in todo), len(todo))
            actor_args = dict(settings=settings, model=model, options=options, out_dir=str(args.output.resolve()),
                              fmt=args.format, batch_size=args.batch_size)
            run(todo, tally, workers, args.threads_per_worker, actor_args)
    except NewstagError as exc:
        output.abandon()
        print(f"bulk: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        output.abandon()  # stopped before it wrote a shard: nothing left behind
        print(f"bulk: interrupted; the shards written are kept in {args.output}: run the same command again "
              "to finish the others", file=sys.stderr)
        return 130
    finally:
        output.release()
    _summary(tally, args.output, len(shards) - len(todo), len(shards))
    if tally.stopped:
        left = tally.shards - tally.finished
        print(f"bulk: stopped early: the output cannot be written ({tally.stopped}); the {left} shards not finished "
              f"are left for the next run: make room (or fix {args.output}), then run the same command again",
              file=sys.stderr)
    return 1 if tally.failed else 0


def _summary(tally: Tally, output: Path, earlier: int, shards: int) -> None:
    peak = max(tally.peak_rss.values(), default=0) / 1e9
    print(f"bulk: done: this run {tally.rows:,} rows in, {tally.rows - tally.errors:,} tagged, {tally.errors:,} "
          f"error{'s' * (tally.errors != 1)}, {tally.seconds:.1f} s, "
          f"{tally.rows / max(tally.seconds, 1e-9):.1f} articles/s; peak memory per "
          f"worker {peak:.2f} GB; {earlier + tally.finished - len(tally.failed)} of {shards} shards in {output}"
          + (f" ({earlier} from an earlier run)" if earlier else ""), file=sys.stderr)
    if tally.failed:
        print(f"bulk: {len(tally.failed)} shards ({tally.failed_rows:,} input rows) failed and were not written "
              "(run the same command again to retry them):", file=sys.stderr)
        for line in tally.failed:
            print(f"  {line}", file=sys.stderr)
