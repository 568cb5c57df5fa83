"""/v1/feedback over HTTP: 201 with the id, validation, export, stats, keys, 503 that stores nothing."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote, unquote

import jsonschema
import pytest

from service import create_app
from service.engine import ConfigError
from service.feedback import FeedbackStore, StoreUnavailable
from tests.conftest import unwritable_dir

SEED_LABELS = ["bilateral relations", "economy", "COP29", "demining"]


def make_app(tagger, tmp_path, **config):
    return create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False,
                       "database_url": f"sqlite:///{tmp_path}/data/feedback.db", **config})


@pytest.fixture()
def fb_app(tagger, tmp_path):
    return make_app(tagger, tmp_path)


@pytest.fixture()
def fb(fb_app):
    return fb_app.test_client()


def export_rows(client, **kwargs) -> list[dict]:
    response = client.get("/v1/feedback/export?format=jsonl", **kwargs)
    assert response.status_code == 200, response.data
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def test_a_correction_is_stored_and_answered_201_with_its_id(fb, fb_app, seed_text):
    body = {"text": seed_text, "labels": SEED_LABELS, "taxonomy": "news", "model": "all-MiniLM-L6-v2",
            "predicted": [*SEED_LABELS, "peace process"]}
    response = fb.post("/v1/feedback", json=body)
    assert response.status_code == 201 and response.content_type == "application/json"
    [row] = fb_app.extensions["newstag.feedback"].history(seed_text)
    assert response.json == {"id": row.id, "warnings": []}
    assert row.labels == tuple(SEED_LABELS) and row.predicted == (*SEED_LABELS, "peace process")


def test_the_same_text_twice_keeps_the_latest_labels_and_the_history(fb, fb_app, seed_text):
    first = fb.post("/v1/feedback", json={"text": seed_text, "labels": ["economy"], "taxonomy": "news"}).json["id"]
    fb.post("/v1/feedback", json={"text": "Rain all week.", "labels": ["weather"], "taxonomy": "news"})
    second = fb.post("/v1/feedback", json={"text": seed_text + "\n", "labels": [" demining"],
                                           "taxonomy": "news"}).json["id"]
    assert second > first
    untold = {"model": None, "model_version": None}  # no model named
    assert export_rows(fb) == [{"text": "Rain all week.", "labels": ["weather"], "taxonomy": "news", **untold},
                               {"text": seed_text + "\n", "labels": ["demining"], "taxonomy": "news", **untold}]
    history = fb_app.extensions["newstag.feedback"].history(seed_text)
    assert [r.id for r in history] == [first, second]


def test_a_bom_or_direction_mark_before_the_text_does_not_make_it_another_article(fb, fb_app, seed_text):
    """The same article sent with a byte order mark (a file read without utf-8-sig) or a right-to-left
    or left-to-right mark before it was counted as another article: the export held it once per mark,
    each with its own labels to train on, and the stats counted each as a correction."""
    for text, labels in [(seed_text, ["economy"]), ("\ufeff" + seed_text, ["demining"]),
                         ("\u200f" + seed_text, ["COP29"]), ("\u200e" + seed_text + "\u200f\n", ["politics"])]:
        assert fb.post("/v1/feedback", json={"text": text, "labels": labels, "taxonomy": "news"}).status_code == 201
    [row] = export_rows(fb)
    assert (row["text"], row["labels"]) == ("\u200e" + seed_text + "\u200f\n", ["politics"])  # the newest, as sent
    stats = fb.get("/v1/feedback/stats").json
    assert (stats["corrections"], stats["submissions"], stats["labels"]) == (1, 4, {"politics": 1})
    history = fb_app.extensions["newstag.feedback"].history("\ufeff" + seed_text)
    assert [r.labels for r in history] == [("economy",), ("demining",), ("COP29",), ("politics",)]


@pytest.mark.parametrize("body, path", [
    ({"labels": ["economy"], "taxonomy": "news"}, "/text"),
    ({"text": "Rates rose.", "taxonomy": "news"}, "/labels"),
    ({"text": "Rates rose.", "labels": ["economy"]}, "/taxonomy"),  # required, may be null
    ({"text": "Rates rose.", "labels": [], "taxonomy": None}, "/labels"),
    ({"text": "   ", "labels": ["economy"], "taxonomy": None}, "/text"),
    ({"text": 3, "labels": ["economy"], "taxonomy": None}, "/text"),
    ({"text": "Rates rose.", "labels": "economy", "taxonomy": None}, "/labels"),
    ({"text": "Rates rose.", "labels": ["economy", "  "], "taxonomy": None}, "/labels/1"),
    ({"text": "Rates rose.", "labels": ["اقتصاد", "\u200f"], "taxonomy": None}, "/labels/1"),  # invisible alone
    ({"text": "Rates rose.", "labels": ["economy"], "taxonomy": None, "predicted": ["\u200b"]}, "/predicted/0"),
    ({"text": "Rates rose.", "labels": ["economy"], "taxonomy": "nope"}, "/taxonomy"),
    ({"text": "Rates rose.", "labels": ["economy", "econmy"], "taxonomy": "news"}, "/labels/1"),
    ({"text": "Rates rose.", "labels": ["economy"], "taxonomy": "news", "predicted": ["econmy"]}, "/predicted/0"),
    ({"text": "Rates rose.", "labels": ["economy"], "taxonomy": None, "predicted": [1]}, "/predicted/0"),
    ({"text": "Rates rose.", "labels": ["economy"], "taxonomy": None, "predictd": []}, "/predictd"),
    # Lone surrogates (JSON "\\ud800") cannot be stored: 422, not a 500 from the database.
    ({"text": "Rates \ud800 rose.", "labels": ["economy"], "taxonomy": None}, "/text"),
    ({"text": "Rates rose.", "labels": ["econ\udc00omy"], "taxonomy": None}, "/labels/0"),
    ({"text": "Rates rose.", "labels": ["economy"], "taxonomy": None, "model": "m\ud800"}, "/model"),
    ({"text": "Rates rose.", "labels": ["economy"], "taxonomy": None, "predicted": ["\ud800"]}, "/predicted/0"),
    # NUL: PostgreSQL stores none in text (a 503 "retry shortly", forever); refused on SQLite alike.
    ({"text": "Rates \x00 rose.", "labels": ["economy"], "taxonomy": None}, "/text"),
    ({"text": "Rates rose.", "labels": ["eco\x00nomy"], "taxonomy": None}, "/labels/0"),
    ({"text": "Rates rose.", "labels": ["economy"], "taxonomy": None, "predicted": ["\x00"]}, "/predicted/0"),
    ({"text": "Rates rose.", "labels": ["economy"], "taxonomy": None, "model": "m\x00"}, "/model"),
    ({"text": "Rates rose.", "labels": ["economy"], "taxonomy": "ne\x00ws"}, "/taxonomy"),
    # One label twice in another case or Unicode form: two classes once retrained.
    ({"text": "Rates rose.", "labels": ["Wirtschaft", "wirtschaft"], "taxonomy": None}, "/labels/1"),
    ({"text": "Rates rose.", "labels": ["économie", "e\u0301conomie"], "taxonomy": None}, "/labels/1"),
    # Turkish and Azerbaijani capital İ: "İqtisadiyyat" is "iqtisadiyyat" capitalised (casefold gave "i̇").
    ({"text": "Rates rose.", "labels": ["İqtisadiyyat", "iqtisadiyyat"], "taxonomy": None}, "/labels/1"),
    # A zero-width space no one sees made a second label.
    ({"text": "Rates rose.", "labels": ["спорт", "спорт\u200b"], "taxonomy": None}, "/labels/1"),
    # The same label twice as written, as /v1/classify refuses it (it was merged, so 101 copies
    # passed the limit of 100 labels that 101 distinct ones did not).
    ({"text": "Rates rose.", "labels": ["economy", "economy"], "taxonomy": None}, "/labels/1"),
    ({"text": "Rates rose.", "labels": ["economy"], "taxonomy": None, "predicted": ["a", "a"]}, "/predicted/1"),
    ({"text": "Rates rose.", "labels": ["x"] * 101, "taxonomy": None}, "/labels"),
    ({"text": "Rates rose.", "labels": ["economy"], "taxonomy": None, "predicted": ["a"] * 101}, "/predicted"),
])
def test_bad_feedback_is_422_naming_the_field_and_stores_nothing(fb, fb_app, body, path):
    response = fb.post("/v1/feedback", json=body)
    assert response.status_code == 422 and response.content_type == "application/problem+json"
    assert path in [e["path"] for e in response.json["errors"]]
    assert fb_app.extensions["newstag.feedback"].submissions() == 0


@pytest.mark.parametrize("labels, why", [
    (["Wirtschaft", "wirtschaft"], "'wirtschaft' is 'Wirtschaft' but for case"),
    (["спорт", "спорт\u200b"], "'спорт\\u200b' is 'спорт' but for invisible characters"),
])
def test_a_label_twice_is_named_as_classify_names_it(fb, labels, why):
    """A correction said only "'спорт\u200b' is 'спорт'", /v1/classify "... but for case" (of neither)."""
    expected = [{"path": "/labels/1", "message": f"label names must be unique: {why}"}]
    assert fb.post("/v1/feedback", json={"text": "Rates rose.", "labels": labels, "taxonomy": None}).json["errors"] \
        == expected
    assert fb.post("/v1/classify", json={"text": "Rates rose.", "labels": labels}).json["errors"] == expected


def test_wrong_media_type_malformed_json_and_oversized_bodies(tagger, tmp_path):
    client = make_app(tagger, tmp_path, max_body_bytes=2000).test_client()
    assert client.post("/v1/feedback", data="text=x", content_type="text/plain").status_code == 415
    assert client.post("/v1/feedback", data="{", content_type="application/json").status_code == 400
    big = client.post("/v1/feedback", json={"text": "x" * 3000, "labels": ["a"], "taxonomy": None})
    assert big.status_code == 413 and big.json["detail"]


def test_the_export_is_jsonl_for_training_and_other_formats_are_refused(fb):
    fb.post("/v1/feedback", json={"text": "Le match: 2-1.", "labels": ["sports"], "taxonomy": "news"})
    response = fb.get("/v1/feedback/export")  # jsonl is the default
    assert response.mimetype == "application/x-ndjson"
    assert "feedback.jsonl" in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True) == ('{"text": "Le match: 2-1.", "labels": ["sports"], "taxonomy": "news", '
                                               '"model": null, "model_version": null}\n')
    refused = fb.get("/v1/feedback/export?format=csv")
    assert refused.status_code == 422 and refused.json["errors"][0]["path"] == "format"
    typo = fb.get("/v1/feedback/export?taxnomy=news")  # refused, not ignored (it would export every set)
    assert typo.status_code == 422 and typo.json["errors"][0]["path"] == "taxnomy"
    # A typo in the value was an empty 200 (an empty training file); twice, the first one alone.
    unknown = fb.get("/v1/feedback/export?taxonomy=nwes")
    assert unknown.status_code == 404 and "'nwes'" in unknown.json["detail"] and "news" in unknown.json["detail"]
    twice = fb.get("/v1/feedback/export?taxonomy=news&taxonomy=iptc-top")
    assert twice.status_code == 422 and twice.json["errors"] == [{"path": "taxonomy", "message": "give it once"}]


def test_the_export_gives_one_label_set_to_train_on_when_asked(fb):
    """Corrections under several taxonomies trained as one model mixed 'sports' and 'sport'."""
    fb.post("/v1/feedback", json={"text": "Le match: 2-1.", "labels": ["sports"], "taxonomy": "news"})
    fb.post("/v1/feedback", json={"text": "Le match: 2-1.", "labels": ["sport"], "taxonomy": "iptc-top"})
    fb.post("/v1/feedback", json={"text": "Desk memo.", "labels": ["desk"], "taxonomy": None})
    assert len(export_rows(fb)) == 3  # every label set, each row naming its own

    def labels(query: str) -> list[list[str]]:
        answer = fb.get(f"/v1/feedback/export?{query}")
        return [json.loads(line)["labels"] for line in answer.get_data(as_text=True).splitlines()]

    assert labels("taxonomy=news") == [["sports"]] and labels("taxonomy=iptc-top") == [["sport"]]
    assert labels("taxonomy=") == [["desk"]]  # the typed labels


def test_the_export_gives_its_connection_back_even_when_the_body_is_never_read(fb, fb_app):
    fb.post("/v1/feedback", json={"text": "Rates rose.", "labels": ["economy"], "taxonomy": "news"})
    pool = fb_app.extensions["newstag.feedback"].engine().pool
    read = fb.get("/v1/feedback/export")
    assert read.get_data(as_text=True).count("\n") == 1
    read.close()
    assert pool.checkedout() == 0
    unread = fb.head("/v1/feedback/export")  # HEAD, or a client that hangs up at once
    assert unread.status_code == 200 and unread.data == b""
    unread.close()  # what the WSGI server does with any response
    assert pool.checkedout() == 0


def test_a_slow_export_download_holds_no_database_connection(fb, fb_app, monkeypatch):
    """Pages are read as the client reads: between them, editors' writes have the whole pool."""
    import service.feedback.store as store_module
    monkeypatch.setattr(store_module, "PAGE_ROWS", 2)
    for i in range(5):
        fb.post("/v1/feedback", json={"text": f"Article {i}.", "labels": ["economy"], "taxonomy": "news"})
    pool = fb_app.extensions["newstag.feedback"].engine().pool
    response = fb.get("/v1/feedback/export", buffered=False)
    body = response.response
    first = next(iter(body))
    assert json.loads(first)["text"] == "Article 0." and pool.checkedout() == 0  # mid-download
    during = fb.post("/v1/feedback", json={"text": "During.", "labels": ["economy"], "taxonomy": "news"})
    assert during.status_code == 201
    assert [json.loads(line)["text"] for line in [first, *body]] == [f"Article {i}." for i in range(5)]
    response.close()


