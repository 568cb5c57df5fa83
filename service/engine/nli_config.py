"""What makes a model directory an NLI classifier newstag can use, read from its config.json.

Checked at start (preflight, no torch) and again at load: a model that is not one would
otherwise leave the server "not ready" forever.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ModelLoadError


def class_ids(label2id: dict[str, int], model_dir: Path) -> tuple[int, int]:
    """(entailment, contradiction) class ids; a model whose classes cannot be told apart is refused.

    A two-class model (entailment / not_entailment) weighs entailment against its other class.
    """
    by_name = {name.lower(): int(i) for name, i in label2id.items()}
    entail = [i for name, i in by_name.items() if name.startswith("entail")]
    contra = [i for name, i in by_name.items() if name.startswith("contradict")]
    if len(entail) != 1:
        raise ModelLoadError(f"{model_dir} is not an NLI model: no single 'entailment' class in its label2id "
                             f"({', '.join(label2id) or 'none'})")
    if not contra and len(by_name) == 2:
        contra = [i for i in by_name.values() if i != entail[0]]
    if len(contra) != 1:
        raise ModelLoadError(f"{model_dir}: cannot tell which class is contradiction in its label2id "
                             f"({', '.join(label2id)}); name it 'contradiction'")
    return entail[0], contra[0]


def check_nli_config(model_dir: Path) -> None:
    """Raise ModelLoadError unless config.json describes a sequence classifier with NLI classes."""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read {model_dir / 'config.json'}: {exc}") from None
    architectures = config.get("architectures") or []
    if architectures and not any(str(a).endswith("ForSequenceClassification") for a in architectures):
        raise ModelLoadError(f"{model_dir} is not an NLI model: its architecture is {', '.join(architectures)}, "
                             "not a sequence classifier (an embedding model belongs in NEWSTAG_MODEL)")
    label2id = config.get("label2id") or {str(v): int(k) for k, v in (config.get("id2label") or {}).items()}
    class_ids(label2id, model_dir)
