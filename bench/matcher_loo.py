"""Leave one data set out: does the topic matcher transfer to label sets it never saw?

    python -m bench.matcher_loo [--data-dir ../shared/data] [--out-dir /tmp/newstag-loo]
        [--max-per-set 500] [--eval-limit 1000] [--sets NAME ...] [--only NAME ...]

For each shared set: train a matcher adapter (training.matcher) on all the other sets,
then score label-name zero-shot on the left-out set (training/matcher_eval.py: the most
similar label wins, macro-F1 on a seeded sample) with the plain model and with the
adapter merged in. Results go to stdout as a Markdown table and to
``<out-dir>/results.json`` after every set, so a long run that stops keeps what it has.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from service.engine.adapter import read_adapter
from service.engine.encoder import SentenceEncoder
from service.engine.model_files import default_model_dir
from service.interrupts import run_command
from training.matcher import MatcherConfig, train
from training.matcher_data import load_sets, read_names
from training.matcher_eval import names_only_macro_f1

SETS = ["ag-news-test", "bbc-news-train", "bbc-sport", "reuters-r90-train", "20newsgroups-train",
        "inshorts-news", "sib200-eng", "tweettopic-xl-en"]
NAMES = "reuters-label-names.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.matcher_loo", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out-dir", type=Path, default=Path("/tmp/newstag-loo"))
    parser.add_argument("--max-per-set", type=int, default=500, help="training rows per set")
    parser.add_argument("--eval-limit", type=int, default=1000, help="rows scored per left-out set")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--sets", nargs="+", default=SETS, help="the sets (file stems in --data-dir)")
    parser.add_argument("--only", nargs="+", help="left-out sets to run (default: every set)")
    args = parser.parse_args(argv)

    names_files = [args.data_dir / NAMES] if (args.data_dir / NAMES).is_file() else []
    names = read_names(names_files)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    results_file = args.out_dir / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    plain = SentenceEncoder(default_model_dir())
    for left_out in args.only or args.sets:
        held_out = load_sets([args.data_dir / f"{left_out}.jsonl"], names, None, seed=0)[0]
        before = names_only_macro_f1(plain, held_out, args.eval_limit)
        output = args.out_dir / f"without-{left_out}"
        summary = train(MatcherConfig(
            data=[args.data_dir / f"{s}.jsonl" for s in args.sets if s != left_out], output=output,
            names=names_files,
            epochs=args.epochs, max_per_set=args.max_per_set))
        adapted = SentenceEncoder(default_model_dir(), adapter=read_adapter(output))
        after = names_only_macro_f1(adapted, held_out, args.eval_limit)
        results[left_out] = {"before": round(before, 4), "after": round(after, 4),
                             "train_seconds": summary["train_seconds"],
                             "eval_rows": min(args.eval_limit, len(held_out.examples))}
        results_file.write_text(json.dumps(results, indent=2))
        print(f"{left_out}: {before:.4f} -> {after:.4f}", file=sys.stderr, flush=True)

    print("| left-out set | rows scored | plain model | with the matcher (trained without it) | change |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['eval_rows']} | {r['before']:.3f} | {r['after']:.3f} | {r['after'] - r['before']:+.3f} |")
    if results:
        gain = sum(r["after"] - r["before"] for r in results.values()) / len(results)
        print(f"\nmean change over {len(results)} sets: {gain:+.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.matcher_loo"))
