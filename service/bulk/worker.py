"""The Ray actor: loads the model once, then tags whole shards and writes them.

Ray Data hands each actor one shard at a time (a row of the plan); the actor reads the
shard's records itself, tags them in batches of ``batch_size`` (the engine packs their
windows into forward passes of at most ``max_batch_tokens`` tokens, as the service does)
and returns one summary row. A shard that cannot be read or written comes back as a
failure with its reason, for the driver to report: it is tried again on the next run.
"""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path
from typing import Any

from ..config import Settings
from ..engine import InvalidInputError, TagResult
from ..engine.routing import RoutedTagger
from ..tagging import TagOptions, tag_texts
from .plan import Shard
from .records import read_shard
from .writing import Stamp, write_shard

# Errors of the output's filesystem (reading an input never gives them): the job stops early.
OUTPUT_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def peak_rss_bytes() -> int:
    """This process's peak resident memory (VmHWM), 0 where /proc does not tell."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class ShardTagger:
    def __init__(self, settings: Settings, model: str | None, options: TagOptions, out_dir: str, fmt: str,
                 batch_size: int):
        from ..tagging import tagger_for  # the command line's: a fine-tuned model directory or an embedding model

        self.settings = settings
        self.tagger = tagger_for(settings, Path(model) if model else None)
        # Model versions by name: routing by language may hand a text to the multilingual model.
        served = self.tagger.models if isinstance(self.tagger, RoutedTagger) else {}
        self.versions = {name: t.backend.model_version for name, t in served.items()}
        self.options = options
        self.out_dir, self.fmt, self.batch_size = Path(out_dir), fmt, batch_size
        backend = self.tagger.backend
        taxonomy = self.tagger.label_set(list(options.labels) if options.labels else None, options.taxonomy).name
        self.stamp = Stamp(backend.model_name, backend.model_version, taxonomy, options.evidence)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        return {"summary": [json.dumps(self._shard(Shard(**json.loads(str(item))))) for item in batch["shard"]]}

    def _tagged(self, result: TagResult) -> dict[str, Any]:
        shown = result.to_dict()
        out: dict[str, Any] = {"topics": [self._topic(t) for t in shown["topics"]],
                               "warnings": [{"code": w["code"], "message": w["message"]} for w in shown["warnings"]]}
        if result.model in self.versions:
            out.update(model=result.model, model_version=self.versions[result.model])
        return out

    def _shard(self, shard: Shard) -> dict[str, Any]:
        started = time.monotonic()
        summary: dict[str, Any] = {"index": shard.index, "name": shard.name, "rows": 0, "errors": 0,
                                   "planned_rows": shard.rows}
        try:
            records = read_shard(shard, self.settings)
            outcomes: list[dict[str, Any]] = [{"error": r.error} if r.text is None else {}
                                              for r in records.records]
            todo = [i for i, r in enumerate(records.records) if r.text is not None]
            for at in range(0, len(todo), self.batch_size):
                chunk = todo[at:at + self.batch_size]
                texts = [records.records[i].text or "" for i in chunk]
                for i, result in zip(chunk, tag_texts(self.tagger, texts, self.options), strict=True):
                    where = f"{'line' if shard.kind == 'jsonl' else 'row'} {records.records[i].row}"
                    outcomes[i] = ({"error": f"{where}: {result}"} if isinstance(result, InvalidInputError)
                                   else self._tagged(result))
            write_shard(self.out_dir / f"{shard.name}.{self.fmt}", records, outcomes, self.stamp, shard.path)
            summary.update(rows=len(outcomes), errors=sum(1 for o in outcomes if "error" in o))
        except Exception as exc:  # noqa: BLE001 - a failed shard is reported and retried, never the end of the job
            summary["failed"] = f"{type(exc).__name__}: {exc}"
            # ... unless the output's filesystem is full or read-only: every shard after it would fail alike.
            summary["output_full"] = isinstance(exc, OSError) and exc.errno in OUTPUT_FULL
        summary.update(seconds=time.monotonic() - started, pid=os.getpid(), peak_rss=peak_rss_bytes())
        return summary

    def _topic(self, topic: dict[str, Any]) -> dict[str, Any]:
        out = {"label": topic["label"], "score": topic["score"], "code": topic.get("code")}
        if self.options.evidence:
            out["evidence"] = topic["evidence"]
        return out
