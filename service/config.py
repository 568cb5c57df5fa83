"""All of newstag's settings, in one place.

Defaults live in :class:`Settings`; :meth:`Settings.from_env` overlays ``NEWSTAG_*``
environment variables. Nothing reads the environment at import time.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs

from .errors import ConfigError
from .options import (
    INT8_RANGES,
    ONNX_PRECISIONS,
    PRECISIONS,
    RUNTIMES,
    EncoderOptions,
    EngineOptions,
    ModelOptions,
    TaggerOptions,
    no_onnx_graph,
)

MAX_KEYWORD_WEIGHT = 0.25


def _in_memory_sqlite(url: str) -> bool:
    """True for a SQLite URL whose database lives in memory (``sqlite://``, ``sqlite:///:memory:``,
    ``sqlite:///file::memory:?uri=true``, ``?mode=memory``), read as SQLAlchemy reads it."""
    scheme, separator, rest = url.strip().partition("://")
    if not separator or scheme.partition("+")[0].lower() != "sqlite":
        return False
    database, _, query = rest.removeprefix("/").partition("?")
    if database in ("", ":memory:"):
        return True
    return database.startswith("file:") and (database.startswith("file::memory:")
                                             or "memory" in parse_qs(query).get("mode", []))


def _one_label_slot(template: str) -> bool:
    """True when ``template.format(label)`` puts the label in once and nothing else fails."""
    marker = "\u0000label\u0000"
    try:
        filled = template.format(marker)
    except (IndexError, KeyError, ValueError):  # {region}, "{}%s {0}", a lone brace
        return False
    return filled.count(marker) == 1


@dataclass(frozen=True)
class Settings:
    # Which engine scores labels: sentence embeddings (default) or an NLI model.
    engine: Literal["embedding", "nli"] = "embedding"
    # A local sentence-embedding model directory; None means the embedded all-MiniLM-L6-v2.
    model: Path | None = None
    # The topic matcher adapter (service/matcher/) merged into the default model at load;
    # off: the plain all-MiniLM-L6-v2. EmbeddingGemma's own adapter (service/matcher_multilingual/)
    # follows the same switch, routed to or named by NEWSTAG_MODEL; other models never get one.
    matcher: bool = True
    # A local NLI model directory (bart-large-mnli, a DeBERTa NLI model, ...) for engine=nli.
    nli_model: Path | None = None
    nli_hypothesis: str = "This article is about {}."
    # The multilingual model that texts in languages the model above does not read go to
    # (engine/routing.py): auto (base-models/embeddinggemma-300m under the working
    # directory, when installed there), off, or a local model directory.
    multilingual_model: str = "auto"

    # Label sets.
    taxonomy: str = "news"
    taxonomies_dir: Path | None = None  # extra *.yaml taxonomies, beside the built-in ones
    threshold: float = 0.5  # for caller-given labels; taxonomies set their own

    # Long articles: windows of at most this many tokens (None: the model's own limit, or
    # newstag's choice for the model's weights in engine/model_profiles.py).
    max_tokens: int | None = None
    max_batch_tokens: int = 2048  # padded tokens per forward pass (measured: docs/benchmarks.md)

    # Speed (docs/benchmarks.md has the measurements behind these defaults).
    # auto (bf16 where the CPU has native bf16, else fp32) | fp32 | bf16 | int8
    precision: str = "auto"
    batching: bool = True  # merge concurrent requests' windows into shared forward passes
    document_cache: int = 256  # recently tagged texts whose embeddings are kept (0: off)
    # What runs the encoder: torch | onnx (an ONNX Runtime graph exported from the verified
    # weights, engine/onnx_runtime.py) | auto (onnx when a verified export is already there).
    runtime: str = "torch"
    # Where ONNX graphs are exported and found (None: $XDG_CACHE_HOME/newstag/onnx); may be read-only.
    onnx_dir: Path | None = None
    # int8 graphs' weights: auto (7-bit where the CPU's int8 kernels could saturate with 8-bit
    # ones, x86 without VNNI; else 8-bit) | full | reduced (engine/int8_kernels.py).
    onnx_int8_range: str = "auto"

    # Where the vectors of the taxonomies' and the calibration's label phrasings are kept between
    # starts, per model (engine/phrase_store.py): auto ($XDG_CACHE_HOME/newstag/label-vectors), off,
    # or a directory; one that cannot be written is passed over (computed at each start, as before).
    label_cache: str = "auto"

    # Texts that do not read like news (cookie banners, code, "Hello") get no topic and a
    # not-news warning, where the model has a genre check pinned (engine/genre.py).
    genre_check: bool = True

    # A whole HTML page sent as scraped: "article" reads its article alone, its menus, related
    # links and footer blanked (engine/page_article.py); "whole" reads every word it shows.
    pages: str = "article"

    # Evidence.
    keyword_weight: float = 0.05  # added per distinct keyword hit (at most 2 count): evidence, not a verdict
    evidence_per_topic: int = 2

    # Limits on one call, so bad input gets a clear error instead of a stalled worker.
    max_text_chars: int = 100_000
    max_documents: int = 64
    max_labels: int = 100

    torch_threads: int | None = None  # None: leave torch's default

    # Fine-tuned models (training.finetune output directories), loaded at start and on reload.
    models_dir: Path | None = None
    admin_keys: str = ""  # comma-separated; POST /v1/models/reload needs one
    # A directory shared by the server's workers (gunicorn.conf.py sets it), through which
    # a reload in one worker reaches the others.
    run_dir: Path | None = None

    # HTTP service.
    # Larger bodies get 413. 4 MB: a news page as scraped, scripts and all, as JSON (CNN's are
    # 2.5-2.9 MB; at 1 MB they were refused); the work a body asks for is bounded apart from it
    # (max_text_chars, and admission's time limit: too-much-to-tag).
    max_body_bytes: int = 4_000_000
    api_keys: str = ""  # comma-separated; when set, /v1 needs "Authorization: Bearer <key>"
    # The server refuses to start without api_keys: a Secret holding an empty value reads as unset.
    require_api_keys: bool = False
    max_queue: int = 16  # requests waiting for the model in one worker; beyond that, 503
    request_timeout: float = 30.0  # seconds a request may wait for the model before 503
    # Seconds a client may take to send its request's headers, and may stall while sending
    # its body (408), before its connection or request is cut (slow clients held every thread).
    client_timeout: int = 10

    # Editors' corrections (POST /v1/feedback): a SQLAlchemy URL. The default is an SQLite
    # file under ./data, relative to the working directory (the image sets /data, a volume);
    # postgresql://user:password@host/db works too.
    database_url: str = "sqlite:///data/feedback.db"

    @property
    def api_key_list(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in self.api_keys.split(",") if k.strip())

    @property
    def admin_key_list(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in self.admin_keys.split(",") if k.strip())

    def engine_options(self) -> EngineOptions:
        """The part of the settings the engine reads (it never sees keys, URLs or HTTP limits)."""
        encoder = EncoderOptions(self.max_batch_tokens, self.precision, self.batching, self.document_cache,
                                 self.runtime, self.onnx_dir, self.onnx_int8_range)
        model = ModelOptions(self.engine, self.model, self.matcher, self.nli_model, self.nli_hypothesis,
                             self.max_tokens, self.torch_threads, encoder, self.genre_check, self.label_cache)
        tagger = TaggerOptions(self.taxonomy, self.threshold, self.keyword_weight, self.evidence_per_topic,
                               self.max_text_chars, self.max_documents, self.max_labels, self.pages)
        return EngineOptions(model, tagger, self.taxonomies_dir, self.multilingual_model)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``NEWSTAG_<FIELD>`` variables, then ``overrides``."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f"NEWSTAG_{f.name.upper()}")
            if raw is not None and raw.strip() != "":
                values[f.name] = _parse(f.name, raw.strip())
        return replace(cls(**values), **overrides).validated()

    def validated(self) -> Settings:
        if self.engine not in ("embedding", "nli"):
            raise ConfigError(f"NEWSTAG_ENGINE must be 'embedding' or 'nli', not {self.engine!r}")
        if self.engine == "nli" and self.nli_model is None:
            raise ConfigError("NEWSTAG_ENGINE=nli needs NEWSTAG_NLI_MODEL, a local NLI model directory")
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError("NEWSTAG_THRESHOLD must be between 0 and 1")
        if not 0.0 <= self.keyword_weight <= MAX_KEYWORD_WEIGHT:
            raise ConfigError(f"NEWSTAG_KEYWORD_WEIGHT must be between 0 and {MAX_KEYWORD_WEIGHT} "
                              "(keywords are evidence: they must not decide a topic alone); it is added to a label's "
                              "score per keyword found (default 0.05), where early builds read it as one hit's "
                              "strength in a noisy-OR (default 0.5)")
        for name in ("max_batch_tokens", "max_text_chars", "max_documents", "max_labels", "max_body_bytes",
                     "max_queue"):
            if getattr(self, name) < 1:
                raise ConfigError(f"NEWSTAG_{name.upper()} must be a positive integer")
        if self.max_tokens is not None and self.max_tokens < 16:
            raise ConfigError("NEWSTAG_MAX_TOKENS must be at least 16")
        if not 1 <= self.client_timeout <= 3600:
            raise ConfigError("NEWSTAG_CLIENT_TIMEOUT must be a whole number of seconds from 1 to 3600")
        if not 0 < self.request_timeout < 86_400:  # nan and inf fail too: every request would
            raise ConfigError("NEWSTAG_REQUEST_TIMEOUT must be a number of seconds above 0 and under a day")
        if self.torch_threads is not None and self.torch_threads < 1:
            raise ConfigError("NEWSTAG_TORCH_THREADS must be at least 1 (leave it unset for the default)")
        if self.api_keys.strip() and not self.api_key_list:
            # Set but naming no key (" , "): serving without keys would fail open.
            raise ConfigError("NEWSTAG_API_KEYS names no key: give comma-separated keys, or leave it unset")
        if self.admin_keys.strip() and not self.admin_key_list:
            raise ConfigError("NEWSTAG_ADMIN_KEYS names no key: give comma-separated keys, or leave it unset")
        if self.pages not in ("article", "whole"):
            raise ConfigError(f"NEWSTAG_PAGES must be 'article' or 'whole', not {self.pages!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"NEWSTAG_PRECISION must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if self.runtime not in RUNTIMES:
            raise ConfigError(f"NEWSTAG_RUNTIME must be one of {', '.join(RUNTIMES)}, not {self.runtime!r}")
        if self.runtime == "onnx" and self.precision not in ONNX_PRECISIONS:
            raise ConfigError(no_onnx_graph(self.precision))
        if self.onnx_int8_range not in INT8_RANGES:
            raise ConfigError(f"NEWSTAG_ONNX_INT8_RANGE must be one of {', '.join(INT8_RANGES)}, "
                              f"not {self.onnx_int8_range!r}")
        if self.document_cache < 0:
            raise ConfigError("NEWSTAG_DOCUMENT_CACHE must not be negative")
        if not self.label_cache.strip():
            raise ConfigError("NEWSTAG_LABEL_CACHE must be auto, off or a directory")
        if not self.multilingual_model.strip():
            raise ConfigError("NEWSTAG_MULTILINGUAL_MODEL must be auto, off or a model directory")
        if not self.database_url.strip():
            raise ConfigError("NEWSTAG_DATABASE_URL must not be empty")
        if _in_memory_sqlite(self.database_url):
            # Each pooled connection would get an empty database of its own: ids repeat, then 503s.
            raise ConfigError(f"NEWSTAG_DATABASE_URL={self.database_url.strip()!r} is an in-memory SQLite database, "
                              "which keeps no correction and is not shared between connections: give a file "
                              "(sqlite:///data/feedback.db) or postgresql://user:password@host/db")
        if not _one_label_slot(self.nli_hypothesis):
            raise ConfigError("NEWSTAG_NLI_HYPOTHESIS must hold {} once, where the label goes, and no other "
                              f"braces (write {{{{ and }}}} for literal ones), not {self.nli_hypothesis!r}")
        if self.evidence_per_topic < 0:
            raise ConfigError("NEWSTAG_EVIDENCE_PER_TOPIC must not be negative")
        return self


_PATHS = {"model", "nli_model", "taxonomies_dir", "models_dir", "run_dir", "onnx_dir"}
_INTS = {"max_tokens", "max_batch_tokens", "evidence_per_topic", "max_text_chars", "max_documents",
         "max_labels", "torch_threads", "max_body_bytes", "max_queue", "document_cache", "client_timeout"}
_FLOATS = {"threshold", "keyword_weight", "request_timeout"}
_BOOLS = {"batching", "matcher", "genre_check", "require_api_keys"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _parse(name: str, raw: str) -> Any:
    try:
        if name in _PATHS:
            return Path(raw).expanduser()
        if name in _INTS:
            return int(raw)
        if name in _FLOATS:
            return float(raw)
        if name in _BOOLS:
            if raw.lower() not in _TRUE | _FALSE:
                raise ValueError(raw)
            return raw.lower() in _TRUE
    except ValueError:
        kind = ("a whole number" if name in _INTS else "a number" if name in _FLOATS
                else f"one of {', '.join(sorted(_TRUE | _FALSE))}" if name in _BOOLS else "valid")
        raise ConfigError(f"NEWSTAG_{name.upper()}={raw!r} is not {kind}") from None
    return raw


# NEWSTAG_ variables read outside Settings: gunicorn's worker and thread counts
# (gunicorn_config.py), the image's build arguments, and the test suite's and benchmarks' switches.
OTHER_VARIABLES = frozenset({"NEWSTAG_WORKERS", "NEWSTAG_THREADS", "NEWSTAG_ONNX", "NEWSTAG_MULTILINGUAL",
                             "NEWSTAG_BULK", "NEWSTAG_REQUIRE_E2E", "NEWSTAG_E2E_PORT", "NEWSTAG_FUZZ_EXAMPLES",
                             "NEWSTAG_CHROMIUM", "NEWSTAG_SHOW_JUNK"})


def unknown_variable_warnings(environ: Mapping[str, str] | None = None) -> list[str]:
    """One line per NEWSTAG_ variable newstag does not read: a misspelt one is otherwise
    silently ignored (NEWSTAG_REQUIRE_API_KEY left the API open, NEWSTAG_TRESHOLD the threshold 0.5)."""
    environ = os.environ if environ is None else environ
    known = {f"NEWSTAG_{f.name.upper()}" for f in fields(Settings)} | OTHER_VARIABLES
    out = []
    for name in sorted(n for n in environ if n.startswith("NEWSTAG_") and n not in known):
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        out.append(f"{name} is not a newstag setting and is ignored"
                   + (f": did you mean {close[0]}?" if close else " (docs/configuration.md lists them)"))
    return out
