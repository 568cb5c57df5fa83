"""Start-up checks that run once, in gunicorn's master, before any worker forks.

Workers load their model in the background and report a failure on /readyz, which keeps
a running service observable; but a server that cannot work at all (a missing, truncated
or altered model, a broken taxonomy, a bad setting) should not start. These checks read
files only (no torch), so they take a second, not a model load.
"""

from __future__ import annotations

from .config import Settings
from .engine.model_files import (
    DEFAULT_MODEL_SHA256,
    default_model_dir,
    require_local_model_dir,
    verify_matcher,
    verify_weights,
)
from .engine.taxonomy import TaxonomyRegistry


def check_startup(settings: Settings) -> None:
    """Raise a NewstagError with one clear line when the server could not tag anything."""
    TaxonomyRegistry.load(settings.taxonomies_dir, settings.taxonomy)
    if settings.engine == "nli":
        assert settings.nli_model is not None  # Settings.validated() guarantees it
        require_local_model_dir(settings.nli_model)
    elif settings.model is None:
        verify_weights(default_model_dir(), DEFAULT_MODEL_SHA256)
        if settings.matcher:
            verify_matcher()
    else:
        require_local_model_dir(settings.model)
