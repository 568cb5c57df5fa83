"""What tagging an article costs the model: its windows, tokens and matmul FLOPs.

FLOPs of a window of n tokens are a·n + b·n² (linear layers, then attention scores),
with a and b solved from torch's FlopCounterMode on the embedded model at two lengths,
so they count what bench/ceiling.py counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoModel, AutoTokenizer
from transformers.utils import logging as hf_logging

from service.engine.chunking import prepare_document
from service.engine.model_files import default_model_dir

MAX_TOKENS = 256  # the embedded model's window


@dataclass(frozen=True)
class ArticleCost:
    windows: int
    tokens: int  # what the model reads, [CLS] and [SEP] of each window included
    flops: float


@cache
def _model():
    hf_logging.disable_progress_bar()
    return AutoModel.from_pretrained(default_model_dir(), local_files_only=True).eval()


def counted_flops(tokens: int) -> int:
    ids = torch.full((1, tokens), 1000)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        _model()(input_ids=ids, attention_mask=torch.ones_like(ids))
    return int(counter.get_total_flops())


@cache
def _coefficients() -> tuple[float, float]:
    """a and b in flops(n) = a·n + b·n², exact at n = 128 and 256."""
    f1, f2 = counted_flops(128), counted_flops(256)
    b = (f2 / 256 - f1 / 128) / (256 - 128)
    return f1 / 128 - b * 128, b


def window_flops(tokens: int) -> float:
    a, b = _coefficients()
    return a * tokens + b * tokens * tokens


def article_costs(texts: list[str]) -> list[ArticleCost]:
    tokenizer = AutoTokenizer.from_pretrained(default_model_dir(), local_files_only=True)
    out = []
    for text in texts:
        doc = prepare_document(text, tokenizer, MAX_TOKENS)
        lengths = [len(doc.window_token_ids(w)) + 2 for w in doc.windows]
        out.append(ArticleCost(len(lengths), sum(lengths), sum(window_flops(n) for n in lengths)))
    return out
