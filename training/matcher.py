"""Train the embedded model into a topic matcher: a LoRA adapter, contrastive over label names.

Usage:
    python -m training.matcher --data A.jsonl --data B.jsonl [--names NAMES.json] --output DIR
        [--base DIR] [--epochs 1] [--batch-size 32] [--max-length 128] [--lr 5e-4]
        [--rank 16] [--alpha 32] [--temperature 0.05] [--max-per-set 500] [--seed 42]

Each data file is its own label space. For every text, the model scores the prompts of
its set's labels ("news about {name}", the engine's phrasing of a bare name) by cosine
similarity; a softmax over them at ``--temperature`` is pulled towards the true labels
(a multi-label row spreads the target over its labels). Only low-rank adapters on the
attention and feed-forward layers train (peft LoRA); the output directory is an adapter in
safetensors that the service merges into the base weights at load
(service/engine/adapter.py), with its model card.
"""

from __future__ import annotations

import argparse
import random
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from service.engine.errors import ModelLoadError
from service.engine.model_files import (
    WEIGHTS_FILE,
    sha256_of,
)
from service.engine.pooling import embed_padded, pad_batch
from service.progress import progress_bar

from .data import DataFileError
from .lora import adapter_tensors, with_lora, write_adapter_dir
from .matcher_data import MatcherSet, interleaved_batches, load_sets, read_names
from .model import resolve_base


@dataclass
class MatcherConfig:
    data: list[Path]
    output: Path
    names: list[Path] = field(default_factory=list)
    base: Path | None = None  # None: the embedded all-MiniLM-L6-v2
    epochs: int = 1
    batch_size: int = 32  # texts per step, all from one set
    max_length: int = 128  # tokens of each text (its opening: the title and lead)
    lr: float = 5e-4
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.1
    temperature: float = 0.05
    max_per_set: int | None = 500  # rows sampled per set: every set counts alike, and a run takes minutes
    seed: int = 42
    command: list[str] = field(default_factory=list)


def _embed(model: Any, tokenizer: Any, texts: list[str], max_length: int) -> torch.Tensor:
    """Mean-pooled, L2-normalised vectors, as the engine computes them (service/engine/pooling.py)."""
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    return embed_padded(model, *pad_batch(ids, tokenizer.pad_token_id or 0))


def _loss(model: Any, tokenizer: Any, matcher_set: MatcherSet, rows: list[int], config: MatcherConfig) -> torch.Tensor:
    examples = [matcher_set.examples[i] for i in rows]
    texts = _embed(model, tokenizer, [e.text for e in examples], config.max_length)
    prompts = _embed(model, tokenizer, matcher_set.prompts, config.max_length)
    log_probs = torch.log_softmax(texts @ prompts.T / config.temperature, dim=-1)
    targets = torch.tensor([matcher_set.targets(e) for e in examples])
    return -(targets * log_probs).sum(-1).mean()


def train(config: MatcherConfig) -> dict[str, Any]:
    """Train, write the adapter directory atomically, and return its summary."""
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    sets = load_sets(config.data, read_names(config.names), config.max_per_set, config.seed)
    base, base_name = resolve_base(config.base)
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    encoder = AutoModel.from_pretrained(base, local_files_only=True, use_safetensors=True, trust_remote_code=False)
    model = with_lora(encoder, config.rank, config.alpha, config.dropout)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.lr)
    steps = [batch for epoch in range(config.epochs)
             for batch in interleaved_batches(sets, config.batch_size, config.seed + epoch)]
    scheduler = torch.optim.lr_scheduler.LambdaLR(  # 10% warm-up, then linear decay
        optimizer, lambda k: min((k + 1) / max(1, len(steps) // 10), max(0.0, (len(steps) - k) / len(steps))))
    started = time.monotonic()
    model.train()
    losses: list[float] = []
    with progress_bar(steps, desc="matcher (LoRA)", unit="batch", file=sys.stderr) as bar:
        for set_index, rows in bar:
            loss = _loss(model, tokenizer, sets[set_index], rows, config)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}", set=sets[set_index].name)
    summary = {
        "base_model": base_name,
        "base_sha256": sha256_of(base / WEIGHTS_FILE),
        "sets": [{"name": s.name, "rows": len(s.examples), "labels": len(s.labels),
                  "sha256": sha256_of(path)} for s, path in zip(sets, config.data, strict=True)],
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(config).items()
                   if k not in ("data", "names", "output", "base", "command")},
        "command": shlex.join(config.command) if config.command else "",
        "train_seconds": round(time.monotonic() - started, 1),
        "final_loss": round(float(np.mean(losses[-50:])), 4) if losses else None,
    }
    write_adapter_dir(config.output, adapter_tensors(model), config.alpha / config.rank, summary)
    return summary


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.matcher", description=__doc__.split("\n")[0])
    defaults = MatcherConfig(data=[], output=Path())
    parser.add_argument("--data", type=Path, action="append", required=True, help="labeled JSONL or CSV; repeat")
    parser.add_argument("--names", type=Path, action="append", default=[],
                        help='JSON {"label": "readable name"}; repeat')
    parser.add_argument("--output", type=Path, required=True, help="the adapter directory to write")
    parser.add_argument("--base", type=Path, help="a local sentence-embedding model (default: the embedded one)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--max-length", type=int, default=defaults.max_length)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--rank", type=int, default=defaults.rank)
    parser.add_argument("--alpha", type=int, default=defaults.alpha)
    parser.add_argument("--temperature", type=float, default=defaults.temperature)
    parser.add_argument("--max-per-set", type=int, default=defaults.max_per_set, help="0: every row")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for name in ("epochs", "batch_size", "max_length", "rank"):
        if getattr(args, name) < 1:
            print(f"error: --{name.replace('_', '-')} must be a positive integer", file=sys.stderr)
            return 2
    config = MatcherConfig(
        data=args.data, output=args.output, names=args.names, base=args.base, epochs=args.epochs,
        batch_size=args.batch_size, max_length=args.max_length, lr=args.lr, rank=args.rank, alpha=args.alpha,
        temperature=args.temperature, max_per_set=args.max_per_set or None, seed=args.seed,
        command=["python", "-m", "training.matcher", *(sys.argv[1:] if argv is None else argv)])
    try:
        summary = train(config)
    except (DataFileError, ModelLoadError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {config.output} ({summary['train_seconds']} s, final loss {summary['final_loss']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
