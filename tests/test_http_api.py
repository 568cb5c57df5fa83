"""The /v1 API through the Flask test client, on the real embedded model."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest

from service.engine.model_files import DEFAULT_MODEL_SHA256, MATCHER_SHA256

MISSION = {"bilateral relations", "economy", "COP29", "demining"}
VERSION = f"{DEFAULT_MODEL_SHA256[:12]}+{MATCHER_SHA256[:8]}"  # base weights + the merged matcher adapter


def test_classify_text_tags_the_seed_with_exact_evidence(client, seed_text):
    response = client.post("/v1/classify", json={"text": seed_text})
    assert response.status_code == 200
    body = response.json
    assert list(body) == ["topics", "language", "warnings", "model", "taxonomy"]
    assert body["taxonomy"] == "news"
    assert body["language"] == "en" and body["warnings"] == []
    assert body["model"] == {"name": "all-MiniLM-L6-v2", "kind": "embedding", "version": VERSION}
    labels = [t["label"] for t in body["topics"]]
    assert MISSION <= set(labels) and not {"sports", "health", "crime", "technology"} & set(labels)
    scores = [t["score"] for t in body["topics"]]
    assert scores == sorted(scores, reverse=True)
    for topic in body["topics"]:
        for ev in topic["evidence"]:
            assert seed_text[ev["start"]:ev["end"]] == ev["text"]
    codes = {t["label"]: t.get("code") for t in body["topics"]}
    assert codes["bilateral relations"] == "medtop:20000639" and "code" not in \
        next(t for t in body["topics"] if t["label"] == "COP29")


def test_classify_documents_keeps_request_order_and_ids(client, examples):
    docs = [{"id": e["id"], "text": e["text"]} for e in examples[:5]]
    response = client.post("/v1/classify", json={"documents": docs, "evidence": False})
    assert response.status_code == 200
    body = response.json
    assert [r["id"] for r in body["results"]] == [d["id"] for d in docs]
    for result, example in zip(body["results"], examples[:5], strict=True):
        assert set(example["labels"]) <= {t["label"] for t in result["topics"]}
        assert all(t["evidence"] == [] for t in result["topics"])


def test_options_labels_objects_single_label_threshold_top_k(client):
    text = "The striker scored twice and the crowd sang. Shares in the club rose on the stock market."
    labels = ["football", {"name": "finance", "description": "Money, markets and shares.", "keywords": ["shares"]}]
    body = client.post("/v1/classify", json={"text": text, "labels": labels, "threshold": 0.0}).json
    assert {t["label"] for t in body["topics"]} == {"football", "finance"} and body["taxonomy"] is None
    single = client.post("/v1/classify", json={"text": text, "labels": labels, "multi_label": False}).json
    assert len(single["topics"]) == 1
    capped = client.post("/v1/classify", json={"text": text, "taxonomy": "iptc-top", "threshold": 0, "top_k": 3}).json
    assert len(capped["topics"]) == 3 and capped["taxonomy"] == "iptc-top"
    assert all(t["code"].startswith("medtop:") for t in capped["topics"])


def test_a_taxonomy_beside_labels_is_refused_not_ignored(client):
    response = client.post("/v1/classify", json={"text": "Rain is expected.", "labels": ["weather"],
                                                 "taxonomy": "news"})
    assert response.status_code == 422
    assert response.json["errors"] == [{"path": "/taxonomy", "message": "labels replace the taxonomy; "
                                                                        "leave taxonomy out"}]


def test_model_field_selects_a_loaded_model_or_404(client):
    ok = client.post("/v1/classify", json={"text": "Rain is expected.", "model": "all-MiniLM-L6-v2"})
    assert ok.status_code == 200
    missing = client.post("/v1/classify", json={"text": "Rain is expected.", "model": "bart-large-mnli"})
    assert missing.status_code == 404 and "no loaded model named 'bart-large-mnli'" in missing.json["detail"]
    # A name no model directory could have is refused as the corrections' model field is (it was
    # echoed back whole in the 404: 900 KB of it).
    for name in ("", "m" * 201):
        refused = client.post("/v1/classify", json={"text": "Rain is expected.", "model": name})
        assert refused.status_code == 422 and refused.json["errors"][0]["path"] == "/model", refused.json


def test_taxonomies_and_models_endpoints(client, builtin_topic_counts, tagger):
    listing = client.get("/v1/taxonomies").json["taxonomies"]
    counts = builtin_topic_counts
    assert {t["name"]: (t["topics"], t["default"]) for t in listing} == {"iptc-top": (counts["iptc-top"], False),
                                                                         "news": (counts["news"], True)}
    news = client.get("/v1/taxonomies/news").json
    cop = next(t for t in news["topics"] if t["name"] == "COP29")
    assert cop["parent"] == "climate change" and "COP29" in cop["keywords"] and cop["yields_to"] == []
    assert next(t for t in news["topics"] if t["name"] == "demining")["yields_to"] == ["mining"]
    assert "COP28" in cop["ruled_out_by"] and "COP29" not in cop["ruled_out_by"]
    # Every setting of the file that changes what is returned is shown: these two were left out.
    assert (news["threshold"], news["sentence_topics"], news["at_least_one_topic"]) == (0.5, True, True)
    iptc = client.get("/v1/taxonomies/iptc-top").json
    assert (iptc["sentence_topics"], iptc["at_least_one_topic"]) == (False, True)
    assert client.get("/v1/taxonomies/unknown").status_code == 404
    [model] = client.get("/v1/models").json["models"]
    # What runs it here, auto resolved: bf16 on a CPU with native bf16, fp32 elsewhere (torch's own ops).
    assert model.pop("runtime") == "torch" and model.pop("precision") == tagger.backend.precision in ("fp32", "bf16")
    assert model == {"name": "all-MiniLM-L6-v2", "kind": "embedding", "version": VERSION,
                     "default": True, "ready": True, "labels": None, "metrics": None}


def problem(response, status):
    assert response.status_code == status, response.data
    assert response.content_type == "application/problem+json"
    body = response.json
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == status
    assert "Traceback" not in response.get_data(as_text=True)
    return body


@pytest.mark.parametrize("data, content_type, status, path", [
    ("{bad json", "application/json", 400, None),
    (b"\xff\xfe{}", "application/json", 400, None),
    ('{"text": "a\x01b"}', "application/json", 400, None),  # raw control character: invalid JSON
    ("[" * 100_000 + "]" * 100_000, "application/json", 400, None),
    ('{"text": "x", "threshold": NaN}', "application/json", 400, None),  # Python reads it; JSON has none
    ('{"text": "x", "threshold": -Infinity}', "application/json", 400, None),
    ('{"text": "x"}', "text/plain", 415, None),
    ('{"text": "x"}', None, 415, None),
    ("[]", "application/json", 422, "/"),
    ('"just a string"', "application/json", 422, "/"),
    ("{}", "application/json", 422, "/"),
    ('{"text": "x", "documents": []}', "application/json", 422, "/"),
    ('{"text": 5}', "application/json", 422, "/text"),
    ('{"text": "   \\n\\t "}', "application/json", 422, "/text"),
    ('{"text": ""}', "application/json", 422, "/text"),
    ('{"text": "\\ud800 lone surrogate"}', "application/json", 422, None),
    ('{"documents": []}', "application/json", 422, "/documents"),
    ('{"documents": [{"id": "a"}]}', "application/json", 422, "/documents/0/text"),
    ('{"documents": [{"id": "a", "text": "ok"}, {"id": "b", "text": " "}]}', "application/json", 422,
     "/documents/1/text"),
    ('{"documents": [{"text": "ok"}]}', "application/json", 422, "/documents/0/id"),
    ('{"documents": "ok"}', "application/json", 422, "/documents"),
    ('{"text": "x", "labels": "a,b"}', "application/json", 422, "/labels"),
    ('{"text": "x", "labels": []}', "application/json", 422, "/labels"),
    ('{"text": "x", "labels": [{"name": ""}]}', "application/json", 422, "/labels/0/name"),
    ('{"text": "x", "labels": [{"name": "a", "colour": 1}]}', "application/json", 422, "/labels/0/colour"),
    ('{"text": "x", "labels": ["a", "A"]}', "application/json", 422, None),
    ('{"text": "x", "multi_label": "yes"}', "application/json", 422, "/multi_label"),
    ('{"text": "x", "threshold": 2}', "application/json", 422, "/threshold"),
    ('{"text": "x", "threshold": "0.5"}', "application/json", 422, "/threshold"),
    ('{"text": "x", "top_k": 0}', "application/json", 422, "/top_k"),
    ('{"text": "x", "top_k": 1.5}', "application/json", 422, "/top_k"),
    ('{"text": "x", "evidence": null}', "application/json", 422, "/evidence"),
    ('{"text": "x", "treshold": 0.3}', "application/json", 422, "/treshold"),
    ('{"text": "x", "taxonomy": "nope"}', "application/json", 404, None),
    ('{"text": "x", "model": "nope"}', "application/json", 404, None),
])
def test_bad_input_matrix(client, data, content_type, status, path):
    kwargs = {"data": data}
    if content_type:
        kwargs["content_type"] = content_type
    body = problem(client.post("/v1/classify", **kwargs), status)
    if path is not None:
        assert path in [e["path"] for e in body["errors"]], body


def test_too_many_documents_and_labels(client):
    docs = [{"id": str(i), "text": "x"} for i in range(65)]
    body = problem(client.post("/v1/classify", json={"documents": docs}), 422)
    assert body["errors"] == [{"path": "/documents", "message": "at most 64 documents"}]
    labels = [f"label {i}" for i in range(101)]
    body = problem(client.post("/v1/classify", json={"text": "x", "labels": labels}), 422)
    assert body["errors"] == [{"path": "/labels", "message": "at most 100 labels"}]


def test_the_body_is_read_as_utf8_only_a_byte_order_mark_allowed(client):
    text = json.dumps({"text": "Oil prices fell after OPEC agreed to raise output."})
    with_mark = b"\xef\xbb\xbf" + text.encode()
    assert client.post("/v1/classify", data=with_mark, content_type="application/json").status_code == 200
    for body in (text.encode("utf-16"), text.encode("utf-32"), b"\xff\xfe" + text.encode()):
        assert problem(client.post("/v1/classify", data=body, content_type="application/json"), 400)["detail"] \
            == "the body is not UTF-8"


def test_a_key_given_twice_in_one_object_is_refused(client):
    """The last one won silently: {"text": "abc", ..., "text": "def"} tagged (and stored) "def"."""
    for body in ('{"text": "Rates rose.", "text": "Goals galore."}',
                 '{"documents": [{"id": "1", "text": "a", "id": "2"}]}'):
        detail = problem(client.post("/v1/classify", data=body, content_type="application/json"), 400)["detail"]
        assert "is given twice in one object: give it once" in detail
    assert client.post("/v1/classify", data='{"text": "Rates rose.", "labels": ["text", "text2"]}',
                       content_type="application/json").status_code == 200


def test_a_count_over_its_limit_is_reported_beside_a_bad_item(client):
    """One answer names every bad field: the count is not hidden by an item's own error."""
    docs = [{"id": str(i), "text": "x"} for i in range(70)]
    docs[3]["text"] = ""
    paths = [e["path"] for e in problem(client.post("/v1/classify", json={"documents": docs}), 422)["errors"]]
    assert "/documents" in paths and "/documents/3/text" in paths
    labels = [f"label {i}" for i in range(101)] + [""]
    answer = problem(client.post("/v1/classify", json={"text": "x", "labels": labels}), 422)
    paths = [e["path"] for e in answer["errors"]]
    assert "/labels" in paths and "/labels/101" in paths


