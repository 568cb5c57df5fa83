"""The editor's page at ``/``: plain HTML, CSS and four scripts (editor-api.js,
editor-article.js, editor-models.js, editor.js), all served from here.

Users run air-gapped, so nothing is loaded from elsewhere; the Content-Security-Policy
makes the browser refuse anything that is not from this service.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template

bp = Blueprint("editor", __name__, static_folder="static", static_url_path="/static/editor",
               template_folder="templates")

# No inline script or style, nothing from another origin, no framing.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@bp.get("/")
def page() -> Response:
    settings = current_app.config["NEWSTAG_SETTINGS"]
    html = render_template("editor.html", keys_required=bool(settings.api_key_list))
    return Response(html, mimetype="text/html", headers={
        "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})
