"""Training a head on frozen window embeddings: head mode, and the first stage of LP-FT.

The frozen encoder embeds every window once (the engine's own SentenceEncoder); the head
then trains on those vectors for many epochs in seconds, scoring a document by its best
window as the service does.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from service.engine.chunking import PreparedDocument
from service.engine.encoder import SentenceEncoder
from service.engine.label_vectors import LabelVectorCache
from service.engine.types import Label
from service.progress import progress_bar

from .checkpoint import checkpoint_dir
from .classification import LogitsFn, classifier_trainer
from .config import TrainingConfig
from .distributed import Distributed
from .model import WindowClassifier, doc_logits
from .trainer import remove_checkpoint

PROBE_LR = 1e-2  # head mode's learning rate (measured: docs/benchmarks.md, fine-tuning)


def frozen_windows(base_dir: Path, max_length: int,
                   splits: dict[str, list[PreparedDocument]]) -> dict[str, list[torch.Tensor]]:
    """Each document's window vectors [n_windows, dim] from the frozen base encoder."""
    encoder = SentenceEncoder(base_dir, max_tokens=max_length)
    out: dict[str, list[torch.Tensor]] = {}
    for name, docs in splits.items():
        out[name] = []
        # In slices, so a long pass shows its progress, counted in articles: slices of 64 left a
        # newsroom's few dozen articles one slice, at 0/1 for minutes with the multilingual model.
        # About ten steps, but at least 16 articles a slice: smaller ones split the length-sorted
        # batches (67 BBC News articles: 33 forward batches in slices of 64, 46 of 16, 65 of 8).
        size = min(64, max(16, -(-len(docs) // 10)))
        with progress_bar(total=len(docs), desc=f"embedding {name} (frozen encoder)", unit="doc",
                          file=sys.stderr) as bar:
            for start in range(0, len(docs), size):
                part = docs[start:start + size]
                out[name].extend(torch.from_numpy(v.windows) for v in encoder.encode_documents(part))
                bar.update(len(part))
    return out


def label_name_vectors(base_dir: Path, max_length: int, labels: list[str]) -> np.ndarray:
    """[labels, dim] unit vectors of the label names, by the frozen encoder, phrased as the engine
    phrases a bare label name (label_vectors.TEMPLATE): the hybrid recipe's zero-shot feature."""
    return LabelVectorCache(SentenceEncoder(base_dir, max_tokens=max_length)).embed([Label(x) for x in labels])


def features_logits(windows: list[torch.Tensor], head: torch.nn.Linear, trained: torch.nn.Module) -> LogitsFn:
    """Document logits from cached window vectors: the best window per label."""
    def logits(indices: list[int], training: bool) -> torch.Tensor:
        parts = [windows[i] for i in indices]
        spans, start = [], 0
        for part in parts:
            spans.append((start, start + max(len(part), 1)))
            start += max(len(part), 1)
        rows = [p if len(p) else torch.zeros(1, head.in_features) for p in parts]
        return doc_logits((trained if training else head)(torch.cat(rows)), spans)
    return logits


def has_checkpoint(config: TrainingConfig) -> bool:
    """A resumed full run restores its head from the checkpoint: no probe then."""
    return config.resume and (checkpoint_dir(config.output) / "state.json").is_file()


def probe_head(model: WindowClassifier, config: TrainingConfig, windows: list[torch.Tensor],
               targets: torch.Tensor, multi_label: bool, data_print: dict[str, Any], rank: int = 0) -> None:
    """Train ``model.head`` alone for ``config.probe_epochs`` epochs on frozen windows.

    Every process of a distributed run trains the same head on all the data (same seed),
    so the heads agree without communication; the stage is seconds to minutes long.
    """
    assert config.probe_epochs
    probe = replace(config, epochs=config.probe_epochs, lr=PROBE_LR, resume=False, precision="fp32",
                    # one checkpoint directory per process, so ranks never write the same files
                    output=config.output.with_name(f"{config.output.name}.probe-{rank}"))
    classifier_trainer(probe, model.head, features_logits(windows, model.head, model.head), targets, multi_label,
                       data_print, Distributed(), [{"params": list(model.head.parameters()), "lr": PROBE_LR}],
                       desc="head probe (frozen encoder)").fit()
    remove_checkpoint(probe.output)
