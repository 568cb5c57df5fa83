"""Start-up checks that run once, in gunicorn's master, before any worker forks.

Workers load their model in the background and report a failure on /readyz, which keeps
a running service observable; but a server that cannot work at all (a missing, truncated
or altered model, a broken taxonomy, a bad setting) should not start. These checks read
files only (no torch), so they take a second, not a model load.
"""

from __future__ import annotations

from pathlib import Path

from .config import Settings, unknown_variable_warnings
from .engine.model_files import (
    DEFAULT_MODEL_SHA256,
    MULTILINGUAL_SHA256,
    default_model_dir,
    require_local_model_dir,
    verify_matcher,
    verify_weights,
)
from .engine.nli_config import check_nli_config
from .engine.onnx_cache import check_graphs_at_start, default_onnx_dir
from .engine.routing import multilingual_dir
from .engine.taxonomy import TaxonomyFileError, TaxonomyRegistry, UnknownTaxonomyError
from .errors import ConfigError, ModelLoadError, NewstagError
from .feedback import FeedbackStore


def check_startup(settings: Settings) -> TaxonomyRegistry:
    """Raise a NewstagError with one clear line when the server could not tag anything; the
    taxonomies read (which the server's workers then serve: gunicorn_config.on_starting)."""
    # Each refusal names the variable behind it, as the settings' own do.
    try:
        taxonomies = TaxonomyRegistry.load(settings.taxonomies_dir)
    except TaxonomyFileError as exc:
        raise TaxonomyFileError(f"NEWSTAG_TAXONOMIES_DIR: {exc}") from None
    try:
        taxonomies.get(settings.taxonomy)
    except UnknownTaxonomyError as exc:
        raise ConfigError(f"NEWSTAG_TAXONOMY={settings.taxonomy!r}: {exc}") from None
    if settings.engine == "nli":
        assert settings.nli_model is not None  # Settings.validated() guarantees it
        check_nli_config(_model_dir("NEWSTAG_NLI_MODEL", settings.nli_model))
    elif settings.model is None:
        verify_weights(default_model_dir(), DEFAULT_MODEL_SHA256)
        if settings.matcher:
            verify_matcher()
    else:
        _model_dir("NEWSTAG_MODEL", settings.model)
    if settings.engine == "embedding":
        multilingual = multilingual_dir(settings.multilingual_model)  # a path that is not there fails here
        if multilingual is not None:
            _model_dir("NEWSTAG_MULTILINGUAL_MODEL", multilingual)
        if settings.runtime != "torch":
            # The pinned weights' graphs (the default model's, EmbeddingGemma's): others are checked as they load.
            weights = ([DEFAULT_MODEL_SHA256] if settings.model is None else []) + (
                [MULTILINGUAL_SHA256] if multilingual is not None else [])
            onnx_dir = settings.onnx_dir or default_onnx_dir()
            try:
                check_graphs_at_start(onnx_dir, weights, may_replace=settings.runtime == "onnx")
            except OSError as exc:
                raise ConfigError(f"NEWSTAG_ONNX_DIR={str(onnx_dir)!r}: cannot be read "
                                  f"({exc.strerror or exc})") from None
    return taxonomies


def _model_dir(variable: str, path: Path) -> Path:
    """require_local_model_dir, its refusal naming the setting behind it."""
    try:
        return require_local_model_dir(path)
    except ModelLoadError as exc:
        raise ModelLoadError(f"{variable}: {exc}") from None


def check_serving(settings: Settings) -> TaxonomyRegistry:
    """What only the server reads: the fine-tuned models' directory and the feedback database."""
    taxonomies = check_startup(settings)
    if settings.require_api_keys and not settings.api_key_list:
        raise ConfigError("NEWSTAG_REQUIRE_API_KEYS is on and NEWSTAG_API_KEYS names no key (unset or empty): "
                          "/v1 would be open to anyone who can reach the server")
    if settings.models_dir is not None:
        try:
            if not settings.models_dir.is_dir():
                raise ConfigError(f"NEWSTAG_MODELS_DIR={str(settings.models_dir)!r}: no such directory")
            next(settings.models_dir.iterdir(), None)  # a directory it may not list served no fine-tuned model
        except OSError as exc:
            raise ConfigError(f"NEWSTAG_MODELS_DIR={str(settings.models_dir)!r}: cannot be read "
                              f"({exc.strerror or exc})") from None
    try:
        store = FeedbackStore(settings.database_url)
    except ConfigError:
        raise ConfigError("NEWSTAG_DATABASE_URL is not a database URL (for example "
                          "sqlite:///data/feedback.db or postgresql://user:password@host/db)") from None
    store.check_driver()  # a driver not installed (postgresql+psycopg2) fails here, not on the first correction
    return taxonomies


def _loopback(bind: str) -> bool:
    host = bind.rsplit(":", 1)[0].strip("[]") if ":" in bind else bind
    return bind.startswith("unix:") or host in ("localhost", "::1") or host.startswith("127.")


def serving_warnings(settings: Settings, binds: list[str]) -> list[str]:
    """What will not stop the server but an operator must hear at start, one line each."""
    warnings = unknown_variable_warnings()
    if not settings.api_key_list and not all(_loopback(b) for b in binds):
        warnings.append(f"NEWSTAG_API_KEYS is not set: /v1 (tagging, corrections and their export with article "
                        f"texts) is open to anyone who can reach {', '.join(binds)}")
    problem = FeedbackStore(settings.database_url).write_problem()
    if problem:
        warnings.append(f"{problem}; until then corrections answer 503")
    return warnings


def check_model_dir(path: Path, models_dir: Path | None = None) -> None:
    """The directory ``--model`` names exists and can be read, or one line says why (Path.is_dir
    lets a PermissionError on the path itself escape as a traceback). A served model's bare name
    (``--model desk-topics``) is not looked up in NEWSTAG_MODELS_DIR, but the line points there."""
    try:
        if path.is_dir():
            return
        problem = "not a directory" if path.exists() else "no such directory"
        if problem == "no such directory" and models_dir is not None and len(path.parts) == 1 \
                and (models_dir / path).is_dir():
            problem += f"; the model of that name in NEWSTAG_MODELS_DIR is --model {models_dir / path}"
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror or exc})"
    raise NewstagError(f"--model {path}: {problem}")
