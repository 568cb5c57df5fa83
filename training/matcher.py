"""Train the embedded model into a topic matcher: a LoRA adapter, contrastive over label names.

Usage:
    python -m training.matcher --data A.jsonl --data B.jsonl [--names NAMES.json] --output DIR
        [--base DIR] [--epochs 1] [--batch-size 32] [--max-length 128] [--lr 5e-4]
        [--rank 16] [--alpha 32] [--dropout 0.1] [--temperature 0.05] [--max-per-set 500]
        [--max-per-file STEM=N] [--seed 42] [--resume]

Each data file is its own label space (a file naming several languages, one per language).
For every text, the model scores its set's labels phrased as the engine phrases a bare name
for that model ("news about {name}"; a model profile's templates and prompts, e.g.
EmbeddingGemma's, with its Dense layers after pooling) by cosine similarity; a softmax over
them at ``--temperature`` is pulled towards the true labels
(a multi-label row spreads the target over its labels). Only low-rank adapters on the
attention and feed-forward layers train (peft LoRA); the output directory is an adapter in
safetensors that the service merges into the base weights at load
(service/engine/adapter.py), with its model card. Training runs through the shared loop
(trainer.py): a checkpoint every epoch and on Ctrl-C or SIGTERM, and ``--resume``.
"""

from __future__ import annotations

import argparse
import random
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoModel

from service.engine.label_vectors import TEMPLATE
from service.engine.language import UNDETERMINED, label_set_language_among
from service.engine.model_files import (
    WEIGHTS_FILE,
    sha256_of,
)
from service.engine.model_profiles import profile_for
from service.engine.pooling import embed_padded, pad_batch
from service.engine.sentences import split_sentences
from service.engine.st_modules import Pipeline, read_pipeline
from service.engine.tokenizer import load_tokenizer
from service.errors import ModelLoadError
from service.interrupts import run_command, sigterm_interrupts

from .config import MatcherConfig, finite_positive
from .data import DataFileError
from .export import check_destination
from .lora import adapter_tensors, with_lora, write_adapter_dir
from .matcher_data import MatcherSet, interleaved_batches, load_sets, read_names
from .model import check_max_length, resolve_base
from .trainer import Interrupted, Trainer, check_resumable, remove_checkpoint

# The settings an adapter's record (adapter.json, its card) keeps, in this order.
RECORDED = ("epochs", "batch_size", "max_length", "lr", "rank", "alpha", "dropout", "temperature", "max_per_set",
            "max_per_file", "seed")


@dataclass(frozen=True)
class Phrasing:
    """How the engine reads texts and labels with this base model (model_profiles.py): the
    prompt before each text and each label, and the label templates for sentences and articles."""

    text_prompt: str = ""
    label_prompt: str = ""
    sentence_template: str = TEMPLATE
    article_template: str = TEMPLATE
    article_min_sentences: int = 3
    # Sentences read labels named in one of these languages in that language's template, as the
    # engine does (EmbeddingBackend.phrasing_for): a set named in German trains as it is served.
    own_language_templates: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, pipeline: Pipeline, weights_sha256: str) -> Phrasing:
        profile = profile_for(weights_sha256)
        names = profile.prompts
        default = pipeline.default_prompt_name
        text_name, label_name = (names.text, names.label) if names is not None else (default, default)

        def first(template: str | tuple[str, ...] | None) -> str | None:
            # Several templates are averaged in the engine; training reads the first.
            return template[0] if isinstance(template, tuple) else template

        sentence = first(profile.label_template) or TEMPLATE
        return cls(pipeline.prompts.get(text_name, "") if text_name else "",
                   pipeline.prompts.get(label_name, "") if label_name else "",
                   sentence, first(profile.article_template) or sentence, profile.article_min_sentences,
                   tuple(sorted(profile.own_language_templates.items())))

    def labels_language(self, names: list[str]) -> str:
        """The language a set's names are in, when this model phrases labels in it; else "und"."""
        return label_set_language_among(tuple(names), dict(self.own_language_templates))

    def template_for(self, text: str, labels_language: str = UNDETERMINED) -> str:
        if len(split_sentences(text)) >= self.article_min_sentences:
            return self.article_template
        return dict(self.own_language_templates).get(labels_language, self.sentence_template)


def _embed(model: Any, tokenizer: Any, texts: list[str], max_length: int, pipeline: Pipeline | None = None
           ) -> torch.Tensor:
    """Unit vectors, pooled as the engine pools them, then the model's Dense layers (pooling.py, st_modules.py)."""
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    return embed_padded(model, *pad_batch(ids, tokenizer.pad_token_id or 0), pipeline if pipeline and pipeline.steps
                        else None)


def _loss(model: Any, tokenizer: Any, matcher_set: MatcherSet, rows: list[int], config: MatcherConfig,
          pipeline: Pipeline | None = None, phrasing: Phrasing = Phrasing()) -> torch.Tensor:
    examples = [matcher_set.examples[i] for i in rows]
    texts = _embed(model, tokenizer, [phrasing.text_prompt + e.text for e in examples], config.max_length, pipeline)
    language = phrasing.labels_language(matcher_set.names)
    templates = [phrasing.template_for(e.text, language) for e in examples]
    label_vectors = {t: _embed(model, tokenizer, [phrasing.label_prompt + p for p in matcher_set.phrased(t)],
                               config.max_length, pipeline) for t in dict.fromkeys(templates)}
    similarities = torch.stack([text @ label_vectors[t].T for text, t in zip(texts, templates, strict=True)])
    log_probs = torch.log_softmax(similarities / config.temperature, dim=-1)
    targets = torch.tensor([matcher_set.targets(e) for e in examples])
    return -(targets * log_probs).sum(-1).mean()


