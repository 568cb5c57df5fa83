"""Drift report: ``python -m service.drift THEN NOW [--json] [--plots DIR] [--model DIR]``."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

from ..batch_output import job_file
from ..errors import NewstagError
from ..interrupts import run_command
from .comparison import DriftReport, Rule, against_training, compare
from .reading import read_tags
from .reference import LABEL_SHARES_FILE, training_tags

DESCRIPTION = """\
Compare the tags of two periods (or two files) and say which labels moved.

THEN and NOW are JSONL files: the output of `python -m service.batch` (rows with
"topics": the model's tags and scores; saved POST /v1/classify answers, one a line, read
the same, each of their "results" a row) or an export of editors' corrections
(GET /v1/feedback/export: rows with "labels"). THEN is the reference.

For each label the report gives its share of articles in both periods, the change in
share points and a Holm-adjusted p-value (Fisher's exact test); a label moved when
that p-value is below --alpha and the change is at least --min-change. It also gives
the population stability index of the label mix (below 0.1 stable, 0.1 to 0.25 a
moderate shift, above 0.25 a major one) beside what sampling alone would give, the
Jensen-Shannon divergence, the share of articles with no topic, and the quantiles of
each article's top score with a Kolmogorov-Smirnov test.

With --model, NOW is compared with the label shares of a fine-tuned model's training
data as well (THEN may then be left out)."""

EPILOG = """\
examples:
  python -m service.drift last-month.jsonl this-week.jsonl
  python -m service.drift last-month.jsonl this-week.jsonl --json > drift.json
  python -m service.drift last-month.jsonl this-week.jsonl --plots reports/
  python -m service.drift this-week.jsonl --model models/desk-topics

exit status: 0 when the report was made (1 with --fail-on-drift when something moved),
2 when a file cannot be read or an option is wrong."""


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _alpha(text: str) -> float:
    # 0 would let nothing count as moved: the report silently off.
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError("must be above 0 and below 1 (0.01 is the usual)")
    return value


def _parser(prog: str) -> argparse.ArgumentParser:
    usage = f"{prog} THEN NOW [options]\n       {prog} NOW --model DIR [options]"
    parser = argparse.ArgumentParser(prog=prog, usage=usage, description=DESCRIPTION,
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE",
                        help="THEN and NOW, two tag files, the older first (only NOW with --model)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--plots", type=Path, metavar="DIR", help="also write the chart to DIR/drift.png")
    parser.add_argument("--model", type=Path, metavar="DIR",
                        help=f"a fine-tuned model directory: compare NOW with its training data ({LABEL_SHARES_FILE})")
    parser.add_argument("--taxonomy", metavar="NAME",
                        help="keep only the rows of this taxonomy: a feedback export or bulk output may mix several "
                             "(newstag batch's rows do not name theirs); \"\" keeps the typed labels' rows "
                             "(\"taxonomy\": null), as the export's ?taxonomy= does")
    parser.add_argument("--alpha", type=_alpha, default=Rule.alpha,
                        help="chance of any false alarm per report, after Holm's correction (default: %(default)s)")
    parser.add_argument("--min-change", type=_share, default=Rule.min_change, metavar="SHARE",
                        help="smallest change in a label's share that counts, 0.02 = 2 points (default: %(default)s)")
    parser.add_argument("--fail-on-drift", action="store_true", help="exit with status 1 when something moved")
    return parser


def label_sets_apart(then: Path, now: Path) -> str | None:
    """Why two batch outputs' labels cannot be compared, from the job files beside them
    (``OUT.jsonl.job.json``: the taxonomy, labels and model that tagged them), or None.
    Tagged with `iptc-top` and then `news`, every label "moved" (PSI 7)."""
    def label_set(path: Path) -> tuple[str, str] | None:
        try:
            job = json.loads(job_file(path).read_text(encoding="utf-8"))
            options, settings = job["options"], job["settings"]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # not a batch output, or its job file gone: nothing to compare
        labels = (f"labels {','.join(options['labels'])}" if options.get("labels")
                  else f"taxonomy {options.get('taxonomy') or settings.get('taxonomy')}")
        return labels, str(job.get("model") or settings.get("model"))
    a, b = label_set(then), label_set(now)
    if a is None or b is None or a == b:
        return None
    return (f"{then} was tagged with {a[0]} (model {a[1]}) and {now} with {b[0]} (model {b[1]}), as their job files "
            "say: labels of different label sets or models move apart whatever the news did")


def builds_apart(then: Path, now: Path) -> str | None:
    """Why two batch outputs of one label set and model may still disagree whatever the news
    did, from their job files: another build of newstag (an upgrade in place keeps the version
    number; a job file without ``code`` is from a build before session 44), or a fine-tuned
    model retrained in its directory. Tagged by a build 600 commits older, a third of 120
    articles got other labels (PSI 0.10, "moderate shift") and nothing said why."""
    def build(path: Path) -> dict | None:
        try:
            job = json.loads(job_file(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return job if isinstance(job, dict) else None
    a, b = build(then), build(now)
    if a is None or b is None:
        return None
    if (a.get("newstag"), a.get("code")) != (b.get("newstag"), b.get("code")):
        return (f"{then} and {now} were tagged by different builds of newstag, as their job files say: scores "
                "and labels move with the code as well as with the news (tag both periods with one build to "
                "compare them)")
    if a.get("model_version") != b.get("model_version"):
        return (f"{then} and {now} were tagged by different versions of model {b.get('model')} (retrained in its "
                f"directory: {a.get('model_version')}, then {b.get('model_version')}), as their job files say: labels "
                "move with the model as well as with the news")
    return None


def main(argv: list[str] | None = None, prog: str = "python -m service.drift") -> int:
    parser = _parser(prog)
    args = parser.parse_args(argv)
    if len(args.files) > 2 or (len(args.files) == 1 and args.model is None):
        parser.error("give THEN and NOW (or one file with --model)")
    if args.plots is not None and importlib.util.find_spec("matplotlib") is None:
        # Serving installs (the image, `pip install .`) leave matplotlib out: say so before any work.
        parser.error("--plots needs matplotlib, which serving does not install (requirements-train.txt pins it)")
    if args.plots is not None and args.plots.exists() and not args.plots.is_dir():
        parser.error(f"--plots {args.plots} is a file: name a directory (the chart is written to DIR/drift.png)")
    rule = Rule(alpha=args.alpha, min_change=args.min_change)
    try:
        tags = [read_tags(path, args.taxonomy) for path in args.files]
        training = training_tags(args.model) if args.model is not None else None
    except NewstagError as exc:
        print(f"drift: error: {exc}", file=sys.stderr)
        return 2
    if len(args.files) == 2 and (told := label_sets_apart(*args.files) or builds_apart(*args.files)) is not None:
        print(f"drift: warning: {told}", file=sys.stderr)
    now = tags[-1]
    report = DriftReport(periods=compare(tags[0], now, rule) if len(tags) == 2 else None,
                         training=against_training(training, now, rule) if training is not None else None,
                         model=str(args.model) if args.model is not None else None)
    from .render import as_json, as_text

    sys.stdout.write(as_json(report) if args.json else as_text(report))
    if args.plots is not None:
        from .plot import write_chart

        try:
            path = write_chart(report, args.plots / "drift.png")
        except OSError as exc:  # the report is out; the chart could not be written (permissions, a full disk)
            print(f"drift: error: cannot write the chart into {args.plots}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        print(f"chart: {path}", file=sys.stderr)
    return 1 if args.fail_on_drift and report.drift else 0


if __name__ == "__main__":
    sys.exit(run_command(main, "drift"))
