"""Fine-tuned models served through the API: listing, choosing, reloading, tampering."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from service import create_app

ADMIN = {"Authorization": "Bearer admin-key"}


@pytest.fixture()
def served(tagger, models_dir):
    app = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "models_dir": models_dir,
                      "admin_keys": "admin-key"})
    return app.test_client()


def test_a_trained_model_is_listed_with_its_labels_and_metrics(served, trained_model_dir):
    models = {m["name"]: m for m in served.get("/v1/models").json["models"]}
    assert set(models) == {"all-MiniLM-L6-v2", "desk-topics"}
    desk = models["desk-topics"]
    assert desk["kind"] == "classifier" and desk["default"] is False
    assert desk["labels"] == ["climate", "economy", "health", "sport"]
    metrics = json.loads((trained_model_dir / "metrics.json").read_text())
    assert desk["metrics"]["micro_f1"] == pytest.approx(metrics["micro_f1"])
    # What the figures rest on: a macro-F1 of 1.0 over 8 articles and 5 of 7 labels read as a perfect model.
    assert desk["metrics"]["examples"] == metrics["examples"] == 4
    assert desk["metrics"]["labels_with_examples"] == metrics["labels_with_examples"]
    assert isinstance(desk["metrics"]["examples"], int)


def test_classify_with_the_trained_model_returns_its_labels_with_evidence(served):
    text = "The striker scored twice in the cup final. Fans celebrated in the stadium until midnight."
    body = served.post("/v1/classify", json={"text": text, "model": "desk-topics"}).json
    assert body["model"]["name"] == "desk-topics" and body["taxonomy"] is None
    assert body["topics"][0]["label"] == "sport"
    assert body["topics"][0]["evidence"]  # the loop below passed when no topic had any (session 40)
    for topic in body["topics"]:
        for ev in topic["evidence"]:
            assert text[ev["start"]:ev["end"]] == ev["text"]
            alone = served.post("/v1/classify", json={"text": ev["text"], "model": "desk-topics"}).json
            assert topic["label"] in {t["label"] for t in alone["topics"]}
    picked = served.post("/v1/classify", json={"text": text, "model": "desk-topics", "labels": ["health"],
                                               "threshold": 0}).json
    assert [t["label"] for t in picked["topics"]] == ["health"]
    foreign = served.post("/v1/classify", json={"text": text, "model": "desk-topics", "labels": ["crime"]})
    assert foreign.status_code == 422 and "fixed labels" in foreign.json["detail"]
    with_taxonomy = served.post("/v1/classify", json={"text": text, "model": "desk-topics", "taxonomy": "news"})
    assert with_taxonomy.status_code == 422 and with_taxonomy.json["errors"][0]["path"] == "/taxonomy"


def test_a_trained_models_tags_and_corrections_are_counted_under_its_own_labels(tagger, models_dir, tmp_path):
    served = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "models_dir": models_dir,
                         "database_url": f"sqlite:///{tmp_path}/feedback.db"}).test_client()
    text = "The striker scored twice in the cup final. Fans celebrated in the stadium until midnight."
    body = served.post("/v1/classify", json={"text": text, "model": "desk-topics"}).json
    assert served.post("/v1/feedback", json={"text": text, "labels": ["sport", "health"], "taxonomy": None,
                                             "model": "desk-topics", "predicted": ["sport", "economy"]}
                       ).status_code == 201
    typo = served.post("/v1/feedback", json={"text": text, "labels": ["sports"], "taxonomy": None,
                                             "model": "desk-topics", "predicted": ["sport", "weather"]})
    assert typo.status_code == 422  # a typo would become a new class when the model is retrained
    # (what the model predicted is no typo: an older version of it may have had that label)
    assert {e["path"] for e in typo.json["errors"]} == {"/labels/0"}
    metrics = served.get("/metrics").get_data(as_text=True)
    for topic in body["topics"]:
        assert (f'newstag_label_articles_total{{label="{topic["label"]}",model="desk-topics",'
                f'taxonomy="(model labels)"}} 1.0') in metrics
    listed = {m["name"]: m for m in served.get("/v1/models").json["models"]}
    own = set(listed["desk-topics"]["labels"]) - {t["label"] for t in body["topics"]}
    assert own  # its labels no article got yet have their series, at 0
    for label in own:
        assert (f'newstag_label_articles_total{{label="{label}",model="desk-topics",'
                f'taxonomy="(model labels)"}} 0.0') in metrics
    assert ('newstag_feedback_labels_added_total{label="health",model="desk-topics",taxonomy="(model labels)"} 1.0'
            in metrics)
    assert ('newstag_feedback_labels_removed_total{label="economy",model="desk-topics",'
            'taxonomy="(model labels)"} 1.0') in metrics


def test_reload_needs_an_admin_key(served, tagger, models_dir):
    assert served.post("/v1/models/reload").status_code == 401
    assert served.post("/v1/models/reload", headers={"Authorization": "Bearer nope"}).status_code == 403
    no_admin = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "models_dir": models_dir}).test_client()
    disabled = no_admin.post("/v1/models/reload", headers=ADMIN)
    assert disabled.status_code == 403 and "NEWSTAG_ADMIN_KEYS" in disabled.json["detail"]
    # No credentials at all is 401 there too, as the OpenAPI security scheme says (it was 403).
    anonymous = no_admin.post("/v1/models/reload")
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"] == "Bearer"


def test_reload_adds_and_removes_models(served, models_dir, trained_model_dir):
    shutil.copytree(trained_model_dir, models_dir / "second")
    assert "second" not in {m["name"] for m in served.get("/v1/models").json["models"]}
    body = served.post("/v1/models/reload", headers=ADMIN).json
    assert {m["name"] for m in body["models"]} == {"all-MiniLM-L6-v2", "desk-topics", "second"}
    assert served.post("/v1/classify", json={"text": "Rates rose.", "model": "second"}).status_code == 200
    shutil.rmtree(models_dir / "second")
    body = served.post("/v1/models/reload", headers=ADMIN).json
    assert {m["name"] for m in body["models"]} == {"all-MiniLM-L6-v2", "desk-topics"}
    assert served.post("/v1/classify", json={"text": "Rates rose.", "model": "second"}).status_code == 404


def test_a_tampered_model_is_rejected_and_the_loaded_one_keeps_serving(served, models_dir):
    head = models_dir / "desk-topics" / "head.safetensors"
    head.write_bytes(head.read_bytes()[:-8] + b"tampered")
    (models_dir / "broken").mkdir()
    (models_dir / "broken" / "newstag.json").write_text("{not json")
    body = served.post("/v1/models/reload", headers=ADMIN).json
    assert "fails its SHA-256 check" in body["errors"]["desk-topics"]
    assert "head.safetensors" in body["errors"]["desk-topics"]
    assert "cannot read" in body["errors"]["broken"]
    assert "desk-topics" in {m["name"] for m in body["models"]}  # the loaded version still serves
    assert served.post("/v1/classify", json={"text": "Rates rose.", "model": "desk-topics"}).status_code == 200


def test_a_tampered_model_at_start_is_not_loaded(tagger, models_dir):
    (models_dir / "desk-topics" / "head.safetensors").write_bytes(b"x")
    shutil.copytree(models_dir / "desk-topics", models_dir / "other-base")
    manifest_path = models_dir / "other-base" / "newstag.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["encoder"]["sha256"] = "0" * 64  # a head trained on some other base model
    manifest_path.write_text(json.dumps(manifest))
    client = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "models_dir": models_dir}).test_client()
    listing = client.get("/v1/models").json
    assert [m["name"] for m in listing["models"]] == ["all-MiniLM-L6-v2"]
    assert "fails its SHA-256 check" in listing["errors"]["desk-topics"]
    assert "base model newstag does not have" in listing["errors"]["other-base"]
    # It names the base it records, and what to do (a default model of other weights, after an upgrade).
    said = listing["errors"]["other-base"]
    assert "does not have ('all-MiniLM-L6-v2 (embedded)', SHA-256 000000000000...; only" in said
    assert said.endswith(": serve it with the newstag that trained it, or train it again with this one "
                         "(python -m training.finetune)")


def test_a_reload_in_one_worker_reaches_the_others(tagger, models_dir, trained_model_dir, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = {"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "models_dir": models_dir, "admin_keys": "admin-key",
              "run_dir": run_dir}
    worker_a, worker_b = create_app(dict(config)).test_client(), create_app(dict(config)).test_client()
    shutil.copytree(trained_model_dir, models_dir / "second")
    assert worker_a.post("/v1/models/reload", headers=ADMIN).status_code == 200
    assert worker_b.post("/v1/classify", json={"text": "Rates rose.", "model": "second"}).status_code == 200


def test_after_a_reload_every_endpoint_of_another_worker_sees_the_new_models(tagger, models_dir, trained_model_dir,
                                                                            tmp_path):
    """The other worker rescanned only on a classify call, in the one thread that noticed first:
    /v1/models and corrections naming the new model answered from the old set meanwhile."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = {"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "models_dir": models_dir, "admin_keys": "admin-key",
              "run_dir": run_dir, "database_url": f"sqlite:///{tmp_path}/fb.db"}
    worker_a, worker_b = create_app(dict(config)).test_client(), create_app(dict(config)).test_client()
    shutil.copytree(trained_model_dir, models_dir / "second")
    assert worker_a.post("/v1/models/reload", headers=ADMIN).status_code == 200
    listed = {m["name"]: m for m in worker_b.get("/v1/models").json["models"]}
    assert "second" in listed
    correction = {"text": "Rates rose.", "labels": listed["second"]["labels"][:1], "taxonomy": None}
    shutil.copytree(trained_model_dir, models_dir / "third")
    assert worker_b.post("/v1/models/reload", headers=ADMIN).status_code == 200
    assert worker_a.post("/v1/feedback", json={**correction, "model": "third"}).status_code == 201


