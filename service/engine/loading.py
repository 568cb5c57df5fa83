"""Build the scoring backend that the model options ask for, from local files only."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from transformers.utils import logging as hf_logging

from ..errors import ConfigError, ModelLoadError
from ..options import ModelOptions
from .adapter import Adapter, read_adapter
from .calibration_fits import calibration_for
from .domain import document_vector
from .encoder import SentenceEncoder
from .genre import BARE_NEWS, BARE_NEWS_COSINE, GenreCheck, genre_check_for
from .int8_kernels import int8_kernels
from .label_vectors import TEMPLATE
from .model_files import (
    DEFAULT_MODEL_NAME,
    DEFAULT_MODEL_SHA256,
    MATCHER_DIR,
    MATCHER_SHA256,
    WEIGHTS_FILE,
    default_model_dir,
    model_languages,
    require_local_model_dir,
    sha256_of,
    verify_manifest,
    verify_weights,
)
from .model_profiles import profile_for
from .phrase_store import open_store, store_dir
from .precision import Precision, bf16_units
from .scoring import ScoringBackend

if TYPE_CHECKING:
    from .embedding_backend import EmbeddingBackend

log = logging.getLogger("newstag.loading")


def load_backend(options: ModelOptions) -> ScoringBackend:
    """The embedding backend on the default (checksummed) or a local model, or the NLI one."""
    hf_logging.disable_progress_bar()  # a weight-loading bar on every worker start is noise
    if options.torch_threads:
        torch.set_num_threads(options.torch_threads)
    single_threaded_blas()
    return _load_nli(options) if options.engine == "nli" else _load_embedding(options)


def _load_nli(options: ModelOptions) -> ScoringBackend:
    from .nli_backend import NLIBackend  # imported only when used

    assert options.nli_model is not None  # Settings.validated() guarantees it
    nli_dir = require_local_model_dir(options.nli_model)
    nli = NLIBackend(nli_dir, options.nli_hypothesis, options.max_tokens)
    asked = options.encoder
    if asked.precision not in ("auto", nli.precision) or asked.runtime not in ("auto", "torch"):
        log.warning("NEWSTAG_PRECISION=%s and NEWSTAG_RUNTIME=%s do not apply to the NLI engine: %s runs "
                    "with torch as its checkpoint was saved (%s)", asked.precision, asked.runtime,
                    nli_dir.name, nli.precision)
    nli.model_version = sha256_of(nli_dir / WEIGHTS_FILE)[:12]
    nli.languages = model_languages(nli_dir)
    return nli


def _load_embedding(options: ModelOptions) -> ScoringBackend:
    from .embedding_backend import EmbeddingBackend

    if options.model is None:
        model_dir = default_model_dir()
        verify_weights(model_dir, DEFAULT_MODEL_SHA256)
        name, digest = DEFAULT_MODEL_NAME, DEFAULT_MODEL_SHA256
    else:
        model_dir = require_local_model_dir(options.model)
        name, digest = model_dir.name, sha256_of(model_dir / WEIGHTS_FILE)
        verify_manifest(model_dir, digest)
    # newstag's measured choices for these weights (prompts, windows, their matcher), and their calibration.
    profile = profile_for(digest)
    matcher = ((MATCHER_DIR, MATCHER_SHA256) if options.model is None else profile.matcher) if options.matcher else None
    adapter = profile_matcher(matcher, digest) if matcher is not None else None

    def refuse_on_torch(precision: str) -> None:  # an ONNX graph may hold a precision torch's kernels cannot
        if precision in profile.refused_precisions:
            raise ConfigError(f"NEWSTAG_PRECISION={precision} is not supported for {name} on torch: "
                              f"{profile.refused_precisions[precision]}")

    if options.encoder.runtime == "torch":  # known now: refused before the weights are loaded
        refuse_on_torch(Precision(options.encoder.precision).name)
    encoder = SentenceEncoder(model_dir, max_tokens=options.max_tokens or profile.window_tokens,
                              options=options.encoder, adapter=adapter,
                              prompts=profile.prompts, weights_sha256=digest,
                              adapter_sha256=matcher[1] if adapter and matcher else None)
    if encoder.runtime == "torch":  # auto without a graph, or onnx that could not export one
        try:
            refuse_on_torch(encoder.precision.name)
        except ConfigError as exc:  # the setting asked for ONNX (or auto): what is missing is the graph
            raise ConfigError(f"{exc}; there is no {encoder.precision.name} ONNX graph for it in the ONNX "
                              f"directory to run instead: export one (newstag export-onnx --model {model_dir} "
                              f"--precision {encoder.precision.name})") from None
    # The version names what made the scores: base weights, and the adapter merged into them.
    model_version = digest[:12] + (f"+{matcher[1][:8]}" if adapter and matcher else "")
    backend = EmbeddingBackend(encoder, name, calibration_for(model_version),
                               label_template=profile.label_template or TEMPLATE,
                               article_template=profile.article_template,
                               article_min_sentences=profile.article_min_sentences,
                               own_language_templates=profile.own_language_templates)
    backend.model_version = model_version
    how = f"{encoder.precision.name}-{encoder.runtime}-{_kernels(encoder)}-{encoder.max_tokens}"
    backend.keep_phrasings_in(open_store(store_dir(options.label_cache), model_version, how, encoder.dim))
    backend.languages = model_languages(model_dir)
    backend.sentence_rules = profile.sentence_rules
    if options.genre_check:
        backend.genre_check = _with_bare_news(genre_check_for(backend.model_version, encoder.dim), backend)
    return backend


def _with_bare_news(check: GenreCheck | None, backend: EmbeddingBackend) -> GenreCheck | None:
    """The genre check with its cut-off for texts that say only "news", where one was measured
    for these weights (genre.BARE_NEWS_COSINE): the word embedded as any text is."""
    cutoff = BARE_NEWS_COSINE.get(backend.model_version)
    if check is None or cutoff is None:
        return check
    [vectors] = backend.encoder.encode_documents([backend.prepare(BARE_NEWS)])
    return replace(check, bare_news=(document_vector(vectors.windows), cutoff))


def single_threaded_blas() -> None:
    """numpy's BLAS on one thread: its matrices here are tiny (labels x 384), and its threads
    fought the model's for the cores; the scoring matmuls took 33-42 ms a request on 2 busy
    cores instead of under 1 ms (docs/benchmarks.md, "Speed II")."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def profile_matcher(matcher: tuple[Path, str], weights_sha256: str) -> Adapter:
    """A shipped matcher adapter (the default model's, or a model profile's), checksum-verified,
    refused with one clear line when it was trained on other weights."""
    directory, expected = matcher
    adapter = read_adapter(directory, expected)
    if adapter.base_sha256 != weights_sha256:
        raise ModelLoadError(f"the matcher adapter in {directory} was trained on other base weights")
    return adapter


def _kernels(encoder: SentenceEncoder) -> str:
    """What on this CPU, besides the weights and the precision, makes the label vectors: the
    file named only the NEWSTAG_ONNX_INT8_RANGE setting, so with ``auto`` a shared directory
    (a volume several machines mount) gave a 7-bit graph a full-range graph's vectors."""
    if encoder.precision.name == "bf16":
        return f"bf16{bf16_units()}"
    if encoder.precision.name == "int8":
        return encoder.int8_weights_range or f"torch{int8_kernels()}"
    return "any"
