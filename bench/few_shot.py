"""Few-shot learning curves: the hybrid recipe on k labelled articles per label, against zero-shot.

Usage:
    python -m bench.few_shot [--data-dir ../shared/data] [--shots 8,16,32,64] [--seeds 0]
        [--eval-max 300] [--sets bbc-news,bbc-sport,20newsgroups,masakhanews-fra]
        [--cache /tmp/newstag-few-shot] [--label-prior P] [--base DIR] [--contrastive] [--report OUT.json]

For each set and seed: each label's rows are shuffled (seeded) and the first k of them
train (nested: the 8 are among the 16), never more than half a label's rows; the
evaluation rows are a seeded sample (at most --eval-max) of the rows outside the largest
training sample, the same for every k, so the curve compares like with like. The
hybrid recipe (training/hybrid.py, the default of training.finetune; its label-name
feature at --label-prior, 0 off, by default its own choice) trains on the k per label;
zero-shot is training.evaluate's ``--labels-from-data`` (the Tagger on the label names)
on the same evaluation rows. All four sets are single-label: the figure is macro-F1 (and
accuracy). Article vectors are cached in --cache as safetensors. --base trains on another
local model's vectors, as training.finetune's --base does (zero-shot stays the service's own
route: with the multilingual model installed, French goes to it). --contrastive also trains,
on the same k articles, the recipe training.finetune runs with contrastive tuning: a copy of
the encoder tuned on pairs of them (training/contrastive.py), then the hybrid head at
article vector weight 1 without the label-name feature; its figures are a second table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

from service.config import Settings
from service.engine import Label, Tagger
from service.engine.encoder import SentenceEncoder
from service.engine.model_files import default_model_dir
from service.interrupts import run_command
from service.progress import progress_bar
from training.contrastive import ContrastiveSettings, contrastive_tune
from training.data import Example, read_labeled
from training.evaluate import evaluate, load_tagger
from training.hybrid import HybridSettings, article_vectors, targets_matrix, train_hybrid
from training.metrics import classification_report
from training.probe import label_name_vectors

from .few_shot_table import markdown_table

SETS = {"bbc-news": "bbc-news-train.jsonl", "bbc-sport": "bbc-sport.jsonl",
        "20newsgroups": "20newsgroups-train.jsonl", "masakhanews-fra": "masakhanews-fra-dev.jsonl"}
MAX_TOKENS = 256  # training.finetune's default window


def samples(examples: list[Example], shots: list[int], seed: int,
            eval_max: int) -> tuple[dict[int, list[int]], list[int]]:
    """Row indices: k -> the training rows (nested across k), and the evaluation rows."""
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        by_label.setdefault(e.labels[0], []).append(i)
    for rows in by_label.values():
        rng.shuffle(rows)
    train = {k: sorted(i for rows in by_label.values() for i in rows[:min(k, len(rows) // 2)]) for k in shots}
    used = set(train[max(shots)])
    rest = [i for i in range(len(examples)) if i not in used]
    rng.shuffle(rest)
    return train, sorted(rest[:eval_max])


def read_articles(encoder: SentenceEncoder, texts: list[str]) -> np.ndarray:
    """[texts, dim] article vectors (the mean of each article's window vectors), as training reads them."""
    docs = [encoder.prepare(t) for t in texts]
    return article_vectors([torch.from_numpy(v.windows) for v in encoder.encode_documents(docs)])


class VectorCache:
    """Article vectors by row, kept in one safetensors file per data file (never a pickle)."""

    def __init__(self, directory: Path, data: Path, base: Path | None = None):
        digest = hashlib.sha256(data.read_bytes()).hexdigest()[:16]
        self.base = base or default_model_dir()
        tag = "" if base is None else f"-{base.resolve().name}"  # the embedded model keeps its old file names
        self.path = directory / f"{data.stem}-{digest}-{MAX_TOKENS}{tag}.safetensors"
        self.vectors: dict[int, np.ndarray] = {}
        self.encoder: SentenceEncoder | None = None
        if self.path.is_file():
            stored = load_file(str(self.path))
            self.vectors = dict(zip(stored["rows"].tolist(), stored["vectors"], strict=True))

    def get(self, examples: list[Example], rows: list[int], chunk: int = 256) -> np.ndarray:
        missing = [i for i in rows if i not in self.vectors]
        # saved after each chunk: a long pass keeps its work; one encoder for the whole pass
        for start in progress_bar(range(0, len(missing), chunk), desc=f"article vectors ({self.base.name})",
                                  unit="chunk", file=sys.stderr):
            part = missing[start:start + chunk]
            self.vectors.update(zip(part, read_articles(self._encoder(), [examples[i].text for i in part]),
                                    strict=True))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            keys = sorted(self.vectors)
            save_file({"rows": np.array(keys, dtype=np.int64), "vectors": np.stack([self.vectors[k] for k in keys])},
                      str(self.path))
        return np.stack([self.vectors[i] for i in rows])

    def _encoder(self) -> SentenceEncoder:
        if self.encoder is None:
            self.encoder = SentenceEncoder(self.base, max_tokens=MAX_TOKENS)
        return self.encoder


def _scores(gold: list[Example], predicted: list[str], labels: list[str]) -> dict:
    report = classification_report([e.labels for e in gold], [(p,) for p in predicted], labels, True)
    return {"macro_f1": round(report["macro_f1"], 4), "accuracy": round(report["accuracy"], 4)}


def tuned_scores(examples: list[Example], rows: list[int], gold: list[Example], labels: list[str], base: Path,
                 seed: int) -> dict:
    """The recipe with contrastive tuning on ``rows``, as training.finetune runs it, scored on ``gold``."""
    started = time.monotonic()
    encoder = SentenceEncoder(base, max_tokens=MAX_TOKENS)  # fp32, no cache: a fresh copy each time
    contrastive_tune(encoder.model, encoder.tokenizer, [examples[i].text for i in rows],
                     [examples[i].labels[0] for i in rows], ContrastiveSettings(), seed, encoder.pipeline,
                     show_progress=False)
    train_texts = [examples[i].text for i in rows]
    model, _ = train_hybrid(train_texts, read_articles(encoder, train_texts),
                            targets_matrix([examples[i] for i in rows], labels), False,
                            HybridSettings(embedding_weight=1.0, label_prior=0.0, nb_alpha=0.0), seed=42)
    logits = model.logits([e.text for e in gold], read_articles(encoder, [e.text for e in gold]))
    return {**_scores(gold, [labels[j] for j in logits.argmax(axis=1)], labels),
            "seconds": round(time.monotonic() - started)}


def run_set(name: str, data: Path, shots: list[int], seeds: list[int], eval_max: int, cache_dir: Path,
            tagger: Tagger, settings: HybridSettings, base: Path | None = None, contrastive: bool = False) -> dict:
    examples = read_labeled(data)
    labels = sorted({e.labels[0] for e in examples})
    cache = VectorCache(cache_dir, data, base)
    names = None if settings.label_prior == 0 else label_name_vectors(cache.base, MAX_TOKENS, labels)
    out: dict = {"set": name, "file": data.name, "base": cache.base.name, "labels": len(labels), "rows": len(examples),
                 "label_prior": settings.label_prior, "runs": []}
    for seed in seeds:
        train, evaluation = samples(examples, shots, seed, eval_max)
        gold = [examples[i] for i in evaluation]
        cache.get(examples, sorted({*evaluation, *train[max(shots)]}))  # one encoder pass for the seed
        eval_vectors = cache.get(examples, evaluation)
        run: dict = {"seed": seed, "eval_rows": len(evaluation), "shots": {}}
        for k in shots:
            rows = train[k]
            model, _ = train_hybrid([examples[i].text for i in rows], cache.get(examples, rows),
                                    targets_matrix([examples[i] for i in rows], labels), False, settings, seed=42,
                                    label_vectors=names)
            logits = model.logits([e.text for e in gold], eval_vectors)
            run["shots"][str(k)] = {"train_rows": len(rows), "embedding_weight": model.article_weight,
                                    "label_prior": model.label_prior, "nb_alpha": model.nb_alpha,
                                    **_scores(gold, [labels[j] for j in logits.argmax(axis=1)], labels)}
            if contrastive:
                run["shots"][str(k)]["contrastive"] = tuned_scores(examples, rows, gold, labels, cache.base, seed)
            print(f"{name} seed {seed} k={k}: {run['shots'][str(k)]}", file=sys.stderr, flush=True)
        report = evaluate(tagger, gold, [Label(x) for x in labels], None)
        run["zero_shot"] = {"macro_f1": round(report["macro_f1"], 4), "accuracy": round(report["accuracy"], 4)}
        print(f"{name} seed {seed} zero-shot: {run['zero_shot']}", file=sys.stderr, flush=True)
        out["runs"].append(run)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.few_shot", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ", ".join(SETS))
    parser.add_argument("--shots", default="8,16,32,64")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--eval-max", type=int, default=300, help="evaluation rows per set and seed")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/newstag-few-shot"))
    parser.add_argument("--label-prior", type=float, default=HybridSettings.label_prior,
                        help="the scale of each label's own-name feature (0: off; default: the recipe's choice)")
    parser.add_argument("--nb-alpha", type=float, default=HybridSettings.nb_alpha,
                        help="the smoothing of the log-count ratios that weigh each label's TF-IDF columns (0: off)")
    parser.add_argument("--base", type=Path, help="a local model directory (default: embedded all-MiniLM-L6-v2)")
    parser.add_argument("--contrastive", action="store_true",
                        help="also the recipe with contrastive tuning (training/contrastive.py) on the same articles")
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    shots = sorted(int(x) for x in args.shots.split(","))
    seeds = [int(x) for x in args.seeds.split(",")]
    tagger = load_tagger("default", Settings.from_env(max_documents=32))  # zero-shot, as training.evaluate
    results = []
    for name in args.sets.split(","):
        results.append(run_set(name, args.data_dir / SETS[name], shots, seeds, args.eval_max, args.cache, tagger,
                               HybridSettings(label_prior=args.label_prior, nb_alpha=args.nb_alpha), args.base,
                               args.contrastive))
        if args.report:  # after each set: a long run keeps what it measured
            args.report.write_text(json.dumps(results, indent=2))
    print(markdown_table(results, shots))
    if args.contrastive:
        print("\nWith contrastive tuning:\n" + markdown_table(results, shots, variant="contrastive"))
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.few_shot"))
