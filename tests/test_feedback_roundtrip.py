"""Round trip on shipped seed data: corrections, then export, then training.finetune on the
export, then the new model served (after a reload) and answering /v1/classify."""

from __future__ import annotations

import hashlib
import json

from service import create_app
from tests.conftest import TRAIN_SMALL
from training.finetune import main as finetune

ADMIN = {"Authorization": "Bearer admin-key"}


def test_corrections_become_a_served_model(tagger, tmp_path):
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    app = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "models_dir": models_dir,
                      "admin_keys": "admin-key", "database_url": f"sqlite:///{tmp_path}/feedback.db"})
    client = app.test_client()
    rows = [json.loads(line) for line in TRAIN_SMALL.read_text(encoding="utf-8").splitlines() if line.strip()]
    labels = sorted({label for row in rows for label in row["labels"]})

    # 1. An editor tags each seed text zero-shot and sends the correct labels as feedback;
    #    the first text is corrected twice, and only the second correction must count.
    wrong = next(label for label in labels if label not in rows[0]["labels"])
    assert client.post("/v1/feedback", json={"text": rows[0]["text"], "labels": [wrong],
                                             "taxonomy": None}).status_code == 201
    for row in rows:
        answer = client.post("/v1/classify", json={"text": row["text"], "labels": labels}).json
        body = {"text": row["text"], "labels": row["labels"], "taxonomy": None, "model": answer["model"]["name"],
                "model_version": answer["model"]["version"],
                "predicted": [topic["label"] for topic in answer["topics"]]}
        assert client.post("/v1/feedback", json=body).status_code == 201
    stats = client.get("/v1/feedback/stats").json
    assert stats["corrections"] == len(rows) and stats["submissions"] == len(rows) + 1
    assert stats["reviewed"] == len(rows)

    # 2. The export is the corrected data set, in the schema finetune reads, with the model each
    #    correction was of (finetune reads past it); ?model= keeps that model's corrections.
    served = client.get("/v1/models").json["models"][0]
    export = client.get("/v1/feedback/export?format=jsonl")
    assert export.status_code == 200
    assert client.get(f"/v1/feedback/export?model={served['name']}").data == export.data
    exported = [json.loads(line) for line in export.get_data(as_text=True).splitlines()]
    assert sorted(map(json.dumps, exported)) == sorted(
        json.dumps({"text": r["text"], "labels": r["labels"], "taxonomy": None, "model": served["name"],
                    "model_version": served["version"]}) for r in rows)
    data = tmp_path / "feedback.jsonl"
    data.write_bytes(export.data)

    # 3. Fine-tune on it (head mode: the encoder stays frozen, the linear head learns).
    output = models_dir / "from-feedback"
    assert finetune(["--train", str(data), "--output", str(output), "--mode", "head", "--epochs", "30",
                     "--seed", "7"]) == 0
    manifest = json.loads((output / "newstag.json").read_text())
    assert manifest["training_data"]["sha256"] == hashlib.sha256(export.data).hexdigest()
    assert manifest["training_data"]["rows"] == len(rows)

    # 4. After a reload the new model is served by name, with the labels it learned.
    assert client.post("/v1/classify", json={"text": "x", "model": "from-feedback"}).status_code == 404
    reloaded = client.post("/v1/models/reload", headers=ADMIN)
    assert reloaded.status_code == 200 and reloaded.json["errors"] == {}
    listed = {m["name"]: m for m in reloaded.json["models"]}
    assert listed["from-feedback"]["labels"] == labels and listed["from-feedback"]["kind"] == "classifier"
    text = "The goalkeeper saved two penalties and the team lifted the trophy in front of their fans."
    answer = client.post("/v1/classify", json={"text": text, "model": "from-feedback"}).json
    assert answer["model"]["name"] == "from-feedback"
    assert answer["topics"][0]["label"] == "sport"
