"""The live signals in /metrics: label shares, no-topic articles, top scores, languages,
editors' corrections; and their label values stay a closed set whatever callers send."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from service import create_app
from service.engine.types import TagResult, Topic, Warning
from service.feedback import Correction
from service.http.metrics import (
    CUSTOM_LABEL,
    LANGUAGES,
    MODEL_LABELS,
    NO_MODEL,
    OTHER,
    PROBLEM_TYPES,
    UNMATCHED,
    Metrics,
)

MODEL = "all-MiniLM-L6-v2"


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """{(sample name, its labels): value} of a Prometheus exposition."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def series(found: dict, name: str) -> list[dict[str, str]]:
    return [dict(labels) for (sample, labels) in found if sample == name]


@pytest.fixture()
def monitored(tagger, tmp_path):
    app = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False,
                      "database_url": f"sqlite:///{tmp_path}/feedback.db"})
    return app.test_client()


def test_tagging_counts_articles_labels_no_topic_scores_and_languages(monitored, seed_text):
    body = monitored.post("/v1/classify", json={"text": seed_text}).json
    latin = monitored.post("/v1/classify", json={"text": "Lorem ipsum dolor sit amet, consectetur adipiscing.",
                                                 "threshold": 0.99}).json
    assert latin["topics"] == [] and latin["language"] == "la"
    french = monitored.post("/v1/classify", json={"text": "Le gouvernement a annoncé une hausse des impôts "
                                                          "pour financer les hôpitaux publics."}).json
    rain = monitored.post("/v1/classify", json={"text": "Heavy rain is expected across the country all week.",
                                                "labels": ["weather", "sport"], "threshold": 0}).json
    assert [body["language"], french["language"], rain["language"]] == ["en", "fr", "en"]
    found = samples(monitored.get("/metrics").get_data(as_text=True))

    assert value(found, "newstag_articles_total", model=MODEL, taxonomy="news") == 3
    assert value(found, "newstag_articles_total", model=MODEL, taxonomy=CUSTOM_LABEL) == 1
    for topic in body["topics"]:
        expected = 1 + sum(t["label"] == topic["label"] for t in french["topics"])
        assert value(found, "newstag_label_articles_total", model=MODEL, taxonomy="news",
                     label=topic["label"]) == expected
    # Caller labels share one series, whatever they were, counted once per article: the rain got
    # both labels at threshold 0, and counted twice its share of articles was 2.
    assert len(rain["topics"]) == 2
    assert value(found, "newstag_label_articles_total", model=MODEL, taxonomy=CUSTOM_LABEL,
                 label=CUSTOM_LABEL) == 1
    assert value(found, "newstag_topics_total", label=CUSTOM_LABEL) == 2  # topics, not articles
    assert value(found, "newstag_no_topic_articles_total", model=MODEL, taxonomy="news") == 1
    tops = [max(t["score"] for t in r["topics"]) for r in (body, french) if r["topics"]]
    assert value(found, "newstag_top_score_count", model=MODEL, taxonomy="news") == len(tops)
    assert value(found, "newstag_top_score_sum", model=MODEL, taxonomy="news") == pytest.approx(sum(tops))
    assert value(found, "newstag_top_score_bucket", model=MODEL, taxonomy="news", le="0.5") == sum(
        top <= 0.5 for top in tops)
    assert value(found, "newstag_article_languages_total", language="en") == 2  # the seed, the rain
    assert value(found, "newstag_article_languages_total", language="fr") == 1
    assert value(found, "newstag_article_languages_total", language=OTHER) == 1  # Latin is not in LANGUAGES
    assert value(found, "newstag_article_warnings_total", code="language-unsupported") == 2


