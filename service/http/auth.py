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


def protect(blueprint: Blueprint) -> None:
    @blueprint.before_request
    def _require_key() -> None:
        keys = current_app.config["NEWSTAG_SETTINGS"].api_key_list
        if not keys:
            return
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise Unauthorized("send 'Authorization: Bearer <key>'", headers={"WWW-Authenticate": "Bearer"})
        if not _matches_any(given.strip(), keys):
            raise Forbidden("the API key is not valid")
