"""The model card a matcher adapter carries (rendered from model_cards/matcher-template.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parent.parent / "model_cards" / "matcher-template.md"


def render_matcher_card(manifest: dict[str, Any]) -> str:
    training = manifest["training"]
    config = training["config"]
    front_matter = {
        "license": "other",  # the training sets' licences decide; list them before publishing
        "base_model": training["base_model"],
        "library_name": "peft",
        "pipeline_tag": "sentence-similarity",
        "tags": ["newstag", "topic-tagging", "zero-shot", "lora"],
        "datasets": [s["name"] for s in training["sets"]],
    }
    sets = "\n".join(f"| {s['name']} | {s['rows']} | {s['labels']} | `{s['sha256'][:16]}…` |"
                     for s in training["sets"])
    return TEMPLATE.read_text().format(
        front_matter=yaml.safe_dump(front_matter, sort_keys=False).strip(),
        base_model=training["base_model"], base_sha256=training["base_sha256"],
        parameters=manifest["parameters"], rank=config["rank"], alpha=config["alpha"],
        epochs=config["epochs"], batch_size=config["batch_size"], max_length=config["max_length"],
        lr=config["lr"], temperature=config["temperature"], max_per_set=config["max_per_set"] or "all",
        seed=config["seed"], command=training["command"] or "(called from Python)", sets_table=sets,
        train_seconds=round(training["train_seconds"]), final_loss=training["final_loss"],
        versions=", ".join(f"{k} {v}" for k, v in manifest["library_versions"].items()),
    )