def test_an_export_the_database_cuts_short_is_a_broken_download_not_a_shorter_file(fb, fb_app, monkeypatch):
    import service.feedback.store as store_module
    monkeypatch.setattr(store_module, "PAGE_ROWS", 2)
    for i in range(5):
        fb.post("/v1/feedback", json={"text": f"Article {i}.", "labels": ["economy"], "taxonomy": "news"})
    store = fb_app.extensions["newstag.feedback"]
    real_page, pages = store._page, []

    def failing_second_page(after, upto, selection):
        pages.append(after)
        if len(pages) == 2:
            raise store._unavailable("failed while reading", OSError("server closed the connection"))
        return real_page(after, upto, selection)

    monkeypatch.setattr(store, "_page", failing_second_page)
    response = fb.get("/v1/feedback/export", buffered=False)
    assert response.status_code == 200
    lines = iter(response.response)
    assert [json.loads(next(lines))["text"] for _ in range(2)] == ["Article 0.", "Article 1."]
    # The error reaches the WSGI server, which drops the connection before the body's end.
    with pytest.raises(StoreUnavailable):
        next(lines)
    response.close()


def test_stats_over_http(fb):
    fb.post("/v1/feedback", json={"text": "a", "labels": ["economy"], "taxonomy": "news", "model": "all-MiniLM-L6-v2",
                                  "predicted": ["economy", "trade"]})
    fb.post("/v1/feedback", json={"text": "b", "labels": ["economy"], "taxonomy": "news", "model": "all-MiniLM-L6-v2",
                                  "predicted": ["economy"]})
    stats = fb.get("/v1/feedback/stats").json
    assert stats["labels"] == {"economy": 2} and (stats["reviewed"], stats["changed"]) == (2, 1)
    assert stats["removed"] == {"trade": 1} and stats["changed_rate"] == 0.5
    # A typed "economy" counted with news's: ?taxonomy= keeps one label set apart, as the export does.
    fb.post("/v1/feedback", json={"text": "c", "labels": ["economy", "rates"], "taxonomy": None})
    assert fb.get("/v1/feedback/stats").json["labels"] == {"economy": 3, "rates": 1}
    news = fb.get("/v1/feedback/stats?taxonomy=news").json
    assert (news["labels"], news["corrections"], news["submissions"]) == ({"economy": 2}, 2, 2)
    typed = fb.get("/v1/feedback/stats?taxonomy=").json
    assert (typed["labels"], typed["corrections"]) == ({"economy": 1, "rates": 1}, 1)
    assert [json.loads(line)["text"] for line in fb.get("/v1/feedback/export?taxonomy=").get_data(as_text=True)
            .splitlines()] == ["c"]
    assert fb.get("/v1/feedback/stats?taxonomy=nope").status_code == 404


