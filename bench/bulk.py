"""service.batch against the bulk job on Ray, on the same articles, in one run.

Usage:
    python -m bench.bulk [--data ../shared/data/ag-news-test.jsonl] [--articles 5000]
                         [--shard-rows 250] [--quick]

Each row is a fresh subprocess, as a user runs it (the model loads in each, and the Ray
rows start their own local Ray instance): service.batch (one process, torch on every core),
then the bulk job with 1 worker × 2 threads, 1 × 1 and 2 × 1. All tag the same JSONL file
(id and text of the first --articles articles) with the news taxonomy and no evidence
(the bulk job's default). Figures:
- wall s: the whole command, start to exit (Ray's start and the model loads included);
- tagging s: the bulk job's own clock, from its actor pool's start (model loads included) to
  its last shard; for service.batch, the wall time;
- peak GB per worker: VmHWM of each process that holds a model (service.batch's one process;
  each Ray actor, which reports its own);
- peak GB, all: the largest sum of resident memory of the command and every process under
  it (Ray's daemons included), sampled every 0.2 s;
- CPU s: user + system CPU time of the command and every process under it (each process's
  last sample), so articles per CPU second, unlike articles/s, hardly depends on what else
  the machine is running.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from service.interrupts import run_command

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data" / "ag-news-test.jsonl"
SUMMARY = re.compile(r"bulk: done: this run ([\d,]+) rows in, .*?, ([\d.]+) s, [\d.]+ articles/s; "
                     r"peak memory per worker ([\d.]+) GB")


@dataclass
class Row:
    name: str
    articles: int
    wall: float
    tagging: float
    peak_worker_gb: float
    peak_all_gb: float
    cpu: float


def write_input(source: Path, limit: int, target: Path) -> int:
    with source.open(encoding="utf-8") as lines, target.open("w", encoding="utf-8") as out:
        rows = [json.loads(line) for line in itertools.islice(lines, limit) if line.strip()]
        for i, row in enumerate(rows):
            out.write(json.dumps({"id": str(row.get("id", i)), "text": row["text"]}, ensure_ascii=False) + "\n")
    return len(rows)


def run(command: list[str]) -> tuple[float, float, str, int, float]:
    """(wall seconds, peak GB of the process tree, stderr, the peak bytes a command reports of
    itself, CPU seconds of the tree)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
        root, peak = psutil.Process(process.pid), 0
        cpu: dict[int, float] = {}
        while process.poll() is None:
            peak = max(peak, _tree_rss(root, cpu))
            time.sleep(0.2)
        wall = time.monotonic() - started
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-3000:]}")
    own = _own_peak(stderr)
    return wall, peak / 1e9, stderr, own, sum(cpu.values())


def _tree_rss(root: psutil.Process, cpu: dict[int, float]) -> int:
    """Resident bytes of the tree now; ``cpu`` keeps each process's latest CPU seconds."""
    total = 0
    try:
        for process in [root, *root.children(recursive=True)]:
            try:
                total += process.memory_info().rss
                times = process.cpu_times()
                cpu[process.pid] = times.user + times.system
            except psutil.Error:
                pass
    except psutil.Error:
        pass
    return total


def _own_peak(stderr: str) -> int:
    match = re.search(r"peak-rss (\d+)", stderr)
    return int(match.group(1)) if match else 0


BATCH_WRAPPER = """
import resource, sys
from service.batch import main
status = main(sys.argv[1:])
print(f"peak-rss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}", file=sys.stderr)
sys.exit(status)
"""


def bench_batch(data: Path, out: Path, n: int) -> Row:
    wall, peak_all, stderr, own, cpu = run([sys.executable, "-c", BATCH_WRAPPER, "--input", str(data), "--output",
                                       str(out), "--taxonomy", "news", "--no-evidence", "--overwrite"])
    # One process: its own peak (getrusage) is exact where the 0.2 s samples may miss it.
    return Row("service.batch, 1 process × 2 threads", n, wall, wall, own / 1e9, max(peak_all, own / 1e9), cpu)


def bench_bulk(data: Path, out: Path, n: int, workers: int, threads: int, shard_rows: int) -> Row:
    wall, peak_all, stderr, _, cpu = run([sys.executable, "-m", "service.bulk", "--input", str(data), "--output",
                                     str(out), "--taxonomy", "news", "--workers", str(workers),
                                     "--threads-per-worker", str(threads), "--shard-rows", str(shard_rows),
                                     "--overwrite"])
    match = SUMMARY.search(stderr)
    if match is None:
        raise SystemExit(f"no summary from the bulk job:\n{stderr[-3000:]}")
    lines = [line for line in stderr.splitlines() if line.startswith("bulk: ")]
    print("\n".join(lines[:1] + lines[-2:]), flush=True)  # what it ran, its last shard and its summary
    rows = int(match.group(1).replace(",", ""))
    if rows != n:
        raise SystemExit(f"the bulk job tagged {rows} rows, not {n}")
    return Row(f"service.bulk, {workers} worker{'s' if workers > 1 else ''} × {threads} thread"
               f"{'s' if threads > 1 else ''}", n, wall, float(match.group(2)), float(match.group(3)), peak_all, cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="JSONL with text (default: AG News test, else seeds/)")
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--shard-rows", type=int, default=250, help="small enough that 2 workers share the work")
    parser.add_argument("--quick", action="store_true", help="seeds/ articles, service.batch and 1 worker only")
    args = parser.parse_args(argv)
    data = args.data or (SHARED_DATA if SHARED_DATA.is_file() and not args.quick else ROOT / "seeds" / "examples.jsonl")
    configs = [(1, 1)] if args.quick else [(1, 2), (1, 1), (2, 1)]
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        n = write_input(data, 40 if args.quick else args.articles, Path(tmp) / "in.jsonl")
        print(f"{n} articles from {data.name}; {os.cpu_count()} cores; load average {load:.2f} at the start",
              flush=True)
        rows = [bench_batch(Path(tmp) / "in.jsonl", Path(tmp) / "batch.jsonl", n)]
        for workers, threads in configs:
            rows.append(bench_bulk(Path(tmp) / "in.jsonl", Path(tmp) / f"bulk-{workers}-{threads}", n, workers,
                                   threads, min(args.shard_rows, max(1, n // 4))))
    print(f"load average {os.getloadavg()[0]:.2f} at the end (other jobs on the machine raise it above 2)")
    print("| command | wall s | articles/s (wall) | tagging s | articles/s (tagging) | CPU s | articles per CPU s | "
          "peak GB per worker | peak GB, all processes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row.name} | {row.wall:.1f} | {row.articles / row.wall:.1f} | {row.tagging:.1f} | "
              f"{row.articles / row.tagging:.1f} | {row.cpu:.0f} | {row.articles / max(row.cpu, 1e-9):.1f} | "
              f"{row.peak_worker_gb:.2f} | {row.peak_all_gb:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.bulk"))
