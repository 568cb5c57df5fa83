"""gunicorn settings for newstag: what `make serve` (through gunicorn.conf.py), `newstag serve`
and the image run (`gunicorn -c python:service.gunicorn_config`).

They live in the package so that an installed newstag (`pip install .`) has them too. Like
any gunicorn configuration file, this module acts when imported: it sizes the workers,
sets NEWSTAG_TORCH_THREADS and makes the workers' metrics and run directories; only
gunicorn imports it.

Environment: PORT (default 8000), NEWSTAG_WORKERS, NEWSTAG_THREADS. The app itself reads
the other NEWSTAG_* variables (service/config.py).
"""

import atexit
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from gunicorn import util as _gunicorn_util

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
worker_class = "service.gunicorn_worker.ThreadWorker"  # gthread, with a time limit on request headers
# Seconds a connection's thread waits for a request's headers to be complete (slow clients
# held every thread: service/gunicorn_worker.py); the app applies it to bodies (http/body.py).
os.environ["NEWSTAG_CLIENT_TIMEOUT"] = str(_count("NEWSTAG_CLIENT_TIMEOUT", 10, 3600))
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

# The workers share a run directory: a model reload in one reaches the others. One the
# operator names is used (and kept); otherwise a fresh one, removed at exit.
_given_run_dir = os.environ.get("NEWSTAG_RUN_DIR", "").strip()
if _given_run_dir:
    try:
        if Path(_given_run_dir).exists() and not Path(_given_run_dir).is_dir():
            raise NotADirectoryError(0, "it is not a directory")
        Path(_given_run_dir).mkdir(parents=True, exist_ok=True)
        if not os.access(_given_run_dir, os.W_OK | os.X_OK):  # else every model reload answered 500
            raise PermissionError(0, "this user may not write in it")
    except OSError as exc:  # gunicorn printed "Error: [Errno 17] File exists: ...", naming no variable
        print(f"newstag: cannot start: NEWSTAG_RUN_DIR={_given_run_dir!r}: {exc.strerror or exc}", file=sys.stderr)
        raise SystemExit(1) from None
# Prometheus multi-process mode: every worker writes its metrics to files in one
# directory and /metrics adds them up. A fresh directory per server start.
try:
    _metrics_dir = tempfile.mkdtemp(prefix="newstag-metrics-")
    _run_dir = _given_run_dir or tempfile.mkdtemp(prefix="newstag-run-")
except OSError as exc:  # a read-only root filesystem with nothing mounted at /tmp: a traceback
    print(f"newstag: cannot start: no writable temporary directory for the workers' metrics and run "
          f"directories ({exc.strerror or exc}): mount one at /tmp (docker run --tmpfs /tmp) or set TMPDIR",
          file=sys.stderr)
    raise SystemExit(1) from None
os.environ["NEWSTAG_RUN_DIR"] = _run_dir
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir
_master_pid = os.getpid()


def _remove_own_dirs() -> None:
    # Also when the server stops before on_exit can run (a port in use, a failed preflight);
    # forked workers inherit this handler and must leave the master's directories alone.
    if os.getpid() == _master_pid:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
        if not _given_run_dir:
            shutil.rmtree(_run_dir, ignore_errors=True)


atexit.register(_remove_own_dirs)


def on_starting(server):
    """Refuse to start, with one line and exit status 1, when no worker could tag anything;
    warn of what will not stop it (an open API, a feedback store that cannot write)."""
    from service.config import Settings
    from service.engine.taxonomy import keep_for_workers
    from service.errors import NewstagError
    from service.preflight import check_serving, serving_warnings

    _load_failed_file().unlink(missing_ok=True)  # left in an operator's run directory by a killed server
    _newstag_log_lines()  # the taxonomies are read here: "taxonomy 'news' from ... replaces the built-in one"
    try:
        settings = Settings.from_env()
        keep_for_workers(settings.taxonomies_dir, check_serving(settings))
    except NewstagError as exc:
        print(f"newstag: cannot start: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    for warning in serving_warnings(settings, list(server.cfg.bind)):
        server.log.warning("newstag: %s", warning)


def post_fork(server, worker):
    """newstag's own log lines (model ready, models loaded or rejected, store errors) in
    gunicorn's format, with time, worker pid and level; without this only warnings reached
    stderr, bare. The JSON access lines keep their own handler (access_log.py)."""
    _newstag_log_lines()


def _newstag_log_lines() -> None:
    """The handler for newstag's log lines, once per process: the master sets it up before it reads
    the taxonomies (which the workers then serve, never reading them again), so its info lines (a
    built-in taxonomy replaced, a hidden file skipped) are shown; they were dropped. Workers inherit
    it when they fork, and do not add a second (each line would show twice)."""
    newstag = logging.getLogger("newstag")
    if any(getattr(h, "newstag_lines", False) for h in newstag.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
                                           "%Y-%m-%d %H:%M:%S %z"))
    handler.newstag_lines = True  # type: ignore[attr-defined]
    newstag.addHandler(handler)
    newstag.setLevel(logging.INFO)
    newstag.propagate = False


