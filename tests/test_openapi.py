"""/openapi.json describes exactly what the service accepts and returns."""

from __future__ import annotations

import jsonschema
import pytest


@pytest.fixture()
def spec(client):
    return client.get("/openapi.json").json


def validator(spec, schema):
    # The components ride along in the root document, so "#/components/..." refs resolve.
    return jsonschema.Draft202012Validator({**schema, "components": spec["components"]})


def response_schema(spec, path, method, status, media="application/json"):
    return spec["paths"][path][method]["responses"][str(status)]["content"][media]["schema"]


def test_spec_is_openapi_3_1_with_every_route(spec, app):
    assert spec["openapi"] == "3.1.0"
    routes = {r.rule.replace("<name>", "{name}") for r in app.url_map.iter_rules()
              if not r.rule.startswith(("/static", "/docs", "/openapi"))}
    assert routes == set(spec["paths"])


def test_real_responses_match_their_schemas(client, spec, seed_text):
    cases = [
        ("/v1/classify", "post", {"json": {"text": seed_text}}, 200),
        ("/v1/classify", "post", {"json": {"documents": [{"id": "a", "text": seed_text}], "labels": ["x"]}}, 200),
        ("/v1/classify", "post", {"json": {"text": " "}}, 422),
        ("/v1/classify", "post", {"data": "{", "content_type": "application/json"}, 400),
        ("/v1/classify", "post", {"data": "x", "content_type": "text/plain"}, 415),
        ("/v1/taxonomies", "get", {}, 200),
        ("/v1/taxonomies/news", "get", {}, 200),
        ("/v1/taxonomies/nope", "get", {}, 404),
        ("/v1/models", "get", {}, 200),
        ("/healthz", "get", {}, 200),
        ("/readyz", "get", {}, 200),
    ]
    for path, method, kwargs, status in cases:
        response = getattr(client, method)(path.replace("{name}", "news"), **kwargs)
        assert response.status_code == status
        media = "application/problem+json" if status >= 400 else "application/json"
        validator(spec, response_schema(spec, path.replace("/news", "/{name}").replace("/nope", "/{name}"),
                                        method, status, media)).validate(response.json)


def test_a_status_no_operation_lists_is_still_a_documented_problem(client, spec):
    """405 (with Allow) and 500 come from every route: each operation's "default" response says so."""
    assert all("default" in op["responses"] for ops in spec["paths"].values() for op in ops.values())
    response = client.delete("/v1/classify")
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    schema = spec["paths"]["/v1/classify"]["post"]["responses"]["default"]["content"]["application/problem+json"]
    validator(spec, schema["schema"]).validate(response.json)