def test_feedback_needs_a_key_when_keys_are_set(tagger, tmp_path):
    client = make_app(tagger, tmp_path, api_keys="k-one").test_client()
    body = {"text": "Rates rose.", "labels": ["economy"], "taxonomy": "news"}
    for method, path, kwargs in (("post", "/v1/feedback", {"json": body}), ("get", "/v1/feedback/export", {}),
                                 ("get", "/v1/feedback/stats", {})):
        assert getattr(client, method)(path, **kwargs).status_code == 401
        assert getattr(client, method)(path, headers={"Authorization": "Bearer nope"}, **kwargs).status_code == 403
    assert client.post("/v1/feedback", json=body, headers={"Authorization": "Bearer k-one"}).status_code == 201
    assert len(export_rows(client, headers={"Authorization": "Bearer k-one"})) == 1


def test_a_write_the_database_refuses_is_503_and_never_reported_stored(fb, fb_app, tmp_path):
    path = tmp_path / "data" / "feedback.db"
    fb.post("/v1/feedback", json={"text": "before", "labels": ["economy"], "taxonomy": "news"})
    fb_app.extensions["newstag.feedback"] = FeedbackStore(f"sqlite:///{path}", busy_timeout=0.2)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database
    try:
        response = fb.post("/v1/feedback", json={"text": "during", "labels": ["economy"], "taxonomy": "news"})
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.json["type"] == "/docs/problems#store-unavailable"
    assert "sending a correction again is safe" in response.json["detail"]
    assert "id" not in response.json
    assert [r["text"] for r in export_rows(fb)] == ["before"]