def _schedule(optimizer: torch.optim.Optimizer, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """10% warm-up, then linear decay (the shipped adapter's schedule; not transformers' exact formula)."""
    warmup = max(1, total // 10)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: min((k + 1) / warmup, max(0.0, (total - k) / total)))


def _fingerprint(config: MatcherConfig) -> dict[str, Any]:
    """What decides the rows trained on: a checkpoint of other data is not resumed."""
    return {"data": [sha256_of(p) for p in config.data], "names": [sha256_of(p) for p in config.names],
            "max_per_set": config.max_per_set, "seed": config.seed}


def train(config: MatcherConfig) -> dict[str, Any]:
    """Train, write the adapter directory atomically, and return its summary.

    A checkpoint is written beside ``config.output`` every epoch and on SIGINT or SIGTERM
    (then ``Interrupted`` is raised); ``config.resume`` continues from it.
    """
    assert config.epochs is not None and config.lr is not None
    # 1. Seed every generator, and read each set (a seeded sample of at most max_per_set rows).
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    sets = load_sets(config.data, read_names(config.names), config.max_per_set, config.seed, config.max_per_file)

    # 2. Load the base model from a local directory and wrap it with LoRA adapters.
    base, base_name = resolve_base(config.base)
    pipeline = read_pipeline(base)
    phrasing = Phrasing.of(pipeline, sha256_of(base / WEIGHTS_FILE))
    tokenizer = load_tokenizer(base)
    encoder = AutoModel.from_pretrained(base, local_files_only=True, use_safetensors=True, trust_remote_code=False)
    model = with_lora(encoder, config.rank, config.alpha, config.dropout)

    # 3. Train through the shared loop: batches from one set each, the contrastive loss.
    trainer: Trainer[tuple[int, list[int]]] = Trainer(
        config, model, [{"params": [p for p in model.parameters() if p.requires_grad], "lr": config.lr}],
        batches=lambda epoch: interleaved_batches(sets, config.batch_size, config.seed + epoch),
        loss=lambda batch: _loss(model, tokenizer, sets[batch[0]], batch[1], config, pipeline, phrasing),
        fingerprint=_fingerprint(config), schedule=_schedule, desc="matcher (LoRA)",
        describe=lambda batch: {"set": sets[batch[0]].name})
    started = time.monotonic()
    trainer.fit()
    final_loss = trainer.recent_loss()

    # 4. Write the adapter directory atomically, with its record and card; drop the checkpoint.
    summary = {
        "base_model": base_name,
        "base_sha256": sha256_of(base / WEIGHTS_FILE),
        "sets": [{"name": s.name, "rows": len(s.examples), "labels": len(s.labels),
                  "sha256": sha256_of(s.source) if s.source else None} for s in sets],
        "config": {k: getattr(config, k) for k in RECORDED},
        "command": shlex.join(config.command) if config.command else "",
        "train_seconds": round(time.monotonic() - started, 1),
        "final_loss": round(final_loss, 4) if final_loss is not None else None,
    }
    write_adapter_dir(config.output, adapter_tensors(model), config.alpha / config.rank, summary)
    remove_checkpoint(config.output)
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
    parser.add_argument("--dropout", type=float, default=defaults.dropout, help="LoRA dropout, 0 to 1")
    parser.add_argument("--temperature", type=float, default=defaults.temperature)
    parser.add_argument("--max-per-set", type=int, default=defaults.max_per_set, help="0: every row")
    parser.add_argument("--max-per-file", action="append", default=[], metavar="STEM=N",
                        help="rows per set for one data file (its name without extension), over --max-per-set; repeat")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for name in ("epochs", "batch_size", "max_length", "rank"):
        if getattr(args, name) < 1:
            print(f"error: --{name.replace('_', '-')} must be a positive integer", file=sys.stderr)
            return 2
    for name in ("lr", "temperature"):
        if not finite_positive(getattr(args, name)):
            print(f"error: --{name} must be a finite number above 0", file=sys.stderr)
            return 2
    if not 0 <= args.dropout < 1:
        print("error: --dropout must be at least 0 and under 1", file=sys.stderr)
        return 2
    if args.max_per_set < 0:
        print(f"error: --max-per-set takes 0 (every row) or a positive number, not {args.max_per_set}",
              file=sys.stderr)
        return 2
    max_per_file = {}
    for item in args.max_per_file:
        stem, _, count = item.rpartition("=")
        if not stem or not count.isdigit() or int(count) < 1:
            print(f"error: --max-per-file takes STEM=N with N a positive integer, got {item!r}", file=sys.stderr)
            return 2
        max_per_file[stem] = int(count)
    config = MatcherConfig(
        data=args.data, output=args.output, names=args.names, base=args.base, epochs=args.epochs,
        batch_size=args.batch_size, max_length=args.max_length, lr=args.lr, rank=args.rank, alpha=args.alpha,
        dropout=args.dropout, temperature=args.temperature, max_per_set=args.max_per_set or None,
        max_per_file=max_per_file, seed=args.seed, resume=args.resume,
        command=["python", "-m", "training.matcher", *(sys.argv[1:] if argv is None else argv)])
    try:
        with sigterm_interrupts():
            check_destination(config.output, [*(("--data", p) for p in config.data),
                                              *(("--names", p) for p in config.names)])
            check_resumable(config)
            check_max_length(config.base, config.max_length)
            summary = train(config)
    except (DataFileError, ModelLoadError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(f"matcher: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM outside the training loop (loading, writing): no checkpoint
        print(f"\nmatcher: interrupted before {config.output} was written; nothing was saved", file=sys.stderr)
        return 130
    print(f"wrote {config.output} ({summary['train_seconds']} s, final loss {summary['final_loss']})")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "matcher"))
