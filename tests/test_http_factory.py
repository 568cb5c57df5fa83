"""create_app wiring: configuration layers, readiness, loading errors."""

from __future__ import annotations

import pytest

from service import create_app
from service.engine import TaxonomyFileError


def test_configuration_layers_defaults_environment_then_override(monkeypatch, tagger):
    monkeypatch.setenv("NEWSTAG_MAX_DOCUMENTS", "7")
    monkeypatch.setenv("NEWSTAG_MAX_LABELS", "9")
    app = create_app({"TAGGER": tagger, "max_labels": 3, "LOAD_IN_BACKGROUND": False})
    settings = app.config["NEWSTAG_SETTINGS"]
    assert settings.max_documents == 7  # from the environment
    assert settings.max_labels == 3  # the override wins
    assert settings.max_body_bytes == 4_000_000 and app.config["MAX_CONTENT_LENGTH"] == 4_000_000


def test_not_ready_until_loaded_and_warmed_up(monkeypatch, tagger):
    monkeypatch.setattr("service.http.runtime.TaggerRuntime.start_loading", lambda self: None)
    app = create_app({"TAGGER": tagger, "request_timeout": 0.2})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.content_type == "application/problem+json"
    busy = client.post("/v1/classify", json={"text": "Some news."})
    assert busy.status_code == 503 and busy.json["type"].endswith("#not-ready")
    # An empty model list says it is loading: it read as "no model at all".
    assert client.get("/v1/models").json == {"models": [], "errors": {}, "loading": True}
    app.extensions["newstag.runtime"].load()  # what the background thread does
    assert client.get("/readyz").status_code == 200
    assert client.post("/v1/classify", json={"text": "Some news."}).status_code == 200
    listing = client.get("/v1/models").json
    assert listing["loading"] is False and listing["models"]


def test_requests_waiting_for_the_model_to_load_count_against_the_queue(monkeypatch, tagger):
    """Waiting for the model happened before the queue limit: a flood at start held every
    thread (40 requests, 24 threads), and /healthz went unanswered for 25 s."""
    import threading
    import time

    monkeypatch.setattr("service.http.runtime.TaggerRuntime.start_loading", lambda self: None)
    app = create_app({"TAGGER": tagger, "request_timeout": 5, "max_queue": 1})
    client = app.test_client()
    answers: list[int] = []
    first = threading.Thread(target=lambda: answers.append(
        app.test_client().post("/v1/classify", json={"text": "Some news."}).status_code))
    first.start()
    deadline = time.monotonic() + 5
    while app.extensions["newstag.runtime"].admission.waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    second = client.post("/v1/classify", json={"text": "More news."})
    assert second.status_code == 503 and second.json["detail"].startswith("1 request is already waiting")
    assert time.monotonic() - started < 1  # refused at once, not after waiting for the model
    app.extensions["newstag.runtime"].load()
    first.join(30)
    assert answers == [200]  # the one admitted is answered once the model is ready


def test_background_loading_reaches_ready(tiny_model_dir):
    app = create_app({"model": tiny_model_dir})
    runtime = app.extensions["newstag.runtime"]
    assert runtime.wait_ready(timeout=60)
    assert app.test_client().get("/readyz").json == {"status": "ready", "model": tiny_model_dir.name}


def test_a_model_that_fails_to_load_keeps_readyz_at_503_with_the_reason(tmp_path):
    app = create_app({"model": tmp_path / "missing", "LOAD_IN_BACKGROUND": False})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert "model directory does not exist" in response.json["detail"]
    # The listing says so too, not "loading" for ever (outside gunicorn, which stops then).
    listing = app.test_client().get("/v1/models").json
    assert listing["loading"] is False and listing["models"] == []
    assert "model directory does not exist" in listing["errors"]["(default model)"]


def test_a_failed_load_is_told_once_to_whoever_listens_before_or_after_it(tmp_path):
    """gunicorn's worker listens after the load may already have failed (the load runs in a
    thread from the app's creation): it is told at once then, and of each failure once."""
    app = create_app({"model": tmp_path / "missing", "LOAD_IN_BACKGROUND": False})
    runtime = app.extensions["newstag.runtime"]
    told: list[str] = []
    runtime.when_load_fails(told.append)
    assert len(told) == 1 and "model directory does not exist" in told[0]
    runtime.load()  # fails again: the listener hears of it again, since it is a new failure
    assert len(told) == 2


def test_a_broken_taxonomy_stops_start_up(tmp_path, tagger):
    (tmp_path / "bad.yaml").write_text("name: bad\ntopics: nope\n")
    with pytest.raises(TaxonomyFileError, match="bad.yaml"):
        create_app({"taxonomies_dir": tmp_path, "LOAD_IN_BACKGROUND": False})


def test_a_request_during_loading_waits_for_the_model(tiny_model_dir):
    app = create_app({"model": tiny_model_dir})  # loads in the background
    response = app.test_client().post("/v1/classify", json={"text": "Early request.", "labels": ["a", "b"]})
    assert response.status_code == 200
    assert response.json["model"]["name"] == tiny_model_dir.name
