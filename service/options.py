"""What the engine needs to know, and nothing of the web service's: plain option objects.

The engine takes these instead of the service's :class:`~service.config.Settings` (which
also holds API keys, database URLs and HTTP limits). ``Settings.engine_options()`` builds
them, in one place; the defaults live in Settings, so the options here have none of their
own (except :class:`EncoderOptions`, which tools and tests build by hand). This module sits
below the engine and the settings, beside :mod:`service.errors`, so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

# Numeric precisions an encoder can run in (engine/precision.py); auto picks by CPU.
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "int8")
# What runs the encoder (engine/onnx_runtime.py): torch, an ONNX Runtime graph, or auto.
RUNTIMES: tuple[str, ...] = ("torch", "onnx", "auto")
# The precisions ONNX graphs are exported in (engine/onnx_runtime.py), and those
# NEWSTAG_RUNTIME=onnx accepts (auto runs fp32 where it would pick bf16): checked with the
# settings, so a server refuses to start on any other.
GRAPH_PRECISIONS: tuple[str, ...] = ("fp32", "int8")
ONNX_PRECISIONS: tuple[str, ...] = ("auto", *GRAPH_PRECISIONS)


def no_onnx_graph(precision: str) -> str:
    """Why NEWSTAG_RUNTIME=onnx refuses ``precision`` (the settings check and the engine say it alike)."""
    return f"NEWSTAG_PRECISION={precision} has no ONNX graph (fp32 or int8): use NEWSTAG_RUNTIME=torch for it"
# The weights of int8 ONNX graphs (engine/int8_kernels.py): auto (by the CPU), full 8-bit or reduced 7-bit.
INT8_RANGES: tuple[str, ...] = ("auto", "full", "reduced")


@dataclass(frozen=True)
class EncoderOptions:
    """How an encoder runs (NEWSTAG_MAX_BATCH_TOKENS, _PRECISION, _BATCHING, _DOCUMENT_CACHE,
    _RUNTIME, _ONNX_DIR, _ONNX_INT8_RANGE)."""

    max_batch_tokens: int = 2048
    precision: str = "fp32"
    batching: bool = False
    document_cache: int = 0
    runtime: str = "torch"
    onnx_dir: Path | None = None  # None: engine/onnx_cache.py's default_onnx_dir()
    onnx_int8_range: str = "auto"  # int8 graphs' weights: auto (by CPU), full or reduced (engine/int8_kernels.py)


@dataclass(frozen=True)
class ModelOptions:
    """Which model to load and how it runs (engine/loading.py)."""

    engine: Literal["embedding", "nli"]
    model: Path | None  # None: the embedded all-MiniLM-L6-v2
    matcher: bool  # merge the topic matcher adapter into the default model
    nli_model: Path | None
    nli_hypothesis: str
    max_tokens: int | None  # window size; None: the model's own (or its profile's) choice
    torch_threads: int | None
    encoder: EncoderOptions
    genre_check: bool = True  # give non-news texts no topic, where a genre check is pinned (engine/genre.py)
    label_cache: str = "off"  # where taxonomies' label vectors are kept between starts (engine/phrase_store.py)


@dataclass(frozen=True)
class TaggerOptions:
    """How the Tagger chooses topics, and the limits on one call."""

    taxonomy: str  # the default taxonomy
    threshold: float  # for caller-given labels; taxonomies set their own
    keyword_weight: float
    evidence_per_topic: int
    max_text_chars: int
    max_documents: int
    max_labels: int
    # NEWSTAG_PAGES: "article" reads a whole HTML page as its article (engine/page_article.py), "whole"
    # reads its menus, related links and footer too.
    pages: str = "article"


@dataclass(frozen=True)
class EngineOptions:
    """Everything :meth:`Tagger.load <service.engine.Tagger.load>` needs."""

    model: ModelOptions
    tagger: TaggerOptions
    taxonomies_dir: Path | None  # extra *.yaml taxonomies beside the built-in ones
    # NEWSTAG_MULTILINGUAL_MODEL: "auto", "off" or a directory (engine/routing.py)
    multilingual_model: str = "off"