def post_worker_init(worker):
    """A worker whose model cannot load stops the server with exit status 3, as gunicorn does for
    a worker that fails to boot: an orchestrator restarts it and shows why. Before, the worker
    answered /healthz for ever and /readyz 503, a pod no probe restarted and no line explained."""
    runtime = getattr(getattr(worker, "wsgi", None), "extensions", {}).get("newstag.runtime")
    if runtime is not None:
        runtime.when_load_fails(lambda reason: _stop_unbootable(worker, reason))


def _stop_unbootable(worker, reason: str) -> None:
    print(f"newstag: cannot start: {reason}", file=sys.stderr, flush=True)
    try:
        _load_failed_file().write_text(reason, encoding="utf-8")
    except OSError:
        pass  # the server still stops; it leaves with status 0
    # The master stops every worker gracefully (requests in flight are answered); on_exit turns
    # the file into the status. A worker leaving with status 3 itself stopped gunicorn too, but
    # with two workers failing together its second exit raised inside the halt: a traceback.
    os.kill(worker.ppid, signal.SIGTERM)


def _load_failed_file() -> Path:
    return Path(_run_dir) / "model-load-failed"


def worker_exit(server, worker):
    """A worker that served leaves at once when it stops, its feedback store closed and logs
    flushed. Python's teardown
    while torch's threads still run (the model loader mid-load, the batching thread, the
    intra-op pool) aborted it: SIGABRT, "terminate called without an active exception",
    on most stops. A worker that failed to boot exits the usual way, with gunicorn's status."""
    if not getattr(worker, "booted", False):
        return
    leaving = sys.exc_info()[1]  # gunicorn calls this while the worker's SystemExit propagates
    _close_feedback_store(server, worker)
    code = leaving.code if isinstance(leaving, SystemExit) and isinstance(leaving.code, int) else 0
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code & 0xFF)


def _close_feedback_store(server, worker) -> None:
    # os._exit skips SQLite's checkpoint at the last close: the corrections stayed in
    # feedback.db-wal, and feedback.db alone (a copy, a backup) had none of them.
    store = getattr(getattr(worker, "wsgi", None), "extensions", {}).get("newstag.feedback")
    if store is None:
        return
    try:
        store.close()
    except Exception:  # the worker must still leave
        server.log.exception("newstag: the feedback store did not close")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    try:
        failed = _load_failed_file().read_text(encoding="utf-8")
        _load_failed_file().unlink()
    except OSError:
        failed = None
    _remove_own_dirs()
    if failed is not None:
        server.log.error("Reason: a worker's model failed to load (%s)", failed)
        raise SystemExit(3)  # gunicorn's own status for a worker that failed to boot

def _write_problem(sock, status_int, reason, mesg):
    """What gunicorn answers itself, before the app sees a request (a URL over 4,094 bytes:
    414, headers too large: 431, a malformed request line: 400), as RFC 9457 problem details
    like every other error of the service, instead of gunicorn's HTML page."""
    body = json.dumps({"type": "about:blank", "title": reason, "status": status_int,
                       "detail": mesg or reason}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/problem+json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
    _gunicorn_util.write_nonblock(sock, head + body)


_gunicorn_util.write_error = _write_problem  # workers (forked from here) look it up at each call

# No control socket: nothing here uses gunicornc, and it would write under $HOME.
control_socket_disable = True