def test_corrections_count_reviewed_changed_added_and_removed(monitored, seed_text):
    posts = [
        {"text": seed_text, "labels": ["economy", "demining"], "taxonomy": "news", "model": MODEL,
         "predicted": ["economy", "COP29"]},
        {"text": "Rates rose.", "labels": ["economy"], "taxonomy": "news", "model": MODEL, "predicted": ["economy"]},
        {"text": "Rain all week.", "labels": ["weather"], "taxonomy": None, "model": MODEL,
         "predicted": ["sport"]},
        {"text": "No prediction sent.", "labels": ["economy"], "taxonomy": "news"},
    ]
    for body in posts:
        assert monitored.post("/v1/feedback", json=body).status_code == 201
    found = samples(monitored.get("/metrics").get_data(as_text=True))

    assert value(found, "newstag_feedback_corrections_total", model=MODEL, taxonomy="news") == 2
    assert value(found, "newstag_feedback_corrections_total", model=MODEL, taxonomy=CUSTOM_LABEL) == 1
    assert value(found, "newstag_feedback_corrections_total", model=NO_MODEL, taxonomy="news") == 1
    assert value(found, "newstag_feedback_reviewed_total", model=MODEL) == 3
    assert value(found, "newstag_feedback_changed_total", model=MODEL) == 2
    assert value(found, "newstag_feedback_reviewed_total", model=NO_MODEL) is None  # nothing to compare with
    assert value(found, "newstag_feedback_labels_added_total", model=MODEL, taxonomy="news", label="demining") == 1
    assert value(found, "newstag_feedback_labels_removed_total", model=MODEL, taxonomy="news", label="COP29") == 1
    assert value(found, "newstag_feedback_labels_added_total", model=MODEL, taxonomy=CUSTOM_LABEL,
                 label=CUSTOM_LABEL) == 1
    added = sorted(series(found, "newstag_feedback_labels_added_total"), key=lambda d: d["label"])
    assert added == [{"model": MODEL, "taxonomy": CUSTOM_LABEL, "label": CUSTOM_LABEL},
                     {"model": MODEL, "taxonomy": "news", "label": "demining"}]


def test_a_rejected_correction_is_not_counted(monitored):
    response = monitored.post("/v1/feedback", json={"text": "Rates rose.", "labels": ["econmy"], "taxonomy": "news",
                                                    "model": MODEL, "predicted": ["economy"]})
    assert response.status_code == 422
    found = samples(monitored.get("/metrics").get_data(as_text=True))
    assert not series(found, "newstag_feedback_corrections_total")
    assert not series(found, "newstag_feedback_reviewed_total")


def test_callers_cannot_grow_the_number_of_series():
    """Hundreds of typed labels, model names and languages still make a handful of series."""
    metrics = Metrics()
    for i in range(300):
        result = TagResult(topics=(Topic(f"label {i}", 0.9),), language=f"x{i}",
                           warnings=(Warning("language-unsupported", f"message {i}"),))
        metrics.observe_tags([result], MODEL, CUSTOM_LABEL)
        metrics.observe_correction(Correction(text=f"text {i}", labels=(f"typed {i}",), taxonomy=None,
                                              model=f"model {i}", predicted=(f"other {i}",)), None, {MODEL: None})
    found = samples(metrics.exposition().decode())
    assert len(series(found, "newstag_label_articles_total")) == 1
    assert len(series(found, "newstag_topics_total")) == 1
    assert series(found, "newstag_article_languages_total") == [{"language": OTHER}]
    assert len(series(found, "newstag_article_warnings_total")) == 1
    assert series(found, "newstag_feedback_labels_added_total") == [
        {"model": OTHER, "taxonomy": CUSTOM_LABEL, "label": CUSTOM_LABEL}]
    assert value(found, "newstag_feedback_labels_added_total", model=OTHER, taxonomy=CUSTOM_LABEL,
                 label=CUSTOM_LABEL) == 300
    assert "und" in LANGUAGES and "en" in LANGUAGES


