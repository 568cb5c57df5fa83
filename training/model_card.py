"""The model card a fine-tuned model carries: YAML front matter as Hugging Face cards use
it (license, tags, datasets, metrics, model-index), rendered from model_cards/template.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parent.parent / "model_cards" / "template.md"


@dataclass
class CardData:
    name: str
    base_model: str
    mode: str
    labels: list[str]
    multi_label: bool
    max_tokens: int
    train_file: str
    train_sha256: str
    train_rows: int
    validation_rows: int
    validation_source: str
    command: str
    epochs: int
    batch_size: int
    lr: float
    seed: int
    train_seconds: float
    versions: dict[str, str]
    metrics: dict[str, Any] = field(default_factory=dict)
    license: str = "other"  # the training data's licence decides; set it before publishing

    def front_matter(self) -> dict[str, Any]:
        results = [{"type": "f1", "name": "micro-F1 (validation)", "value": round(self.metrics["micro_f1"], 4)},
                   {"type": "f1", "name": "macro-F1 (validation)", "value": round(self.metrics["macro_f1"], 4)}]
        return {
            "license": self.license,
            "base_model": self.base_model,
            "library_name": "transformers",
            "pipeline_tag": "text-classification",
            "tags": ["newstag", "topic-tagging", "news", "multi-label" if self.multi_label else "single-label"],
            "datasets": [self.train_file],
            "metrics": ["f1"],
            "model-index": [{"name": self.name, "results": [{
                "task": {"type": "text-classification", "name": "Topic classification"},
                "dataset": {"type": self.train_file, "name": f"{self.train_file} (validation split)",
                            "split": "validation"},
                "metrics": results}]}],
        }


def render(card: CardData) -> str:
    rows = [("micro-F1", card.metrics["micro_f1"]), ("macro-F1", card.metrics["macro_f1"]),
            ("Hamming loss", card.metrics["hamming_loss"]), ("subset accuracy", card.metrics["subset_accuracy"])]
    if "accuracy" in card.metrics:
        rows.append(("accuracy", card.metrics["accuracy"]))
    return TEMPLATE.read_text().format(
        front_matter=yaml.safe_dump(card.front_matter(), sort_keys=False).strip(),
        name=card.name, mode=card.mode, base_model=card.base_model, label_count=len(card.labels),
        kind_of_labels=("multi-label" if card.multi_label else "single-label") + ": " + ", ".join(card.labels[:12])
        + (", ..." if len(card.labels) > 12 else ""),
        train_rows=card.train_rows, train_file=card.train_file, max_tokens=card.max_tokens,
        activation="independent sigmoids (multi-label)" if card.multi_label else "a softmax (single-label)",
        validation_rows=card.validation_rows, command=card.command, train_sha256=card.train_sha256,
        validation_source=card.validation_source, epochs=card.epochs, batch_size=card.batch_size, lr=card.lr,
        seed=card.seed, train_seconds=round(card.train_seconds), versions=", ".join(
            f"{k} {v}" for k, v in card.versions.items()),
        results_table="\n".join(f"| {name} | {value:.4f} |" for name, value in rows),
    )