def test_a_compressed_body_is_refused_by_name_and_an_identity_one_is_read(client):
    import gzip

    body = problem(client.post("/v1/classify", data=gzip.compress(b'{"text": "Stocks fell."}'),
                               content_type="application/json", headers={"Content-Encoding": "gzip"}), 415)
    assert "Content-Encoding 'gzip'" in body["detail"]
    plain = client.post("/v1/classify", json={"text": "Stocks fell."}, headers={"Content-Encoding": "identity"})
    assert plain.status_code == 200


def test_body_over_the_limit_is_413(tagger):
    from service import create_app

    client = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "max_body_bytes": 2000}).test_client()
    problem(client.post("/v1/classify", json={"text": "word " * 1000}), 413)
    assert client.post("/v1/classify", json={"text": "word " * 100}).status_code == 200


def test_wrong_method_and_unknown_path_are_problems(client):
    body = problem(client.get("/v1/classify"), 405)
    assert body["title"] == "Method not allowed"
    assert client.get("/v1/classify").headers["Allow"] == "OPTIONS, POST"
    problem(client.delete("/v1/taxonomies"), 405)
    problem(client.get("/v2/classify"), 404)
    problem(client.post("/nowhere", json={}), 404)


def test_a_range_past_the_end_of_a_static_file_is_416_not_500(client):
    """Werkzeug's 416 became a 500 'internal-error' (found by schemathesis-style probing)."""
    for path in ("/static/editor/editor.css", "/docs/static/swagger-ui.css"):
        response = client.get(path, headers={"Range": "bytes=99999999-"})
        assert problem(response, 416)["title"] == "Range not satisfiable"
        assert response.headers["Content-Range"].startswith("bytes */")
    assert client.get("/static/editor/editor.css", headers={"Range": "bytes=0-9"}).status_code == 206


