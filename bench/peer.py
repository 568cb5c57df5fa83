"""newstag against the usual tool, in one run: transformers' zero-shot-classification
pipeline with a bart-large-mnli-shaped model, on the same articles and the same 10 labels.

Usage:
    python -m bench.peer [--articles 3] [--repeats 5] [--quick]

The peer has bart-large-mnli's shape (d_model 1024, 12 encoder and 12 decoder layers,
about 400M parameters) with random weights: no machine here can download the real one,
and its cost does not depend on its weights. It uses newstag's WordPiece tokenizer
(BART's byte-level BPE is not on disk), which yields about as many tokens per article.
The pipeline runs one forward pass per (article, label) pair; newstag runs one per window.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from transformers import AutoTokenizer, BartConfig, BartForSequenceClassification, pipeline

from service.config import Settings
from service.engine import Tagger
from service.engine.model_files import default_model_dir
from service.interrupts import run_command

ROOT = Path(__file__).resolve().parent.parent
LABELS = ["bilateral relations", "economy", "COP29", "demining", "sports", "health", "crime", "technology",
          "elections", "energy"]


def articles(n: int) -> list[str]:
    texts = [(ROOT / "seeds" / "000_61fd793a4efa8984.txt").read_text()]
    for line in (ROOT / "seeds" / "examples.jsonl").read_text().splitlines():
        texts.append(json.loads(line)["text"])
    return texts[:n]


def peer_pipeline(quick: bool):
    tokenizer = AutoTokenizer.from_pretrained(default_model_dir(), local_files_only=True)
    # BART pools the hidden state at its end-of-sequence token: here, WordPiece's [SEP].
    config = BartConfig(vocab_size=tokenizer.vocab_size, id2label={0: "contradiction", 1: "neutral", 2: "entailment"},
                        label2id={"contradiction": 0, "neutral": 1, "entailment": 2},
                        eos_token_id=tokenizer.sep_token_id, bos_token_id=tokenizer.cls_token_id,
                        pad_token_id=tokenizer.pad_token_id, decoder_start_token_id=tokenizer.sep_token_id)
    if quick:  # a small model of the same kind, so CI checks the script, not the machine
        config.update({"d_model": 64, "encoder_layers": 2, "decoder_layers": 2, "encoder_ffn_dim": 128,
                       "decoder_ffn_dim": 128, "encoder_attention_heads": 2, "decoder_attention_heads": 2})
    torch.manual_seed(0)
    model = BartForSequenceClassification(config).eval()
    params = sum(p.numel() for p in model.parameters())
    return pipeline("zero-shot-classification", model=model, tokenizer=tokenizer, device=-1), params


def seconds_per_article(run, texts: list[str], repeats: int) -> float:
    run(texts[:1])  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(texts)
        times.append((time.perf_counter() - start) / len(texts))
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of the peer (newstag runs 10x more)")
    parser.add_argument("--quick", action="store_true", help="a tiny peer and one article (for CI)")
    args = parser.parse_args(argv)
    texts = articles(1 if args.quick else args.articles)
    words = statistics.mean(len(t.split()) for t in texts)

    # No document cache: newstag repeats the same articles, and every run must be computed.
    tagger = Tagger.load(Settings.from_env(document_cache=0).engine_options())
    pipe, params = peer_pipeline(args.quick)
    print(f"peer: zero-shot-classification pipeline, BART {params / 1e6:.0f}M parameters, RANDOM weights "
          f"(cost does not depend on weights); {len(texts)} article(s), {words:.0f} words on average, "
          f"{len(LABELS)} labels, torch threads {torch.get_num_threads()}")
    print(f"{'mode':<14}{'peer s/article':>16}{'newstag s/article':>20}{'ratio':>10}")
    for multi in (False, True):
        peer = seconds_per_article(
            lambda batch, m=multi: [pipe(t, candidate_labels=LABELS, multi_label=m) for t in batch],
            texts, 1 if args.quick else args.repeats)
        ours = seconds_per_article(lambda batch, m=multi: tagger.tag(batch, LABELS, multi_label=m),
                                   texts, 2 if args.quick else 10 * args.repeats)
        print(f"{'multi-label' if multi else 'single-label':<14}{peer:>16.3f}{ours:>20.4f}{peer / ours:>9.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.peer"))