def test_a_fine_tuned_models_own_labels_are_counted_by_name():
    """Its labels come from its directory, not from callers: each gets its series, under MODEL_LABELS."""
    metrics = Metrics()
    metrics.observe_tags([TagResult(topics=(Topic("sport", 0.8), Topic("economy", 0.6)), language="en")],
                         "desk-topics", MODEL_LABELS)
    models = {"desk-topics": ["sport", "economy", "health"], MODEL: None}
    metrics.observe_correction(Correction(text="t", labels=("health",), taxonomy=None, model="desk-topics",
                                          predicted=("sport", "made up")), None, models)
    found = samples(metrics.exposition().decode())
    assert value(found, "newstag_label_articles_total", model="desk-topics", taxonomy=MODEL_LABELS,
                 label="sport") == 1
    assert value(found, "newstag_top_score_sum", model="desk-topics", taxonomy=MODEL_LABELS) == pytest.approx(0.8)
    assert value(found, "newstag_topics_total", label=CUSTOM_LABEL) == 2  # this older metric pools them
    assert value(found, "newstag_feedback_labels_added_total", model="desk-topics", taxonomy=MODEL_LABELS,
                 label="health") == 1
    removed = {d["label"] for d in series(found, "newstag_feedback_labels_removed_total")}
    assert removed == {"sport", CUSTOM_LABEL}  # "made up" is not one of its labels


def test_the_exposition_says_its_format_version_and_a_correction_without_a_model_is_none_in_both_counts(monitored):
    assert monitored.get("/metrics").headers["Content-Type"] == "text/plain; version=1.0.0; charset=utf-8"
    text = "The central bank raised interest rates again on Thursday."
    assert monitored.post("/v1/feedback", json={"text": text, "labels": ["economy"], "taxonomy": "news",
                                                 "predicted": ["business"]}).status_code == 201
    assert monitored.get("/v1/feedback/stats").json["models"] == {NO_MODEL: {"reviewed": 1, "changed": 1}}
    found = samples(monitored.get("/metrics").get_data(as_text=True))
    assert {s["model"] for s in series(found, "newstag_feedback_labels_added_total")} == {NO_MODEL}


def test_a_method_a_route_does_not_allow_is_counted_under_the_route_and_unknown_paths_under_one_value(monitored):
    """A 405 is a request to the API (the /v1 rules must see it); a path that matches no route
    is not, and whatever paths callers send they share one series."""
    assert monitored.get("/v1/classify").status_code == 405
    assert monitored.delete("/v1/taxonomies/news").status_code == 405
    for path in ("/v1/nope", "/v1/classify/extra", "/anything/%00/else"):
        assert monitored.get(path).status_code == 404
    found = samples(monitored.get("/metrics").get_data(as_text=True))
    assert value(found, "newstag_requests_total", endpoint="/v1/classify", method="GET", status="405") == 1
    assert value(found, "newstag_requests_total", endpoint="/v1/taxonomies/<name>", method="DELETE",
                 status="405") == 1
    assert value(found, "newstag_requests_total", endpoint=UNMATCHED, method="GET", status="404") == 3
    assert {s["endpoint"] for s in series(found, "newstag_requests_total")} == {
        "/v1/classify", "/v1/taxonomies/<name>", UNMATCHED}


def test_the_two_413s_are_told_apart_by_their_problem_type(tagger):
    """A request that alone needs more than the time limit and a body over the limit are both
    413: only the problem type says which, and the time-limit alert reads it."""
    client = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "request_timeout": 1e-6,
                         "max_body_bytes": 2000}).test_client()
    slow = client.post("/v1/classify", json={"text": "The central bank raised interest rates again. " * 30})
    assert slow.status_code == 413 and slow.json["type"].endswith("#too-much-to-tag")
    big = client.post("/v1/classify", json={"text": "x" * 3000})
    assert big.status_code == 413 and big.json["type"].endswith("#payload-too-large")
    assert client.get("/v1/classify").status_code == 405
    found = samples(client.get("/metrics").get_data(as_text=True))
    assert value(found, "newstag_requests_total", endpoint="/v1/classify", method="POST", status="413") == 2
    assert value(found, "newstag_request_problems_total", endpoint="/v1/classify", problem="too-much-to-tag") == 1
    assert value(found, "newstag_request_problems_total", endpoint="/v1/classify", problem="payload-too-large") == 1
    assert value(found, "newstag_request_problems_total", endpoint="/v1/classify", problem="method-not-allowed") == 1
    assert len(series(found, "newstag_request_problems_total")) == 3


