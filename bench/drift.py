"""Does the drift report see drift where there is some, and only there? Real corpora, the real model.

Usage:
    python -m bench.drift [--data-dir ../shared/data] [--per-set 1000] [--splits 20] [--seed 0]
                          [--out-dir reports/drift] [--plot docs/drift-chart.png]
    python -m bench.drift --small-periods 200 [--data-dir ../shared/data] [--seed 0]

1. sample ``--per-set`` articles of BBC News and of Inshorts (seeded), whose mixes differ:
   BBC files business, entertainment, politics, sport and tech in about equal parts,
   Inshorts short summaries with much world news, science and cars;
2. tag them with the ``news`` taxonomy through the Tagger at the service's defaults (what
   POST /v1/classify does; evidence off, which does not change the topics) and write
   them as ``service.batch`` writes its output, into ``--out-dir``;
3. BBC News against Inshorts: the drift report, which must name the labels that moved;
4. no drift: each corpus (and the two pooled) shuffled and cut in halves ``--splits``
   times, one report per cut: how many of them report drift (a false alarm each).

``--small-periods SPLITS`` runs only this instead (no model, no tagging): periods of the
size of an editors' corrections export, 300 articles against 30, cut from one shuffled
corpus (Reuters, its own labels as a feedback export gives them) SPLITS times; each report
with drift is a false alarm.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from service.config import Settings
from service.drift import compare, read_tags
from service.drift.comparison import DriftReport
from service.drift.plot import write_chart
from service.drift.render import as_text
from service.engine import Tagger
from service.interrupts import run_command
from service.progress import progress_bar
from training.data import Example, read_labeled

SETS = ["bbc-news-train", "inshorts-news"]


def tag_to_file(tagger: Tagger, examples: list[Example], ids: list[str], path: Path, desc: str) -> list[dict]:
    """Tag with the news taxonomy and write rows as ``service.batch`` does; returns the rows."""
    rows: list[dict] = []
    size = tagger.options.max_documents
    for start in progress_bar(range(0, len(examples), size), desc=desc, file=sys.stderr, leave=False):
        chunk = examples[start:start + size]
        for offset, result in enumerate(tagger.tag([e.text for e in chunk], evidence=False)):
            number = start + offset
            rows.append({"line": number + 1, "id": ids[number], **result.to_dict()})
    write_rows(path, rows)
    return rows


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def false_alarms(rows: list[dict], splits: int, seed: int, out_dir: Path,
                 name: str) -> tuple[int, list[float], float]:
    """Drift reports on ``splits`` random halves of the same rows: how many saw drift, each PSI,
    and the PSI that sampling alone gives (of the last split: the halves' sizes barely vary)."""
    alarms, psis, noise = 0, [], 0.0
    for k in range(splits):
        shuffled = rows[:]
        random.Random(seed * 1000 + k).shuffle(shuffled)
        cut = len(shuffled) // 2
        then = read_tags(write_rows(out_dir / f"{name}-half-a.jsonl", shuffled[:cut]))
        now = read_tags(write_rows(out_dir / f"{name}-half-b.jsonl", shuffled[cut:]))
        report = compare(then, now)
        alarms += report.drift
        psis.append(report.psi)
        noise = report.psi_noise
    return alarms, psis, noise


SMALL_CORPUS, SMALL_THEN, SMALL_NOW = "reuters-r90-train", 300, 30


def small_period_alarms(path: Path, splits: int, seed: int, out_dir: Path) -> int:
    """Reports with drift among ``splits`` random cuts of one labeled corpus into SMALL_THEN
    against SMALL_NOW articles."""
    # Read as an export's rows are: read_labeled's warnings are about training on them.
    with path.open(encoding="utf-8") as lines:
        rows = [{"text": row["text"][:80], "labels": row["labels"]}
                for row in map(json.loads, filter(str.strip, lines))]
    alarms = 0
    for k in range(splits):
        shuffled = rows[:]
        random.Random(seed * 1000 + k).shuffle(shuffled)
        then = read_tags(write_rows(out_dir / "small-then.jsonl", shuffled[:SMALL_THEN]))
        now = read_tags(write_rows(out_dir / "small-now.jsonl", shuffled[SMALL_THEN:SMALL_THEN + SMALL_NOW]))
        report = compare(then, now)
        alarms += report.drift
    return alarms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drift", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--per-set", type=int, default=1000)
    parser.add_argument("--splits", type=int, default=20, help="random half-splits per corpus")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=Path("reports/drift"), help="where the tag files go")
    parser.add_argument("--plot", type=Path, help="write the BBC News -> Inshorts chart here (PNG)")
    parser.add_argument("--small-periods", type=int, default=0, metavar="SPLITS",
                        help=f"only count false alarms on SPLITS cuts of {SMALL_CORPUS} into {SMALL_THEN} against "
                             f"{SMALL_NOW} articles (no tagging)")
    args = parser.parse_args(argv)
    if not args.data_dir.is_dir():
        print(f"bench.drift: {args.data_dir} not found (the shared corpora)", file=sys.stderr)
        return 2
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.small_periods:
        alarms = small_period_alarms(args.data_dir / f"{SMALL_CORPUS}.jsonl", args.small_periods, args.seed,
                                     args.out_dir)
        print(f"| cuts of one shuffled corpus | THEN / NOW articles | reports with drift (of {args.small_periods}) |")
        print("|---|---|---|")
        print(f"| {SMALL_CORPUS} (its own labels) | {SMALL_THEN} / {SMALL_NOW} | {alarms} |")
        return 0

    tagger = Tagger.load(Settings.from_env(None).engine_options())
    tagged: dict[str, list[dict]] = {}
    for name in SETS:
        examples = read_labeled(args.data_dir / f"{name}.jsonl")
        picked = random.Random(args.seed).sample(range(len(examples)), min(args.per_set, len(examples)))
        tagged[name] = tag_to_file(tagger, [examples[i] for i in picked], [f"{name}:{i}" for i in picked],
                                   args.out_dir / f"{name}.jsonl", name)

    then, now = (read_tags(args.out_dir / f"{name}.jsonl") for name in SETS)
    across = compare(then, now)
    print(f"{args.per_set} articles per set (seed {args.seed}), news taxonomy, the service's defaults\n")
    print("```")
    print(as_text(DriftReport(across, None)).rstrip())
    print("```\n")
    if args.plot:
        write_chart(DriftReport(across, None), args.plot)
        print(f"chart: {args.plot}\n")

    print(f"| halves of one shuffled corpus | articles per half | reports with drift (of {args.splits}) "
          "| PSI, median (max) | PSI from sampling alone |")
    print("|---|---|---|---|---|")
    pooled = tagged[SETS[0]] + tagged[SETS[1]]
    for name, rows in [*tagged.items(), ("both pooled", pooled)]:
        alarms, psis, noise = false_alarms(rows, args.splits, args.seed, args.out_dir, name.replace(" ", "-"))
        psis.sort()
        half = len(rows) // 2
        print(f"| {name} | {half} | {alarms} | {psis[len(psis) // 2]:.3f} ({psis[-1]:.3f}) | {noise:.3f} |")
    print(f"\n| {SETS[0]} -> {SETS[1]} | articles | labels moved | PSI | JS divergence (bits) |")
    print("|---|---|---|---|---|")
    print(f"| | {then.articles} / {now.articles} | {len(across.moved)} of {len(across.labels)} | {across.psi:.3f} "
          f"| {across.js_divergence:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.drift"))
