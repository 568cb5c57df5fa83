"""API keys, and admission when the worker is busy."""

from __future__ import annotations

import threading

import pytest

from service import create_app
from service.config import Settings
from service.engine import Tagger


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


@pytest.mark.parametrize("batching", [True, False])
def test_a_full_queue_answers_503_with_retry_after(tagger, batching):
    app = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "max_queue": 2, "request_timeout": 5,
                      "batching": batching})
    runtime = app.extensions["newstag.runtime"]
    client = app.test_client()
    release = threading.Event()
    holders = [threading.Thread(target=lambda: runtime.run(lambda _deadline: release.wait(10))) for _ in range(2)]
    for holder in holders:
        holder.start()
    for _ in range(500):  # both places taken
        if runtime.admission.waiting == 2:
            break
        threading.Event().wait(0.01)
    try:
        rejected = client.post("/v1/classify", json={"text": "One too many."})
        assert rejected.status_code == 503 and rejected.headers["Retry-After"] == "1"
        assert rejected.json["type"].endswith("#overloaded")
    finally:
        release.set()
        for holder in holders:
            holder.join(5)
    assert client.post("/v1/classify", json={"text": "Room again."}).status_code == 200


def test_waiting_too_long_for_the_one_at_a_time_model_answers_503(tagger):
    app = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "request_timeout": 0.2, "batching": False})
    runtime = app.extensions["newstag.runtime"]
    release, holding = threading.Event(), threading.Event()
    holder = threading.Thread(target=lambda: runtime.run(lambda _deadline: (holding.set(), release.wait(10))))
    holder.start()
    assert holding.wait(5)
    try:
        response = app.test_client().post("/v1/classify", json={"text": "Too slow."})
        assert response.status_code == 503 and "busy for 0.2 s" in response.json["detail"]
    finally:
        release.set()
        holder.join(5)


def test_waiting_too_long_for_the_batching_thread_answers_503(tiny_model_dir):
    tagger = Tagger.load(Settings.from_env({}, model=tiny_model_dir, document_cache=0).engine_options())
    batcher = tagger.backend.encoder.batcher
    assert batcher is not None  # batching is on by default
    run_batch, release, busy = batcher.run_batch, threading.Event(), threading.Event()

    def slow_model(ids):
        busy.set()
        release.wait(10)
        return run_batch(ids)

    app = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "request_timeout": 0.3})
    batcher.run_batch = slow_model  # after the warm-up inference at start
    first = threading.Thread(target=lambda: app.test_client().post("/v1/classify", json={"text": "First."}))
    first.start()
    assert busy.wait(5)
    try:
        response = app.test_client().post("/v1/classify", json={"text": "Too slow."})
        assert response.status_code == 503 and response.headers["Retry-After"] == "2"
        assert "busy for 0.3 s" in response.json["detail"]
    finally:
        release.set()
        first.join(10)
