"""What a worker's fine-tuned models cost: disk, resident memory, load and rescan time.

Usage:
    python -m bench.models_memory DIR [DIR ...]

Each DIR is a models directory (NEWSTAG_MODELS_DIR); each is loaded in a fresh process, as a
worker loads it (TrainedModels.scan, warm-up included), with the service's settings from the
environment. Reported per directory: its size on disk, the process's resident memory after
imports, after loading and after tagging the founding article four times with each model, the
first scan and a rescan of unchanged directories. Run it on directories of the same models
written two ways (an encoder copied into each, or the base named by checksum) to compare
them: each process starts from the same imports, so the rows compare side by side.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from service.interrupts import run_command

ARTICLE = Path(__file__).resolve().parent.parent / "seeds" / "000_61fd793a4efa8984.txt"


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS"))


def _disk_mb(directory: Path) -> float:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file()) / 2**20


def measure(models: Path) -> dict:
    """One directory, in this process (the child's side)."""
    from service.config import Settings
    from service.engine import TaxonomyRegistry
    from service.http.trained_models import TrainedModels

    settings = Settings.from_env(models_dir=models)
    options = settings.engine_options()
    imported = _rss_mb()
    trained = TrainedModels(models, options, TaxonomyRegistry.load())
    started = time.perf_counter()
    errors = trained.scan()
    first_scan = time.perf_counter() - started
    loaded = _rss_mb()
    started = time.perf_counter()
    trained.scan()
    rescan = time.perf_counter() - started
    texts = [ARTICLE.read_text(encoding="utf-8")] * 4
    for tagger in trained.taggers().values():
        tagger.tag(texts)
    return {"directory": str(models), "models": len(trained.taggers()), "errors": errors,
            "disk_mb": round(_disk_mb(models), 2), "rss_imported_mb": round(imported), "rss_loaded_mb": round(loaded),
            "rss_tagged_mb": round(_rss_mb()), "first_scan_s": round(first_scan, 2), "rescan_s": round(rescan, 2),
            "precision": options.model.encoder.precision, "runtime": options.model.encoder.runtime}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.models_memory", description=__doc__.split("\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="models directories (NEWSTAG_MODELS_DIR)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.dirs[0])))
        return 0
    rows = []
    for directory in args.dirs:
        done = subprocess.run([sys.executable, "-m", "bench.models_memory", "--child", str(directory)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{directory}: failed:\n{done.stderr[-2000:]}", file=sys.stderr)
            return 1
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print("| models directory | models | on disk (MB) | RSS after imports | after loading | after tagging "
          "| first scan (s) | rescan (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['directory']} | {row['models']} | {row['disk_mb']:,.2f} | {row['rss_imported_mb']:,} MB "
              f"| {row['rss_loaded_mb']:,} MB | {row['rss_tagged_mb']:,} MB | {row['first_scan_s']} "
              f"| {row['rescan_s']} |")
        if row["errors"]:
            print(f"  errors: {row['errors']}")
    print(f"\n(precision {rows[0]['precision']}, runtime {rows[0]['runtime']})")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.models_memory"))
