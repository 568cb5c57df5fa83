"""newstag: self-hosted topic tagging for news articles.

The tagging engine lives in :mod:`service.engine` and never imports Flask, so the CLI,
batch jobs and training evaluation can use it without the web layer. The web layer is
built by :func:`create_app`; Flask is imported only there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .interrupts import quiet_ctrl_c_while_starting

if TYPE_CHECKING:
    from flask import Flask

quiet_ctrl_c_while_starting()  # python -m service.X: X imports torch for seconds, where Ctrl-C was a traceback

__version__ = "0.1.0"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the HTTP app: defaults, then ``NEWSTAG_*`` environment variables, then ``config``.

    ``config`` may hold Settings fields in lower case (``{"max_documents": 8}``), a ready
    ``"TAGGER"`` to skip loading (tests), and ``"LOAD_IN_BACKGROUND": False`` to load the
    model before returning.
    """
    from flask import Flask

    from .config import Settings
    from .http import access_log, api, editor, feedback, health, openapi, security_headers
    from .http.metrics import Metrics
    from .http.problems import register_error_handlers
    from .http.runtime import TaggerRuntime

    config = dict(config or {})
    tagger = config.pop("TAGGER", None)
    background = config.pop("LOAD_IN_BACKGROUND", True)
    settings = Settings.from_env(**config)

    app = Flask(__name__)
    app.config.from_mapping(NEWSTAG_SETTINGS=settings, MAX_CONTENT_LENGTH=settings.max_body_bytes)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["newstag.metrics"] = Metrics()
    runtime = TaggerRuntime(settings, tagger)
    app.extensions["newstag.runtime"] = runtime

    register_error_handlers(app)
    security_headers.init_app(app)
    access_log.init_app(app)
    feedback.init_app(app, settings)
    for blueprint in (api.bp, feedback.bp, editor.bp, health.bp, openapi.bp):
        app.register_blueprint(blueprint)

    if background:
        runtime.start_loading()  # /healthz and /readyz answer while the model loads
    else:
        runtime.load()
    return app
