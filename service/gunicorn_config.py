"""gunicorn settings for newstag: what `make serve` (through gunicorn.conf.py), `newstag serve`
and the image run (`gunicorn -c python:service.gunicorn_config`).

They live in the package so that an installed newstag (`pip install .`) has them too. Like
any gunicorn configuration file, this module acts when imported: it sizes the workers,
sets NEWSTAG_TORCH_THREADS and makes the workers' metrics and run directories; only
gunicorn imports it.

Environment: PORT (default 8000), NEWSTAG_WORKERS, NEWSTAG_THREADS. The app itself reads
the other NEWSTAG_* variables (service/config.py).
"""

import os
import shutil
import sys
import tempfile

# One app per worker, built after the fork (no --preload: torch must not be shared
# across forks). Each worker loads its own tagger in the background and answers
# /healthz and /readyz meanwhile.
wsgi_app = "service:create_app()"
preload_app = False



def _count(name: str, default: int, top: int = 1_000_000) -> int:
    """A whole-number setting of the server, or one line naming it and exit status 1."""
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        value = -1
    if not 1 <= value <= top:
        print(f"newstag: cannot start: {name}={raw!r} must be a whole number from 1 to {top}", file=sys.stderr)
        raise SystemExit(1)
    return value


bind = f"0.0.0.0:{_count('PORT', 8000, 65535)}"

# Inference is CPU-bound and each worker runs one forward pass at a time with all the
# torch threads it was given, so workers x torch threads never exceed the cores: a larger
# NEWSTAG_TORCH_THREADS is lowered (oversubscribed cores make every request slower). On
# 2 cores the default is 1 worker with 2 torch threads (docs/production.md;
# docs/benchmarks.md has the measurements). Threads (gthread) are the requests one worker
# holds at once: they queue for the model (where batching merges their windows), and keep
# /healthz, /metrics and /readyz answered during inference.
_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
workers = _count("NEWSTAG_WORKERS", max(1, _cores // 2), 1024)
# More threads than NEWSTAG_MAX_QUEUE: each admitted request holds a thread while it waits for
# the model, so with threads == max queue (16 and 16) a flood left no thread to answer /healthz
# and /readyz (the probes timed out and the container went unhealthy) or to turn the next
# request away with 503; with headroom both answer at once (measured through podman, 32 clients).
_max_queue = _count("NEWSTAG_MAX_QUEUE", 16, 100_000)
threads = _count("NEWSTAG_THREADS", _max_queue + 8, 10_000)
if threads <= _max_queue:
    print(f"newstag: NEWSTAG_THREADS={threads} is not above NEWSTAG_MAX_QUEUE={_max_queue}: under load the "
          "health checks and 503s wait behind queued requests", file=sys.stderr)
worker_class = "gthread"
_torch_threads = max(1, _cores // workers)
if _count("NEWSTAG_TORCH_THREADS", _torch_threads, 4096) > _torch_threads:
    print(f"newstag: NEWSTAG_TORCH_THREADS lowered to {_torch_threads} ({workers} workers on {_cores} cores)",
          file=sys.stderr)
    os.environ["NEWSTAG_TORCH_THREADS"] = str(_torch_threads)
os.environ.setdefault("NEWSTAG_TORCH_THREADS", str(_torch_threads))

# Timeouts: a worker silent for 120 s is restarted; on SIGTERM, requests in flight get
# 30 s to finish (graceful shutdown).
timeout = 120
graceful_timeout = 30
keepalive = 5

# The app writes one JSON line per request (request id, method, path, status, latency,
# documents; never article text) to stderr, so gunicorn's own access log is off.
accesslog = None
errorlog = "-"
loglevel = "info"

# Prometheus multi-process mode: every worker writes its metrics to files in one
# directory and /metrics adds them up. A fresh directory per server start.
_metrics_dir = tempfile.mkdtemp(prefix="newstag-metrics-")
# The workers share a run directory too: a model reload in one reaches the others.
_run_dir = tempfile.mkdtemp(prefix="newstag-run-")
os.environ["NEWSTAG_RUN_DIR"] = _run_dir
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def on_starting(server):
    """Refuse to start, with one line and exit status 1, when no worker could tag anything."""
    from service.config import Settings
    from service.errors import NewstagError
    from service.preflight import check_serving

    try:
        check_serving(Settings.from_env())
    except NewstagError as exc:
        print(f"newstag: cannot start: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    shutil.rmtree(_run_dir, ignore_errors=True)

# No control socket: nothing here uses gunicornc, and it would write under $HOME.
control_socket_disable = True
