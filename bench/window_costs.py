"""What tagging an article costs the model: its windows, tokens and matmul FLOPs.

FLOPs of a window of n tokens are a·n + b·n² (linear layers, then attention scores),
with a and b solved from torch's FlopCounterMode on the model at two lengths, so they
count what bench/ceiling.py counts. The model is the embedded one, or a local model
directory (NEWSTAG_MODEL's), windowed and prompted as newstag's profile for it says.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoModel
from transformers.utils import logging as hf_logging

from service.engine.chunking import prepare_document
from service.engine.encoder import token_limit  # the encoder's own rule
from service.engine.model_files import WEIGHTS_FILE, default_model_dir, sha256_of
from service.engine.model_profiles import profile_for
from service.engine.st_modules import read_pipeline
from service.engine.tokenizer import load_tokenizer

MAX_TOKENS = 256  # the embedded model's window


@dataclass(frozen=True)
class ArticleCost:
    windows: int
    tokens: int  # what the model reads, [CLS] and [SEP] of each window included
    flops: float


@cache
def _model(model_dir: Path | None = None):
    hf_logging.disable_progress_bar()
    return AutoModel.from_pretrained(model_dir or default_model_dir(), local_files_only=True).eval()


def counted_flops(tokens: int, model_dir: Path | None = None) -> int:
    ids = torch.full((1, tokens), 1000)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        _model(model_dir)(input_ids=ids, attention_mask=torch.ones_like(ids))
    return int(counter.get_total_flops())


@cache
def _coefficients(model_dir: Path | None = None) -> tuple[float, float]:
    """a and b in flops(n) = a·n + b·n², exact at half the window and the whole window (128 and 256)."""
    n2 = _windowing(model_dir)[0]
    n1 = n2 // 2
    f1, f2 = counted_flops(n1, model_dir), counted_flops(n2, model_dir)
    b = (f2 / n2 - f1 / n1) / (n2 - n1)
    return f1 / n1 - b * n1, b


def window_flops(tokens: int, model_dir: Path | None = None) -> float:
    a, b = _coefficients(model_dir)
    return a * tokens + b * tokens * tokens


@cache
def _windowing(model_dir: Path | None) -> tuple[int, str]:
    """The window size and the prompt before each window, as the service reads this model."""
    if model_dir is None:
        return MAX_TOKENS, ""
    profile = profile_for(sha256_of(model_dir / WEIGHTS_FILE))
    tokenizer = load_tokenizer(model_dir)
    window = token_limit(model_dir, tokenizer, _model(model_dir), profile.window_tokens)
    pipeline = read_pipeline(model_dir)
    name = profile.prompts.text if profile.prompts is not None else pipeline.default_prompt_name
    prompt = pipeline.prompts.get(name, "") if name else ""
    return window, prompt


def article_costs(texts: list[str], model_dir: Path | None = None) -> list[ArticleCost]:
    """Each text's windows, tokens and FLOPs with the embedded model, or the model in ``model_dir``."""
    tokenizer = load_tokenizer(model_dir or default_model_dir())
    window, prompt = _windowing(model_dir)
    out = []
    for text in texts:
        doc = prepare_document(text, tokenizer, window, prompt=prompt)
        lengths = [len(doc.prompt_ids) + len(doc.window_token_ids(w)) + 2 for w in doc.windows]
        out.append(ArticleCost(len(lengths), sum(lengths), sum(window_flops(n, model_dir) for n in lengths)))
    return out
