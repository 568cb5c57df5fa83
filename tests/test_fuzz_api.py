"""schemathesis against /openapi.json: generated requests for every operation, checked for
no 5xx, conformance to the spec (status codes, content types, response schemas, headers),
and problem+json on every error.

CI runs NEWSTAG_FUZZ_EXAMPLES (default 30) cases per operation and mode; `make fuzz` runs 250
(over 1,000 cases in all). The tiny random model keeps each case fast: the
properties checked here are the HTTP layer's, not the model's.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from service import create_app
from service.config import Settings
from service.engine import Tagger
from service.http.openapi import build_spec

EXAMPLES = int(os.environ.get("NEWSTAG_FUZZ_EXAMPLES", "30"))
ADMIN_KEY = "fuzz-admin-key"


OPERATIONS = [f"{method.upper()} {path}" for path, item in build_spec()["paths"].items() for method in item]


@pytest.fixture(scope="module")
def api_schema(tiny_model_dir, tmp_path_factory):
    models = tmp_path_factory.mktemp("fuzz-models")
    database = tmp_path_factory.mktemp("fuzz-db") / "feedback.db"
    # A small text limit, so generated texts reach it (422) and no case runs long.
    tagger = Tagger.load(Settings.from_env({}, model=tiny_model_dir, max_text_chars=2000).engine_options())
    app = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "models_dir": models,
                      "admin_keys": ADMIN_KEY, "max_text_chars": 2000, "database_url": f"sqlite:///{database}"})
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


def _check(case) -> None:
    # Not checked: that every schema-valid request is accepted. The API rejects with 422
    # some inputs JSON Schema cannot describe: lone surrogates ("\\ud800"), label names
    # equal but for case, text over the configured length. Every other check runs.
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        content_type = {k.lower(): v for k, v in response.headers.items()}["content-type"]
        assert content_type[0].startswith("application/problem+json"), response.text
        body = response.json()
        assert body["status"] == response.status_code and body["title"] and body["type"]


# schemathesis's pytest plugin does not run under pytest 9 yet, so each operation's
# strategy is driven by hypothesis directly: valid requests, then invalid ones.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("label", OPERATIONS)
def test_every_operation_conforms_and_errors_are_problems(api_schema, label, mode):
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the served /openapi.json"
    cases = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    def run(case) -> None:
        cases.append(case)
        _check(case)

    try:
        run()
    except Unsatisfiable:  # an operation without inputs has no invalid requests to make
        assert mode is GenerationMode.NEGATIVE
    print(f"{label} {mode.value}: {len(cases)} cases")
