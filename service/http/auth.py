"""Optional API keys for /v1: ``Authorization: Bearer <key>``, compared in constant time."""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, request

from .problems import Forbidden, Unauthorized


def _matches_any(given: str, keys: tuple[str, ...]) -> bool:
    # Compare against every key, so timing says nothing about which one came close.
    found = False
    for key in keys:
        found |= hmac.compare_digest(given.encode(), key.encode())
    return found


def _bearer() -> str:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise Unauthorized("send 'Authorization: Bearer <key>'", headers={"WWW-Authenticate": "Bearer"})
    return given.strip()


def protect(blueprint: Blueprint) -> None:
    @blueprint.before_request
    def _require_key() -> None:
        settings = current_app.config["NEWSTAG_SETTINGS"]
        if not settings.api_key_list:
            return
        # An admin key may do everything an API key may.
        if not _matches_any(_bearer(), settings.api_key_list + settings.admin_key_list):
            raise Forbidden("the API key is not valid")


def require_admin() -> None:
    """Admin endpoints need one of NEWSTAG_ADMIN_KEYS, and are off when none is set."""
    keys = current_app.config["NEWSTAG_SETTINGS"].admin_key_list
    given = _bearer()  # no credentials at all is 401, as the OpenAPI security scheme says
    if not keys:
        raise Forbidden("admin endpoints are disabled: set NEWSTAG_ADMIN_KEYS")
    if not _matches_any(given, keys):
        raise Forbidden("the admin key is not valid")
