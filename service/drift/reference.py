"""A fine-tuned model's training data as a reference period: its label shares.

``training.finetune`` writes ``label_shares.json`` into the model directory: how many
labeled articles it was trained on (its training and validation rows) and how many carry
each label. Models trained before that file existed still have the same counts in their
manifest's training-data fingerprint (``newstag.json``), which is used instead.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, TypeGuard

from ..engine.classifier_dir import MANIFEST_FILE
from ..jsonl import is_unicode, parse_json
from .reading import TRAINING, DriftInputError, TagSet

LABEL_SHARES_FILE = "label_shares.json"


def label_shares(rows: int, counts: dict[str, int], source: dict[str, Any]) -> dict[str, Any]:
    """The content of ``label_shares.json``: rows, and each label's articles and share."""
    return {"rows": rows, "labels": {name: {"articles": n, "share": round(n / rows, 6)}
                                     for name, n in sorted(counts.items())}, "source": source}


def _counts(path: Path, data: Any, rows_key: str, labels_key: str) -> tuple[int, Counter[str]]:
    rows = data.get(rows_key) if isinstance(data, dict) else None
    labels = data.get(labels_key) if isinstance(data, dict) else None
    if not _is_count(rows) or rows < 1 or not isinstance(labels, dict):  # "rows": true read as 1 article
        raise DriftInputError(f"{path}: needs a positive {rows_key!r} (a whole number) and a {labels_key!r} object")
    counts: Counter[str] = Counter()
    for name, value in labels.items():
        if not name.strip() or not is_unicode(name):  # the report prints it
            raise DriftInputError(f"{path}: label {name!r} is not a label name (empty, or not valid Unicode)")
        count = value.get("articles") if isinstance(value, dict) else value
        if not _is_count(count) or not 0 <= count <= rows:
            raise DriftInputError(f"{path}: label {name!r} has no valid article count")
        counts[name] = count
    return rows, counts


def _is_count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def training_tags(model_dir: Path) -> TagSet:
    """The model's training data as a TagSet (label counts only: no scores, no languages)."""
    shares, manifest = model_dir / LABEL_SHARES_FILE, model_dir / MANIFEST_FILE
    if not model_dir.is_dir():
        raise DriftInputError(f"{model_dir}: no such model directory")
    try:
        if shares.is_file():
            rows, counts = _counts(shares, parse_json(shares.read_text(encoding="utf-8")), "rows", "labels")
            source = f"{model_dir.name}/{LABEL_SHARES_FILE}"
        elif manifest.is_file():
            data = parse_json(manifest.read_text(encoding="utf-8")).get("training_data")
            if data is None:
                raise DriftInputError(f"{model_dir}: {MANIFEST_FILE} does not describe its training data; "
                                      "retrain the model to compare with its training data")
            rows, counts = _counts(manifest, data, "rows", "label_counts")
            source = f"{model_dir.name}/{MANIFEST_FILE} (training-data fingerprint; no {LABEL_SHARES_FILE})"
        else:
            raise DriftInputError(f"{model_dir}: not a fine-tuned newstag model (no {LABEL_SHARES_FILE} or "
                                  f"{MANIFEST_FILE}): only models from training.finetune record their training "
                                  "data's label shares")
    except (OSError, ValueError, AttributeError) as exc:
        raise DriftInputError(f"{model_dir}: cannot read its training label shares ({exc})") from exc
    return TagSet(source=source, kind=TRAINING, articles=rows, label_counts=counts)
