"""API keys, and admission when the worker is busy."""

from __future__ import annotations

import threading

import pytest

from service import create_app


@pytest.fixture()
def keyed(tagger):
    return create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "api_keys": "k-one, k-two"}).test_client()


@pytest.mark.parametrize("method, path", [
    ("post", "/v1/classify"), ("get", "/v1/taxonomies"), ("get", "/v1/taxonomies/news"), ("get", "/v1/models")])
def test_v1_needs_a_key_when_keys_are_set(keyed, method, path):
    missing = getattr(keyed, method)(path, json={"text": "x"})
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    assert missing.content_type == "application/problem+json"
    wrong = getattr(keyed, method)(path, json={"text": "x"}, headers={"Authorization": "Bearer k-three"})
    assert wrong.status_code == 403
    basic = getattr(keyed, method)(path, json={"text": "x"}, headers={"Authorization": "Basic k-one"})
    assert basic.status_code == 401
    for key in ("k-one", "k-two"):
        ok = getattr(keyed, method)(path, json={"text": "Rain today."}, headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200


def test_health_ready_metrics_and_docs_stay_open(keyed):
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
        assert keyed.get(path).status_code == 200, path


def test_keys_never_reach_the_log(keyed, caplog):
    import logging

    logger = logging.getLogger("newstag.access")
    logger.addHandler(caplog.handler)
    try:
        keyed.get("/v1/models", headers={"Authorization": "Bearer k-one"})
        keyed.get("/v1/models", headers={"Authorization": "Bearer secret-guess"})
    finally:
        logger.removeHandler(caplog.handler)
    assert "k-one" not in caplog.text and "secret-guess" not in caplog.text and caplog.records


def test_a_full_queue_answers_503_with_retry_after(tagger):
    app = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "max_queue": 1, "request_timeout": 5})
    runtime = app.extensions["newstag.runtime"]
    client = app.test_client()
    release = threading.Event()
    holding = threading.Event()

    def hold_the_model():
        runtime.run(lambda: (holding.set(), release.wait(10)))

    holder = threading.Thread(target=hold_the_model)
    holder.start()
    assert holding.wait(5)
    waiter_result = {}
    waiter = threading.Thread(target=lambda: waiter_result.setdefault(
        "status", app.test_client().post("/v1/classify", json={"text": "Waits its turn."}).status_code))
    waiter.start()
    # The waiter takes the only queue place; the next request is turned away at once.
    for _ in range(100):
        if runtime._waiting == 1:
            break
        threading.Event().wait(0.01)
    rejected = client.post("/v1/classify", json={"text": "One too many."})
    assert rejected.status_code == 503 and rejected.headers["Retry-After"] == "1"
    assert rejected.json["type"].endswith("#overloaded")
    release.set()
    holder.join(5)
    waiter.join(10)
    assert waiter_result["status"] == 200


def test_waiting_too_long_answers_503(tagger):
    app = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "request_timeout": 0.2})
    runtime = app.extensions["newstag.runtime"]
    release, holding = threading.Event(), threading.Event()
    holder = threading.Thread(target=lambda: runtime.run(lambda: (holding.set(), release.wait(10))))
    holder.start()
    assert holding.wait(5)
    try:
        response = app.test_client().post("/v1/classify", json={"text": "Too slow."})
        assert response.status_code == 503 and "busy for 0.2 s" in response.json["detail"]
    finally:
        release.set()
        holder.join(5)