@pytest.mark.parametrize("text", [
    "Президент провёл переговоры с премьер-министром о торговле.",
    "الرئيس يلتقي وزير الخارجية لبحث العلاقات الثنائية",
    "外交部长讨论了两国之间的经济合作。",
    "🚀🔥 Markets rally 📈 as tech stocks surge 💻",
    "Null\u0000byte and bell\u0007 and escape\u001b inside.",
    "\u200f\u202eRTL override\u202c and zero\u200bwidth",
    "a",
    "!!!",
])
def test_any_script_emoji_rtl_and_control_characters_are_handled(client, text):
    response = client.post("/v1/classify", json={"text": text})
    assert response.status_code == 200, response.json
    for topic in response.json["topics"]:
        for ev in topic["evidence"]:
            assert text[ev["start"]:ev["end"]] == ev["text"]


def test_request_ids_are_echoed_or_generated_and_the_log_has_no_text(client, caplog, seed_text):
    logger = logging.getLogger("newstag.access")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="newstag.access"):
            echoed = client.post("/v1/classify", json={"text": seed_text}, headers={"X-Request-ID": "req-42"})
            generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    finally:
        logger.removeHandler(caplog.handler)
    assert echoed.headers["X-Request-ID"] == "req-42"
    assert len(generated.headers["X-Request-ID"]) == 32
    lines = [json.loads(r.getMessage()) for r in caplog.records]
    assert lines[0] == {**lines[0], "request_id": "req-42", "method": "POST", "path": "/v1/classify",
                        "status": 200, "documents": 1}
    assert list(lines[0]) == ["time", "request_id", "method", "path", "status", "latency_ms", "documents"]
    # ISO 8601 in UTC, to the millisecond, as the request was answered.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", lines[0]["time"]), lines[0]["time"]
    assert abs(datetime.fromisoformat(lines[0]["time"]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert "Azerbaijan" not in caplog.text


def test_metrics_count_requests_documents_tokens_and_topics(client, seed_text):
    client.post("/v1/classify", json={"text": seed_text})
    rain = "Heavy rain flooded the city centre on Monday."  # news: the genre check lets it through
    client.post("/v1/classify", json={"text": rain, "labels": ["weather", "sport"], "threshold": 0})
    client.post("/v1/classify", data="{", content_type="application/json")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'newstag_requests_total{endpoint="/v1/classify",method="POST",status="200"} 2.0' in text
    assert 'newstag_requests_total{endpoint="/v1/classify",method="POST",status="400"} 1.0' in text
    assert "newstag_documents_total 2.0" in text
    assert 'newstag_topics_total{label="COP29"} 1.0' in text
    assert 'newstag_topics_total{label="(caller labels)"} 2.0' in text
    assert 'newstag_request_duration_seconds_bucket{endpoint="/v1/classify",le="+Inf"} 3.0' in text
    tokens = next(line for line in text.splitlines() if line.startswith("newstag_tokens_total "))
    assert float(tokens.split()[1]) > 400


def test_made_up_http_methods_share_one_series(client):
    """Gunicorn takes any upper-case token as a method: each one was a new series, no key needed."""
    for i in range(5):
        client.open("/", method=f"M{i:05d}X")
    text = client.get("/metrics").get_data(as_text=True)
    assert "M00001X" not in text
    assert 'newstag_requests_total{endpoint="/",method="(other)",status="405"} 5.0' in text


def test_a_best_topic_under_the_threshold_comes_with_its_warning_and_is_counted(client):
    """The news taxonomy's best topic for a text sure to be news (engine: tests/test_genre.py),
    as a client sees it: its own score under 0.5, a below-threshold warning, the warnings metric."""
    item = ("The Eagles signed their second-year cornerback to a six-year contract extension on Thursday, "
            "keeping him in Philadelphia through 2011.")
    body = client.post("/v1/classify", json={"text": item}).get_json()
    assert [t["label"] for t in body["topics"]] == ["sports"] and body["topics"][0]["score"] < 0.5
    assert [w["code"] for w in body["warnings"]] == ["below-threshold"]
    assert "'sports'" in body["warnings"][0]["message"]
    strict = client.post("/v1/classify", json={"text": item, "threshold": 0.5}).get_json()
    assert strict["topics"] == [] and strict["warnings"] == []
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'newstag_article_warnings_total{code="below-threshold"} 1.0' in metrics


def test_every_response_forbids_framing_and_sniffing_and_no_path_is_rewritten(client):
    """Only the editor's page had these headers (Swagger UI could be framed), and /v1//taxonomies
    was redirected, before the key check, to a URL built from the Host header."""
    for path in ("/docs", "/docs/problems", "/", "/openapi.json", "/healthz", "/v1/taxonomies"):
        response = client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["X-Frame-Options"] == "DENY", path
        if response.mimetype == "text/html":
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path
    assert "script-src 'self'" in client.get("/").headers["Content-Security-Policy"]  # the editor keeps its own
    odd = client.get("/v1//taxonomies", headers={"Host": "evil.example"})
    assert odd.status_code == 404 and "Location" not in odd.headers


def test_a_body_shorter_than_its_content_length_is_malformed(client):
    """Read from the server's own stream (for the body's time limit), a short body was tagged."""
    short = client.post("/v1/classify", data=b'{"text": "Rates rose again today."}', content_type="application/json",
                        environ_overrides={"CONTENT_LENGTH": "100"})
    assert problem(short, 400)["detail"].startswith("the body ended after 35 of the 100 bytes")
