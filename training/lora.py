"""LoRA through peft for training, and the adapter directory the service reads.

peft wraps the encoder for training; what we keep is only the low-rank pairs, written
in newstag's small adapter format (service/engine/adapter.py), so serving needs neither
peft nor its wrapper classes.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from service.engine.adapter import ADAPTER_KIND, ADAPTER_MANIFEST, ADAPTER_WEIGHTS
from service.engine.model_files import sha256_of

from .export import atomic_directory, library_versions
from .model_card import matcher_card

# The encoder's attention projections and feed-forward layers; not the pooler, which
# mean-pooled embeddings never use. BERT's names (all-MiniLM-L6-v2), then Gemma's (EmbeddingGemma).
TARGET_MODULES = (r".*encoder\.layer\.\d+\."
                  r"(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)"
                  r"|.*layers\.\d+\.(self_attn\.(q_proj|k_proj|v_proj|o_proj)|mlp\.(gate_proj|up_proj|down_proj))")


def with_lora(encoder: torch.nn.Module, rank: int, alpha: int, dropout: float) -> Any:
    import warnings

    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=TARGET_MODULES, bias="none")
    with warnings.catch_warnings():  # peft 0.21 calls a transformers 5 API that is being renamed
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(encoder, config)


def adapter_tensors(peft_model: Any) -> dict[str, torch.Tensor]:
    """``<module>.lora_A`` and ``<module>.lora_B`` for each adapted layer, module paths of the base model."""
    from peft import get_peft_model_state_dict

    out = {}
    for key, tensor in get_peft_model_state_dict(peft_model).items():
        # e.g. base_model.model.encoder.layer.0.attention.self.query.lora_A.weight
        module, part, _ = key.removeprefix("base_model.model.").rsplit(".", 2)
        out[f"{module}.{part}"] = tensor.detach().float().contiguous()
    return out


def write_adapter_dir(output: Path, tensors: dict[str, torch.Tensor], scale: float, summary: dict[str, Any]) -> None:
    with atomic_directory(output) as tmp:
        save_file(tensors, str(tmp / ADAPTER_WEIGHTS))
        parameters = sum(t.numel() for t in tensors.values())
        manifest = {"kind": ADAPTER_KIND, "scale": scale, "base_sha256": summary["base_sha256"],
                    "parameters": parameters, "sha256": {ADAPTER_WEIGHTS: sha256_of(tmp / ADAPTER_WEIGHTS)},
                    "training": summary, "library_versions": {**library_versions(), "peft": version("peft")}}
        (tmp / ADAPTER_MANIFEST).write_text(json.dumps(manifest, indent=2))
        (tmp / "README.md").write_text(matcher_card(manifest))