def test_an_unreachable_database_answers_503_while_tagging_goes_on(tagger, tmp_path):
    client = make_app(tagger, tmp_path, database_url=f"postgresql+psycopg://x@/db?host={tmp_path}/none").test_client()
    body = {"text": "Rates rose.", "labels": ["economy"], "taxonomy": "news"}
    posted = client.post("/v1/feedback", json=body)
    assert posted.status_code == 503 and "sending a correction again is safe" in posted.json["detail"]
    for read in (client.get("/v1/feedback/export"), client.get("/v1/feedback/stats")):
        # A read says retry, not that sending a correction again is safe: it sent none.
        assert read.status_code == 503 and read.headers["Retry-After"] and "retry shortly" in read.json["detail"]
        assert "correction" not in read.json["detail"]
    assert client.post("/v1/classify", json={"text": "Rates rose."}).status_code == 200


def test_a_malformed_database_url_stops_start_up(tagger, tmp_path):
    with pytest.raises(ConfigError, match="NEWSTAG_DATABASE_URL"):
        make_app(tagger, tmp_path, database_url="not a url")


def test_concurrent_posts_each_get_their_own_id(fb_app):
    ids: list[int] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def post_many(worker: int) -> None:
        client = fb_app.test_client()
        for i in range(10):
            response = client.post("/v1/feedback", json={"text": f"story {worker}.{i}", "labels": ["economy"],
                                                         "taxonomy": "news"})
            with lock:
                statuses.append(response.status_code)
                if response.status_code == 201:
                    ids.append(response.json["id"])

    workers = [threading.Thread(target=post_many, args=(n,)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert statuses == [201] * 40 and len(set(ids)) == 40
    assert len(export_rows(fb_app.test_client())) == 40


def test_feedback_responses_match_the_openapi_document(fb):
    spec = fb.get("/openapi.json").json

    def check(path, method, status, instance, media="application/json"):
        operation = spec["paths"][path][method]
        schema = operation["responses"][str(status)]["content"][media]["schema"]
        jsonschema.Draft202012Validator({**schema, "components": spec["components"]}).validate(instance)

    request_schema = spec["paths"]["/v1/feedback"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    body = {"text": "Rates rose.", "labels": ["economy"], "taxonomy": "news", "predicted": ["trade"]}
    jsonschema.Draft202012Validator({**request_schema, "components": spec["components"]}).validate(body)
    created = fb.post("/v1/feedback", json=body)
    check("/v1/feedback", "post", 201, created.json)
    bad = fb.post("/v1/feedback", json={"text": "x"})
    check("/v1/feedback", "post", 422, bad.json, "application/problem+json")
    check("/v1/feedback/stats", "get", 200, fb.get("/v1/feedback/stats").json)
    line_schema = spec["paths"]["/v1/feedback/export"]["get"]["responses"]["200"]["content"][
        "application/x-ndjson"]["x-line-schema"]
    for row in export_rows(fb):
        jsonschema.Draft202012Validator({**line_schema, "components": spec["components"]}).validate(row)


def test_a_read_only_store_is_503_and_never_reported_stored(fb, fb_app, tmp_path):
    path = tmp_path / "data" / "feedback.db"
    fb.post("/v1/feedback", json={"text": "before", "labels": ["economy"], "taxonomy": "news"})
    # The file opened read-only (root ignores file permissions, so chmod would not do here).
    fb_app.extensions["newstag.feedback"] = FeedbackStore(f"sqlite:///file:{path}?mode=ro&uri=true",
                                                          busy_timeout=0.2)
    response = fb.post("/v1/feedback", json={"text": "during", "labels": ["economy"], "taxonomy": "news"})
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "retry shortly" in response.json["detail"] and "id" not in response.json
    assert [r["text"] for r in export_rows(fb)] == ["before"]


def test_a_store_that_can_never_write_says_so_instead_of_retry_shortly(fb_app, tmp_path):
    """A read-only root filesystem (Kubernetes without a database URL) answered "retry shortly" forever."""
    path = unwritable_dir(tmp_path) / "data" / "feedback.db"
    store = FeedbackStore(f"sqlite:///{path}", busy_timeout=0.2)
    assert str(path) in store.write_problem() and f"sqlite:///file:{path}?immutable=1" in store.write_problem()
    assert FeedbackStore(f"sqlite:///{tmp_path / 'ok' / 'feedback.db'}").write_problem() is None
    fb_app.extensions["newstag.feedback"] = store
    response = fb_app.test_client().post("/v1/feedback", json={"text": "x y", "labels": ["economy"],
                                                               "taxonomy": "news"})
    assert response.status_code == 503 and "Retry-After" not in response.headers
    assert str(path) in response.json["detail"] and "NEWSTAG_DATABASE_URL" in response.json["detail"]
    assert "retry shortly" not in response.json["detail"]


def test_a_store_below_a_directory_the_user_cannot_search_says_so_instead_of_a_traceback(tmp_path, monkeypatch):
    """Path.exists() let a PermissionError out of the start-up warning: gunicorn printed a traceback
    (found running the server as a user that may not enter the volume's parent directory)."""
    from pathlib import Path

    from service.config import Settings
    from service.preflight import serving_warnings

    locked = tmp_path / "locked"
    path = locked / "data" / "feedback.db"
    real_stat = Path.stat

    def stat(self, *args, **kwargs):  # the tests run as root: chmod would not stop them
        if locked in self.parents:
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    store = FeedbackStore(f"sqlite:///{path}", busy_timeout=0.2)
    assert str(path) in store.write_problem()
    settings = Settings.from_env({"NEWSTAG_DATABASE_URL": f"sqlite:///{path}", "NEWSTAG_MULTILINGUAL_MODEL": "off"})
    assert any(str(path) in warning for warning in serving_warnings(settings, ["127.0.0.1:8000"]))


def test_a_correction_naming_a_model_not_loaded_is_stored_with_a_warning(fb, fb_app):
    """A model name that is not loaded (a typo, a model since removed) was refused; editors' work is kept,
    and the warning names the loaded models."""
    body = {"text": "Rates rose.", "labels": ["economy"], "taxonomy": "news", "model": "all-MiniLM-L6",
            "predicted": ["economy"]}
    response = fb.post("/v1/feedback", json=body)
    assert response.status_code == 201
    [warning] = response.json["warnings"]
    assert warning["code"] == "model-not-loaded" and "'all-MiniLM-L6'" in warning["message"]
    assert "all-MiniLM-L6-v2" in warning["message"]
    assert [r["model"] for r in export_rows(fb)] == ["all-MiniLM-L6"]
    # The taxonomy is still checked: it does not change with the models.
    typo = fb.post("/v1/feedback", json={**body, "labels": ["econmy"]})
    assert typo.status_code == 422 and typo.json["errors"][0]["path"] == "/labels/0"


def test_a_correction_sent_while_the_models_load_is_stored_with_a_warning(fb, fb_app, monkeypatch):
    monkeypatch.setattr(fb_app.extensions["newstag.runtime"], "taggers", lambda: {})
    response = fb.post("/v1/feedback", json={"text": "Rates rose.", "labels": ["economy"], "taxonomy": None,
                                             "model": "desk-topics", "predicted": ["crime"]})
    assert response.status_code == 201
    assert [w["code"] for w in response.json["warnings"]] == ["model-not-loaded"]
    assert "no model is loaded now (still loading, or failed to load)" in response.json["warnings"][0]["message"]


def test_a_correction_sent_while_this_worker_loads_waits_for_its_models(fb, fb_app):
    """Stored at once, it got model-not-loaded and was counted under "(other)", out of its model's change rate."""
    runtime = fb_app.extensions["newstag.runtime"]
    name = runtime.default_name
    runtime._ready.clear()
    threading.Timer(0.3, runtime._ready.set).start()
    response = fb.post("/v1/feedback", json={"text": "Rates rose.", "labels": ["economy"], "taxonomy": "news",
                                             "model": name, "predicted": ["crime"]})
    assert response.status_code == 201 and response.json["warnings"] == []
    metrics = fb.get("/metrics").get_data(as_text=True)
    assert f'newstag_feedback_reviewed_total{{model="{name}"}} 1.0' in metrics


def test_a_correction_names_at_least_one_topic_in_words(fb):
    """pydantic's "List should have at least 1 item after validation, not 0" told an editor nothing."""
    for body in ({"text": "Rates rose.", "labels": [], "taxonomy": None},
                 {"text": "Rates rose.", "labels": [], "taxonomy": None, "extra": 1}):  # beside a shape error too
        response = fb.post("/v1/feedback", json=body)
        assert response.status_code == 422
        [message] = [e["message"] for e in response.json["errors"] if e["path"] == "/labels"]
        assert message.startswith("a correction names at least one topic") and "List should" not in message


def test_a_model_version_needs_its_model(fb):
    response = fb.post("/v1/feedback", json={"text": "Rates rose.", "labels": ["economy"], "taxonomy": None,
                                             "model_version": "0123456789ab"})
    assert response.status_code == 422 and response.json["errors"][0]["path"] == "/model_version"


def test_the_export_and_the_stats_give_one_desks_corrections(fb):
    """Rows did not say which model they corrected, and ?model= and ?since= were unknown parameters."""
    def post(text, labels, model=None, taxonomy=None):
        response = fb.post("/v1/feedback", json={"text": text, "labels": labels, "taxonomy": taxonomy,
                                                 "model": model, "predicted": labels})
        assert response.status_code == 201

    post("Match report.", ["sport"], "desk-a")
    post("Match report.", ["football"], "desk-b")  # another desk's labels for the same text
    post("Rates rose.", ["economy"], "all-MiniLM-L6-v2", "news")
    middle = datetime.now(UTC)
    post("Desk memo.", ["memo"])

    def exported(query: str) -> list[tuple[str, list[str], str | None]]:
        answer = fb.get(f"/v1/feedback/export?{query}")
        assert answer.status_code == 200, answer.json
        rows = [json.loads(line) for line in answer.get_data(as_text=True).splitlines()]
        return [(r["text"], r["labels"], r["model"]) for r in rows]

    assert exported("") == [("Match report.", ["football"], "desk-b"), ("Rates rose.", ["economy"], "all-MiniLM-L6-v2"),
                            ("Desk memo.", ["memo"], None)]
    # One desk's own labels, which another desk's correction of the text does not replace.
    assert exported("model=desk-a") == [("Match report.", ["sport"], "desk-a")]
    assert exported("model=desk-b&taxonomy=") == [("Match report.", ["football"], "desk-b")]
    assert exported("model=") == [("Desk memo.", ["memo"], None)]  # those that named no model
    since = middle.isoformat()
    assert exported(f"since={quote(since)}") == [("Desk memo.", ["memo"], None)]
    in_paris = quote(middle.astimezone(timezone(timedelta(hours=1))).isoformat())
    assert exported(f"since={in_paris}") == exported(f"since={quote(middle.replace(tzinfo=None).isoformat())}")
    # A '+' typed into the URL unencoded arrives as a space: read as the offset's sign.
    assert exported(f"since={unquote(in_paris)}") == exported(f"since={in_paris}")
    assert exported("since=2000-01-01") == exported("")
    stats = fb.get("/v1/feedback/stats?model=desk-a").json
    assert (stats["corrections"], stats["submissions"], stats["models"]) == (
        1, 1, {"desk-a": {"reviewed": 1, "changed": 0}})
    assert fb.get(f"/v1/feedback/stats?since={quote(since)}").json["corrections"] == 1
    # A typo in a model name was an empty file: no correction names it, and none of that name is loaded.
    unknown = fb.get("/v1/feedback/export?model=desk-c")
    assert unknown.status_code == 404 and "desk-a, desk-b" in unknown.json["detail"]
    assert fb.get("/v1/feedback/stats?model=desk-c").status_code == 404
    for path in ("/v1/feedback/export?since=yesterday", "/v1/feedback/stats?since=0001-01-01T00:00%2B01:00",
                 "/v1/feedback/export?since=9999-12-31T23:59:59-01:00"):
        bad = fb.get(path)
        assert bad.status_code == 422 and bad.json["errors"][0]["path"] == "since"
    typo = fb.get("/v1/feedback/stats?modle=desk-a")
    assert typo.status_code == 422 and typo.json["errors"][0]["path"] == "modle"


ADMIN = {"Authorization": "Bearer admin-key"}
SPORT = "The striker scored twice in the cup final. Fans celebrated in the stadium until midnight."
CLIMATE = "Sea levels rose faster than forecast as the glaciers melted through a record warm summer."


@pytest.fixture()
def desks(tagger, tmp_path, models_dir):
    """An app serving the fine-tuned desk-topics from models_dir, with an admin key for reloads."""
    return create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "models_dir": models_dir,
                       "admin_keys": "admin-key", "database_url": f"sqlite:///{tmp_path}/data/feedback.db"}
                      ).test_client()


def test_a_correction_for_a_model_removed_since_is_stored_with_a_warning(desks, models_dir, tmp_path):
    """Moved out of NEWSTAG_MODELS_DIR and reloaded, desk-topics' corrections were a 422."""
    shutil.move(models_dir / "desk-topics", tmp_path / "archived-desk-topics")
    reloaded = desks.post("/v1/models/reload", headers=ADMIN)
    assert reloaded.status_code == 200 and "desk-topics" not in {m["name"] for m in reloaded.json["models"]}
    response = desks.post("/v1/feedback", json={"text": SPORT, "labels": ["sport"], "taxonomy": None,
                                                "model": "desk-topics", "predicted": []})
    assert response.status_code == 201
    [warning] = response.json["warnings"]
    assert warning["code"] == "model-not-loaded" and "'desk-topics'" in warning["message"]
    [row] = export_rows(desks)
    assert (row["labels"], row["model"]) == (["sport"], "desk-topics")
    assert [r["text"] for r in map(json.loads, desks.get("/v1/feedback/export?model=desk-topics")
                                   .get_data(as_text=True).splitlines())] == [SPORT]


def test_corrections_of_a_model_retrained_in_place_are_kept_and_typos_still_refused(
        desks, models_dir, retrained_model_dir):
    """After a retrain, a prediction of the old version ('climate') was a 422."""
    answered = desks.post("/v1/classify", json={"text": CLIMATE, "model": "desk-topics"}).json
    old_version = answered["model"]["version"]
    shutil.rmtree(models_dir / "desk-topics")
    shutil.copytree(retrained_model_dir, models_dir / "desk-topics")
    reloaded = desks.post("/v1/models/reload", headers=ADMIN)
    assert reloaded.status_code == 200 and reloaded.json["errors"] == {}
    desk = {m["name"]: m for m in reloaded.json["models"]}["desk-topics"]
    assert "climate" not in desk["labels"] and desk["version"] != old_version
    body = {"text": CLIMATE, "taxonomy": None, "model": "desk-topics", "predicted": ["climate"]}

    # What the model returned then is no typo: stored, with a warning.
    kept = desks.post("/v1/feedback", json={**body, "labels": ["environment"]})
    assert kept.status_code == 201
    assert [w["code"] for w in kept.json["warnings"]] == ["predicted-not-model-labels"]
    assert "'climate'" in kept.json["warnings"][0]["message"]
    # A label the loaded version lacks, from a correction that does not say it saw another version:
    # the typo guard (it would become a class of its own when the model is retrained).
    for version in ({}, {"model_version": desk["version"]}):
        typo = desks.post("/v1/feedback", json={**body, "labels": ["climate"], **version})
        assert typo.status_code == 422
        [error] = typo.json["errors"]
        assert error["path"] == "/labels/0" and "model_version" in error["message"]
    # The version the answer named: the editor's labels are kept, with a warning, and the version stored.
    old = desks.post("/v1/feedback", json={**body, "labels": ["climate"], "model_version": old_version})
    assert old.status_code == 201
    [warning] = old.json["warnings"]
    assert warning["code"] == "model-version-changed" and old_version in warning["message"]
    assert [(r["labels"], r["model_version"]) for r in export_rows(desks)] == [(["climate"], old_version)]


def test_a_taxonomy_with_a_fine_tuned_model_is_refused_saying_to_send_null(desks):
    body = {"text": SPORT, "labels": ["economy"], "taxonomy": "news", "model": "desk-topics", "predicted": ["politics"]}
    response = desks.post("/v1/feedback", json=body)
    assert response.status_code == 422
    # taxonomy is a required field here, so the advice is null, not "leave it out" (which was a second 422).
    assert response.json["errors"] == [
        {"path": "/taxonomy", "message": "model 'desk-topics' has its own labels; send \"taxonomy\": null"}]
    assert desks.post("/v1/feedback", json={**body, "taxonomy": None}).status_code == 201
    # A zero-shot model reads taxonomies.
    zero_shot = {**body, "model": "all-MiniLM-L6-v2", "predicted": ["economy"]}
    assert desks.post("/v1/feedback", json=zero_shot).status_code == 201


def test_a_correction_with_a_bad_field_hears_of_its_long_text_too(tagger, tmp_path):
    client = make_app(tagger, tmp_path, max_text_chars=50, max_labels=2).test_client()
    answer = client.post("/v1/feedback", json={"text": "x" * 51, "labels": ["economy", "trade", "energy"],
                                               "taxonomy": "news", "extra": 1})
    assert answer.status_code == 422
    assert {e["path"] for e in answer.json["errors"]} == {"/extra", "/text", "/labels"}
    assert {"path": "/text", "message": "text has 51 characters; the limit is 50"} in answer.json["errors"]


def test_a_prediction_is_limited_like_the_labels(tagger, tmp_path):
    client = make_app(tagger, tmp_path, max_labels=3).test_client()
    answer = client.post("/v1/feedback", json={"text": "Rates rose.", "labels": ["economy"], "taxonomy": None,
                                               "predicted": ["a", "b", "c", "d"]})
    assert answer.status_code == 422 and answer.json["errors"] == [{"path": "/predicted",
                                                                    "message": "at most 3 labels"}]


def test_taxonomy_topics_are_compared_as_requests_compare_names_and_stored_as_spelled(fb):
    """taxonomies.md says names differing in case or Unicode form are one name: "Politics" was refused."""
    response = fb.post("/v1/feedback", json={"text": "The vote was delayed.", "labels": ["Politics", "ELECTIONS"],
                                             "taxonomy": "news", "predicted": ["Civil Unrest"]})
    assert response.status_code == 201, response.json
    [row] = [r for r in export_rows(fb) if r["text"] == "The vote was delayed."]
    assert row["labels"] == ["politics", "elections"]
    assert fb.post("/v1/feedback", json={"text": "x", "labels": ["politic"], "taxonomy": "news"}).status_code == 422