def test_a_problem_type_is_counted_only_from_the_closed_set():
    metrics = Metrics()
    for i in range(50):
        metrics.observe_problem("/v1/classify", f"made-up-{i}")
    metrics.observe_problem("/v1/classify", "too-much-to-tag")
    found = samples(metrics.exposition().decode())
    assert value(found, "newstag_request_problems_total", endpoint="/v1/classify", problem=OTHER) == 50
    assert len(series(found, "newstag_request_problems_total")) == 2
    assert {"too-much-to-tag", "payload-too-large", "overloaded"} <= PROBLEM_TYPES


def engine_warning_codes() -> set[str]:
    """Every code the service passes to ``Warning(...)``, read from its source."""
    root = Path(__file__).resolve().parent.parent / "service"
    codes = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Warning"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                codes.add(node.args[0].value)
    return codes


def test_the_docs_list_every_warning_code_the_engine_emits():
    codes = engine_warning_codes()
    assert {"language-unsupported", "not-news", "below-threshold", "nothing-to-read"} <= codes
    docs = (Path(__file__).resolve().parent.parent / "docs" / "monitoring.md").read_text(encoding="utf-8")
    row = next(line for line in docs.splitlines() if line.startswith("| `newstag_article_warnings_total`"))
    assert set(re.findall(r"`([a-z-]+)`", row)) == codes


def test_the_docs_count_the_warning_codes_and_the_built_in_topics_as_they_are():
    """monitoring.md said "the five above" for six warning codes (feed-items came later), and
    38 topics in `news` (56 series a metric) after an accidents topic made it 39."""
    from service.engine.taxonomy import served_taxonomies
    from service.engine.types import WARNING_CODES

    docs = (Path(__file__).resolve().parent.parent / "docs" / "monitoring.md").read_text(encoding="utf-8")
    words = {"four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
    said = re.search(r"\*\*code\*\*: the engine's warning codes, the (\w+) above", docs)
    assert said and words.get(said.group(1)) == len(WARNING_CODES)
    taxonomies = served_taxonomies(None, "news")
    sizes = [len(taxonomies.get(name).labels) for name in ("news", "iptc-top")]
    said = re.search(r"built-in taxonomies \((\d+) and (\d+) topics\) and one model that is at most (\d+)\s+"
                     r"series per metric \((\d+) topics", docs)
    assert said and [int(x) for x in said.groups()] == [*sizes, sum(sizes) + 1, sum(sizes)]
    assert f"({sizes[0]} in `news`)" in docs


def test_every_label_of_a_label_set_has_a_series_from_the_first_article(monitored, seed_text):
    """A series appeared only once counted: after a restart (a rolling update) a label no article
    got yet had no series, its share of the last hour was absent instead of 0, and a label that
    stopped being given never raised NewstagLabelShareFarFromBaseline. The first article tagged
    with a label set makes every one of its labels' series (and the no-topic one) at 0."""
    from service.engine.taxonomy import served_taxonomies

    body = monitored.post("/v1/classify", json={"text": seed_text}).json
    found = samples(monitored.get("/metrics").get_data(as_text=True))
    topics = [label.name for label in served_taxonomies(None, "news").get("news").labels]
    given = {t["label"] for t in body["topics"]}
    assert given and len(given) < len(topics)
    for topic in topics:
        assert value(found, "newstag_label_articles_total", model=MODEL, taxonomy="news",
                     label=topic) == (1 if topic in given else 0)
    assert value(found, "newstag_no_topic_articles_total", model=MODEL, taxonomy="news") == 0
    # Only the label sets tagged with: none for iptc-top, one pooled series for caller labels.
    assert not [s for s in series(found, "newstag_label_articles_total") if s["taxonomy"] != "news"]
    monitored.post("/v1/classify", json={"text": seed_text, "labels": ["weather", "sport"], "threshold": 0.99})
    found = samples(monitored.get("/metrics").get_data(as_text=True))
    assert [s["label"] for s in series(found, "newstag_label_articles_total")
            if s["taxonomy"] == CUSTOM_LABEL] == [CUSTOM_LABEL]
    assert value(found, "newstag_label_articles_total", model=MODEL, taxonomy=CUSTOM_LABEL, label=CUSTOM_LABEL) == 0
