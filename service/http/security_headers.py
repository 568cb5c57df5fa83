"""Headers every response carries, so no page of the service can be framed or sniffed.

The editor's page sets its own strict Content-Security-Policy (editor.py); other HTML
(Swagger UI, the problem types) gets one that forbids framing only, since Swagger UI
starts from an inline script.
"""

from __future__ import annotations

from flask import Flask, Response

ALWAYS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
NO_FRAMING = "frame-ancestors 'none'"


def init_app(app: Flask) -> None:
    # "/v1//taxonomies" was answered with a redirect to a URL built from the Host header,
    # before the key check: no path is rewritten, an odd one is a 404 like any unknown path.
    app.url_map.merge_slashes = False

    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in ALWAYS.items():
            response.headers.setdefault(name, value)
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", NO_FRAMING)
        return response
