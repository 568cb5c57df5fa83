"""Soak and fault test of the production server on loopback: many clients for a fixed time.

Usage:
    python -m bench.soak [--seconds 60] [--concurrency 32] [--kill-worker-at SECONDS]
                         [--workers N] [--data FILE.jsonl] [--quick]

It starts gunicorn with gunicorn.conf.py on 127.0.0.1 (default settings unless --workers),
drives POST /v1/classify with real articles, samples every worker's resident memory once
a second, and reports what failed and how: HTTP 503 (explicit backpressure), other HTTP
errors, and broken connections. With --kill-worker-at it SIGKILLs one worker at that
second and reports whether gunicorn replaced it and which requests failed around it.
Exit status 1 when a check fails (see the "checks" lines).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.server import Client, Server, request, rss_mb
from bench.throughput import load_articles
from service.interrupts import run_command

# After the kill, a request may still go out on a kept-alive connection to the dead worker
# for this long; one started later must be answered by a live worker (checked below).
KILL_GRACE_SECONDS = 1.0


@dataclass
class Outcome:
    started: float  # seconds since the run began
    seconds: float
    status: int  # 0: the connection broke


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    rss: list[tuple[float, float]] = field(default_factory=list)  # (second, total worker MB)
    killed: int | None = None
    killed_at: float | None = None
    workers_after: list[int] = field(default_factory=list)


def soak(server: Server, bodies: list[bytes], concurrency: int, seconds: float, kill_at: float | None) -> Run:
    run = Run()
    counter = itertools.count()
    lock = threading.Lock()
    begin = time.monotonic()
    end = begin + seconds

    def client() -> None:
        conn = Client(server.port)
        while time.monotonic() < end:
            with lock:
                k = next(counter) % len(bodies)
            start = time.monotonic()
            status = conn.classify(bodies[k])
            with lock:
                run.outcomes.append(Outcome(start - begin, time.monotonic() - start, status))
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    while time.monotonic() < end:
        now = time.monotonic() - begin
        if kill_at is not None and run.killed is None and now >= kill_at:
            run.killed, run.killed_at = server.worker_pids()[0], now
            os.kill(run.killed, signal.SIGKILL)
        run.rss.append((now, sum(rss_mb(pid) for pid in server.worker_pids())))
        time.sleep(1.0)
    for thread in threads:
        thread.join()
    run.workers_after = server.worker_pids()
    return run


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def report(run: Run, seconds: float, workers: int) -> list[tuple[str, bool]]:
    """Print the figures; return (check, passed) pairs."""
    statuses = Counter(o.status for o in run.outcomes)
    total = len(run.outcomes)
    ok = [o.seconds * 1000 for o in run.outcomes if o.status == 200]
    print(f"requests {total}, {total / seconds:.1f}/s; "
          f"statuses {dict(sorted(statuses.items()))} (0 = broken connection)")
    print(f"latency of 200s: p50 {percentile(ok, 50):.0f} ms, p95 {percentile(ok, 95):.0f} ms, "
          f"p99 {percentile(ok, 99):.0f} ms")
    window = min(10.0, seconds / 3)
    first = [mb for t, mb in run.rss if t < window and mb > 0]
    last = [mb for t, mb in run.rss if t >= seconds - window and mb > 0]
    growth = (sum(last) / len(last)) / (sum(first) / len(first)) - 1 if first and last else float("nan")
    timeline = ", ".join(f"{t:.0f}s {mb:.0f}" for t, mb in run.rss[::max(1, len(run.rss) // 8)])
    print(f"worker RSS timeline (MB): {timeline}")
    print(f"worker RSS (all workers): first {window:g} s {sum(first) / max(len(first), 1):.0f} MB, "
          f"last {window:g} s {sum(last) / max(len(last), 1):.0f} MB ({growth:+.1%})")
    share_503 = statuses[503] / max(total, 1)
    checks = [(f"{share_503:.2%} answered 503 (backpressure), under 1%", share_503 < 0.01)]
    others = {s: n for s, n in statuses.items() if s not in (200, 503, 0)}
    if run.killed is None:
        checks.append((f"no failures other than 503: {others or 'none'}, broken {statuses[0]}",
                       not others and statuses[0] == 0))
        checks.append((f"worker RSS grew {growth:+.1%} from the first to the last {window:g} s (< 10%)", growth < 0.10))
    else:
        assert run.killed_at is not None
        broken = [o for o in run.outcomes if o.status != 200]
        # A failed request must have been in flight at the kill: sent before it (or within
        # the grace after it, on a kept-alive connection to the dead worker: on a loaded
        # 2-core machine a client thread can send 50-100 ms late) and not yet answered.
        in_flight = all(o.started <= run.killed_at + KILL_GRACE_SECONDS and o.started + o.seconds >= run.killed_at
                        for o in broken)
        after = [o for o in run.outcomes if o.started > run.killed_at + KILL_GRACE_SECONDS]
        print(f"killed worker {run.killed} at {run.killed_at:.1f} s; workers after: {run.workers_after}; "
              f"failed {len(broken)}; {len(after)} requests started after it, "
              f"{sum(o.status == 200 for o in after)} answered 200")
        checks.append((f"the {len(broken)} failed requests were all in flight at the kill",
                       in_flight and not others))
        checks.append((f"gunicorn replaced the worker ({len(run.workers_after)} of {workers} workers running)",
                       len(run.workers_after) == workers and run.killed not in run.workers_after))
        checks.append(("every request started after the kill answered 200",
                       bool(after) and all(o.status == 200 for o in after)))
    for text, passed in checks:
        print(f"check {'PASS' if passed else 'FAIL'}: {text}")
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--kill-worker-at", type=float, help="SIGKILL one worker at this second")
    parser.add_argument("--workers", type=int, help="NEWSTAG_WORKERS (default: gunicorn.conf.py's)")
    parser.add_argument("--data", help="JSONL with a text field (default: BBC News train, else seeds/)")
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run (CI)")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.concurrency = 6.0, 4
    bodies = [json.dumps({"text": t}).encode() for t in load_articles(Path(args.data) if args.data else None, 500)]
    env = {"NEWSTAG_WORKERS": str(args.workers)} if args.workers else {}
    server = Server(env)
    try:
        server.wait_ready()
        workers = len(server.worker_pids())
        if args.kill_worker_at is not None:  # every worker must be ready, or the kill hits a loading one
            for _ in range(4 * workers):
                request(server.port, "POST", "/v1/classify", bodies[0])
        print(f"gunicorn on 127.0.0.1:{server.port}: {workers} workers, {args.concurrency} clients, "
              f"{args.seconds:g} s, {len(bodies)} articles")
        run = soak(server, bodies, args.concurrency, args.seconds, args.kill_worker_at)
    finally:
        server.stop()
    checks = report(run, args.seconds, workers)
    return 0 if all(passed for _, passed in checks) else 1


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.soak"))
