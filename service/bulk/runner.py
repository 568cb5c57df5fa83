"""Running the shards on Ray: a local instance with this machine's cores, or a cluster.

Ray Data schedules the plan's shards over a fixed pool of ``ShardTagger`` actors, each
reserving ``threads`` CPUs (its torch threads), and streams their summaries back here,
where each finished shard prints a progress line.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..engine import NewstagError
from .plan import Shard
from .worker import ShardTagger

REACH_SECONDS = 5.0  # for a cluster address to answer a TCP connection


@contextmanager
def ray_session(address: str | None, num_cpus: int | None) -> Iterator[bool]:
    """Connected to Ray for the block: the given cluster, RAY_ADDRESS's, or a new local one.
    Yields whether it is local. A session that was already open (tests) is left open."""
    import ray

    if ray.is_initialized():
        yield not (address or os.environ.get("RAY_ADDRESS"))
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        _check_reachable(address)
    try:
        # Ray's own INFO and WARNING lines (its start, token authentication) are not the job's
        # progress, which is one line per shard; its errors still show.
        if address:
            ray.init(address=address, log_to_driver=True, logging_level=logging.ERROR)
        else:
            ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False, logging_level=logging.ERROR)
    except SystemExit as exc:
        # ray.init sets a SIGTERM handler of its own that calls sys.exit(15): a job stopped while
        # Ray started ended with status 15, no word, and its job file left behind. As Ctrl-C instead.
        if exc.code != signal.SIGTERM:
            raise
        ray.shutdown()  # what it had started of a local instance
        raise KeyboardInterrupt from None
    except Exception as exc:  # noqa: BLE001 - ray raises ConnectionError, RuntimeError, ...
        raise NewstagError(f"cannot {'reach the Ray cluster at ' + address if address else 'start Ray'}: {exc}") \
            from None
    try:
        yield not address
    finally:
        ray.shutdown()


def _check_reachable(address: str) -> None:
    """A host:port address must answer a TCP connection within seconds: ray.init retried an
    unreachable one for minutes and would not stop for SIGTERM or Ctrl-C."""
    import socket

    if "://" in address or address == "auto" or address.count(":") != 1:
        return  # ray://, auto, IPv6: left to Ray
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=REACH_SECONDS).close()
    except OSError as exc:
        raise NewstagError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc} (no answer within "
                           f"{REACH_SECONDS:g} s; check --address or RAY_ADDRESS)") from None


def pool_size(workers: int | None, threads: int, local: bool) -> int:
    """Workers to start: as asked, or as many as the cluster's CPUs hold."""
    import ray

    cpus = int(ray.cluster_resources().get("CPU", 1))
    if workers is None:
        if threads > cpus and local:  # Ray would wait forever for a worker this machine cannot hold
            raise NewstagError(f"--threads-per-worker {threads} needs {threads} CPUs for one worker; Ray has {cpus}")
        return max(1, cpus // threads)
    if workers * threads > cpus:
        message = (f"--workers {workers} × --threads-per-worker {threads} needs {workers * threads} CPUs; "
                   f"Ray has {cpus}")
        if local:
            raise NewstagError(message)
        print(f"bulk: warning: {message} now (an autoscaling cluster may add more)", file=sys.stderr)
    return workers


@dataclass
class Tally:
    """What the finished shards add up to, for the progress lines and the summary."""

    total_rows: int
    shards: int
    rows: int = 0
    errors: int = 0
    finished: int = 0
    failed: list[str] = field(default_factory=list)
    failed_rows: int = 0  # input rows of the failed shards: in no output row
    peak_rss: dict[int, int] = field(default_factory=dict)  # worker pid -> peak resident bytes
    stopped: str | None = None  # why the job stopped before every shard was tried (the output is full)
    started: float = field(default_factory=time.monotonic)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def add(self, summary: dict[str, Any]) -> str:
        self.finished += 1
        pid = summary["pid"]
        self.peak_rss[pid] = max(self.peak_rss.get(pid, 0), summary["peak_rss"])
        if "failed" in summary:
            self.failed.append(f"{summary['name']}: {summary['failed']}")
            self.failed_rows += summary.get("planned_rows", 0)
            return f"shard {self.finished}/{self.shards} {summary['name']} FAILED: {summary['failed']}"
        self.rows += summary["rows"]
        self.errors += summary["errors"]
        rate = self.rows / max(self.seconds, 1e-9)
        return (f"shard {self.finished}/{self.shards} {summary['name']}: {summary['rows']} rows, "
                f"{summary['errors']} error{'s' * (summary['errors'] != 1)} in {summary['seconds']:.1f} s; "
                f"{self.rows:,} of about "
                f"{self.total_rows:,} rows done, {rate:.1f} articles/s")


def run(shards: list[Shard], tally: Tally, workers: int, threads: int, actor_args: dict[str, Any]) -> None:
    """Tag every shard; a progress line on stderr as each one is written."""
    import ray.data

    logging.getLogger("ray.data").setLevel(logging.ERROR)  # its plan, per-run INFO lines, "progress bars disabled"
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the line per shard says more, and suits a log too
    context.enable_auto_log_stats = False
    items = [{"shard": json.dumps(shard.to_dict())} for shard in shards]
    dataset = ray.data.from_items(items, override_num_blocks=len(items))  # one shard per task
    summaries = dataset.map_batches(ShardTagger, batch_size=1, batch_format="numpy",
                                    compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=threads,
                                    fn_constructor_kwargs=actor_args)
    try:
        follow((json.loads(row["summary"]) for row in summaries.iter_rows()), tally)
    except Exception as exc:  # noqa: BLE001 - Ray wraps a worker's death or a model that fails to load
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise NewstagError(f"the job stopped after {tally.finished} of {tally.shards} shards ({reason}); the shards "
                           "written are kept: run the same command again to go on") from None


def follow(summaries: Iterable[dict[str, Any]], tally: Tally) -> None:
    """A progress line per finished shard; stop at a shard the output's filesystem refused (full,
    over quota, read-only): the job went on tagging every other shard only to fail to write it."""
    for summary in summaries:
        print(f"bulk: {tally.add(summary)}", file=sys.stderr, flush=True)
        if summary.get("output_full"):
            tally.stopped = summary["failed"]
            return