def test_a_rescan_for_another_workers_reload_is_not_on_the_requests_clock(tagger, models_dir, trained_model_dir,
                                                                        tmp_path, monkeypatch):
    """The first classify after another worker's reload rescanned inside its own time limit: with
    models to load it ran out of time (413) though its own text was small."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = {"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "models_dir": models_dir, "admin_keys": "admin-key",
              "run_dir": run_dir, "request_timeout": 0.5}
    app_a, app_b = create_app(dict(config)), create_app(dict(config))
    trained = app_b.extensions["newstag.runtime"].trained
    real_scan = trained.scan

    def slow_scan(*args, **kwargs):
        time.sleep(1.0)  # loading models that take longer than the request's time limit
        return real_scan(*args, **kwargs)

    monkeypatch.setattr(trained, "scan", slow_scan)
    shutil.copytree(trained_model_dir, models_dir / "second")
    assert app_a.test_client().post("/v1/models/reload", headers=ADMIN).status_code == 200
    answer = app_b.test_client().post("/v1/classify", json={"text": "Rates rose.", "model": "second"})
    assert answer.status_code == 200, answer.json


def _with_labels_file(directory, **changes):
    """labels.json changed and its checksum in newstag.json with it: the contents are checked too."""
    from service.engine.model_files import sha256_of

    path = directory / "labels.json"
    labels = json.loads(path.read_text())
    path.write_text(json.dumps({**labels, **changes}))
    manifest = json.loads((directory / "newstag.json").read_text())
    manifest["sha256"]["labels.json"] = sha256_of(path)
    (directory / "newstag.json").write_text(json.dumps(manifest))


def test_labels_reordered_or_a_threshold_edited_after_training_is_refused(tagger, models_dir):
    """A head row is a label by position: reordering labels.json served an economy article as health."""
    path = models_dir / "desk-topics" / "labels.json"
    labels = json.loads(path.read_text())
    path.write_text(json.dumps({**labels, "labels": list(reversed(labels["labels"]))}))
    listing = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "models_dir": models_dir}
                         ).test_client().get("/v1/models").json
    assert [m["name"] for m in listing["models"]] == ["all-MiniLM-L6-v2"]
    assert "labels.json" in listing["errors"]["desk-topics"] and "SHA-256" in listing["errors"]["desk-topics"]


def test_a_malformed_model_directory_is_reported_and_the_others_serve(tagger, models_dir):
    # Checksums hold (labels.json has none), but its contents cannot make a model.
    for name, broken in (("text-threshold", {"thresholds": ["x", 0.5, 0.5, 0.5]}),
                         ("big-threshold", {"thresholds": [7, 0.5, 0.5, 0.5]}),
                         ("twice", {"labels": ["sport", "sport", "health", "economy"]})):
        shutil.copytree(models_dir / "desk-topics", models_dir / name)
        _with_labels_file(models_dir / name, **broken)
    shutil.copytree(models_dir / "desk-topics", models_dir / "bad-digests")
    manifest = json.loads((models_dir / "bad-digests" / "newstag.json").read_text())
    (models_dir / "bad-digests" / "newstag.json").write_text(json.dumps({**manifest, "sha256": "abc"}))
    client = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "models_dir": models_dir,
                         "admin_keys": "admin-key"}).test_client()
    assert client.get("/readyz").status_code == 200
    listing = client.get("/v1/models").json
    assert {m["name"] for m in listing["models"]} == {"all-MiniLM-L6-v2", "desk-topics"}
    assert "every threshold must be a number between 0 and 1" in listing["errors"]["text-threshold"]
    assert "every threshold must be a number between 0 and 1" in listing["errors"]["big-threshold"]
    assert "labels must be distinct" in listing["errors"]["twice"]
    assert "'sha256' must map file names" in listing["errors"]["bad-digests"]
    refused = client.post("/v1/classify", json={"text": "Rates rose.", "model": "twice"})
    assert refused.status_code == 404 and "did not load: " in refused.json["detail"]  # not only "no such model"
    assert "labels must be distinct" in refused.json["detail"]


def test_a_directory_that_fails_in_an_unforeseen_way_is_reported_not_fatal(served, models_dir, monkeypatch):
    from service.http import trained_models

    shutil.copytree(models_dir / "desk-topics", models_dir / "odd")
    real = trained_models.read_classifier_dir

    def read(path, search=()):
        if path.name == "odd":
            raise RuntimeError("a library's own error")
        return real(path, search)

    monkeypatch.setattr(trained_models, "read_classifier_dir", read)
    answer = served.post("/v1/models/reload", headers=ADMIN)
    assert answer.status_code == 200
    assert answer.json["errors"]["odd"] == "cannot be loaded: RuntimeError: a library's own error"
    assert served.post("/v1/classify", json={"text": "Rates rose.", "model": "desk-topics"}).status_code == 200


def test_a_reload_with_an_unreadable_models_directory_lists_the_error(served, models_dir, monkeypatch):
    """It answered 500 (PermissionError from iterdir, outside the scan's try), and a models
    directory missing for a moment dropped every fine-tuned model."""
    from pathlib import Path

    with monkeypatch.context() as patch:
        def iterdir(path):
            raise PermissionError(13, "Permission denied", str(path))

        patch.setattr(Path, "iterdir", iterdir)
        answer = served.post("/v1/models/reload", headers=ADMIN)
    assert answer.status_code == 200
    assert "PermissionError" in answer.json["errors"]["(models directory)"]
    assert "desk-topics" in {m["name"] for m in answer.json["models"]}
    assert served.post("/v1/classify", json={"text": "Rates rose.", "model": "desk-topics"}).status_code == 200


def test_metrics_that_are_not_finite_numbers_are_left_out_of_the_listing(tagger, models_dir):
    """NaN, Infinity and 1e999 in metrics.json reached clients as bare NaN/Infinity tokens,
    which strict JSON parsers refuse: the whole model listing broke."""
    path = models_dir / "desk-topics" / "metrics.json"
    metrics = json.loads(path.read_text())
    text = json.dumps({**metrics, "micro_f1": "<1>", "macro_f1": "<2>", "accuracy": "<3>", "subset_accuracy": 10**400})
    path.write_text(text.replace('"<1>"', "NaN").replace('"<2>"', "-Infinity").replace('"<3>"', "1e999"))
    client = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "models_dir": models_dir}).test_client()

    def strict(constant):
        raise ValueError(f"not JSON: {constant}")

    listing = json.loads(client.get("/v1/models").get_data(as_text=True), parse_constant=strict)
    desk = {m["name"]: m for m in listing["models"]}["desk-topics"]
    assert not {"micro_f1", "macro_f1", "accuracy", "subset_accuracy"} & set(desk["metrics"])  # 10**400: was a 500
    assert desk["metrics"]  # the finite ones are still there