@pytest.mark.parametrize("body, valid", [
    ({"text": "x"}, True),
    ({"documents": [{"id": "a", "text": "x"}], "labels": ["a", {"name": "b", "keywords": ["c"]}]}, True),
    ({"text": "x", "threshold": 0.5, "top_k": 2, "multi_label": False, "evidence": False, "model": "m"}, True),
    ({"text": "x", "treshold": 0.5}, False),
    ({"text": 3}, False),
    ({"documents": []}, False),
    ({"text": "x", "labels": [{"name": "a", "colour": "red"}]}, False),
    ({"text": ""}, False),
    ({"text": " \n\t"}, False),
    ({"documents": [{"id": "a", "text": "  "}]}, False),
    # Found by schemathesis: the spec allowed these and the server refused them, or the reverse.
    ({"text": "x", "top_k": 1.0}, True),  # JSON Schema's integer includes 1.0
    ({"text": "x", "top_k": 1.5}, False),
    ({"text": "x", "labels": []}, False),
    ({"text": "x", "labels": ["war", "war"]}, False),
])
def test_request_schema_agrees_with_the_server(client, spec, body, valid):
    schema = spec["paths"]["/v1/classify"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert validator(spec, schema).is_valid(body) == valid
    assert (client.post("/v1/classify", json=body).status_code in (200, 404)) == valid


def test_the_engine_limits_are_in_the_schema_as_the_server_applies_them(tagger):
    """The limits are settings: the spec of a server with its own says so (it gave none)."""
    from service import create_app
    client = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "max_documents": 3, "max_labels": 2,
                         "max_text_chars": 50}).test_client()
    spec = client.get("/openapi.json").json
    schema = spec["paths"]["/v1/classify"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    for body in ({"documents": [{"id": str(i), "text": "News."} for i in range(4)]},
                 {"text": "News.", "labels": ["a", "b", "c"]}, {"text": "x" * 1501}):
        assert not validator(spec, schema).is_valid(body)
        assert client.post("/v1/classify", json=body).status_code == 422
    # Plain text over the limit: the schema states only the bound for HTML with its markup (30 times).
    assert client.post("/v1/classify", json={"text": "x" * 51}).status_code == 422
    assert validator(spec, schema).is_valid({"documents": [{"id": "a", "text": "x" * 50}], "labels": ["a", "b"]})
    feedback = spec["components"]["schemas"]["FeedbackRequest"]["properties"]
    assert feedback["labels"]["maxItems"] == 2 and feedback["text"]["maxLength"] == 1500
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if "503" in operation["responses"]:
                assert "Retry-After" in operation["responses"]["503"]["headers"], (path, method)


def test_docs_page_is_served_locally(client):
    page = client.get("/docs").get_data(as_text=True)
    assert "/docs/static/swagger-ui-bundle.js" in page and "/openapi.json" in page
    assert "http://" not in page and "https://" not in page
    asset = client.get("/docs/static/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000
    assert client.get("/docs/static/../../core.py").status_code == 404
    problems = client.get("/docs/problems").get_data(as_text=True)
    assert 'id="validation-error"' in problems and 'id="overloaded"' in problems


def test_docs_answers_with_a_trailing_slash_too(client):
    with_slash = client.get("/docs/")
    assert with_slash.status_code == 200
    assert with_slash.get_data(as_text=True) == client.get("/docs").get_data(as_text=True)


@pytest.mark.parametrize("text, valid", [("Rates rose.", True), ("", False), ("   ", False)])
def test_feedback_schema_agrees_with_the_server_on_empty_text(tagger, tmp_path, spec, text, valid):
    from service import create_app

    client = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False,
                         "database_url": f"sqlite:///{tmp_path}/feedback.db"}).test_client()
    schema = spec["paths"]["/v1/feedback"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    body = {"text": text, "labels": ["economy"], "taxonomy": "news"}
    assert validator(spec, schema).is_valid(body) == valid
    assert client.post("/v1/feedback", json=body).status_code == (201 if valid else 422)


def test_warning_codes_are_a_closed_list_the_spec_names(spec):
    """Clients switch on warning codes: the spec lists them, and a code outside the list cannot be made."""
    from service.engine.types import WARNING_CODES, Warning

    schemas = spec["components"]["schemas"]
    assert schemas["WarningOut"]["properties"]["code"]["enum"] == list(WARNING_CODES)
    assert set(schemas["FeedbackWarningOut"]["properties"]["code"]["enum"]) == {
        "model-not-loaded", "model-version-changed", "predicted-not-model-labels"}
    with pytest.raises(ValueError, match="unknown warning code"):
        Warning("low-confidence", "a code the schema does not list")


def test_a_topics_rival_rules_say_in_the_schema_which_answers_they_apply_to(spec):
    """Read alone, the schema said a topic yielding to a rival is left out of every answer; a
    single-label call returns the best topic, which yields to none, and the best one no phrase
    rules out (docs/taxonomies.md)."""
    topic = spec["components"]["schemas"]["TaxonomyTopic"]["properties"]
    assert "multi-label" in topic["yields_to"]["description"], topic["yields_to"]["description"]
    assert "single-label call returns the best topic no phrase rules out" in topic["ruled_out_by"]["description"]
