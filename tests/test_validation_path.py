"""One validation path: the engine checks a call once, reports every bad field with its path,
names the taxonomy it used, and the HTTP layer shows each path as a JSON pointer."""

from __future__ import annotations

import pytest

from service import create_app
from service.config import Settings
from service.engine import InvalidInputError, Label, UnknownTaxonomyError
from service.errors import FieldProblem
from service.http.parsing import parse_classify
from service.http.problems import ValidationFailed

OK = "Stocks fell in Tokyo. The central bank met on Friday."


def test_the_result_names_the_taxonomy_the_tagger_chose(tiny_tagger):
    assert tiny_tagger.tag([OK])[0].taxonomy == tiny_tagger.options.taxonomy == "news"
    assert {r.taxonomy for r in tiny_tagger.tag([OK, OK], taxonomy="iptc-top")} == {"iptc-top"}
    assert tiny_tagger.tag([OK], ["markets"])[0].taxonomy is None
    assert "taxonomy" not in tiny_tagger.tag([OK])[0].to_dict()  # said once per call, by the caller


def test_every_bad_field_is_reported_at_once_with_its_path(tiny_tagger):
    with pytest.raises(InvalidInputError) as caught:
        tiny_tagger.tag([OK, "  ", "x" * 100_001], ["markets", " ", Label("bank", "\ud800")], threshold=2, top_k=0)
    assert [p.path for p in caught.value.problems] == [
        ("texts", 1), ("texts", 2), ("labels", 1), ("labels", 2), ("threshold",), ("top_k",)]
    assert caught.value.problems[0] == FieldProblem(("texts", 1), "text is empty or only whitespace")
    assert caught.value.problems[1].message == "text has 100001 characters; the limit is 100000"
    # The whole story names each item, for the CLI and batch files.
    assert str(caught.value).startswith("text 1 is empty or only whitespace; text 2 has 100001 characters")


@pytest.mark.parametrize("labels, taxonomy, path, message", [
    (["a", "b", "A"], None, ("labels", 2), "label names must be unique: 'A' is 'a' but for case"),
    (["a", "b", "a"], None, ("labels", 2), "label names must be unique: 'a' again"),
    # Not "but for case" when the case is the same: an invisible character, or the accents' spelling.
    (["спорт", "b", "спорт\u200b"], None, ("labels", 2),
     "label names must be unique: 'спорт\\u200b' is 'спорт' but for invisible characters"),
    (["économie", "b", "e\u0301conomie"], None, ("labels", 2),
     "label names must be unique: 'e\u0301conomie' is 'économie' but for Unicode form (composed or decomposed)"),
    (["a", "b", "A\u200b"], None, ("labels", 2),
     "label names must be unique: 'A\\u200b' is 'a' but for case and invisible characters"),
    (["a"], "news", ("taxonomy",), "labels replace the taxonomy; leave taxonomy out"),
])
def test_what_depends_on_the_label_set_carries_a_path_too(tiny_tagger, labels, taxonomy, path, message):
    with pytest.raises(InvalidInputError) as caught:
        tiny_tagger.tag([OK], labels, taxonomy=taxonomy)
    assert caught.value.problems == (FieldProblem(path, message),)


def test_a_request_is_checked_against_the_limits_without_any_model():
    """parse_classify needs only the options: a bad request gets its 422 while the model loads."""
    options = Settings.from_env({}, max_text_chars=10, max_labels=2).engine_options().tagger
    body = {"documents": [{"id": "a", "text": "fine"}, {"id": "b", "text": "far too long here"}],
            "labels": ["x", "y", "z"]}
    with pytest.raises(ValidationFailed) as caught:
        parse_classify(body, options)
    assert caught.value.errors == [
        {"path": "/documents/1/text", "message": "text has 17 characters; the limit is 10"},
        {"path": "/labels", "message": "at most 2 labels"}]
    with pytest.raises(ValidationFailed) as caught:
        parse_classify({"text": "ok", "labels": [{"name": "ok"}, {"name": " "}]}, options)
    assert caught.value.errors == [{"path": "/labels/1", "message": "label names must not be empty"}]


@pytest.mark.parametrize("name", ["\u200b", "\u200f", "\u00ad", "\ufeff \u2060"])
def test_a_label_of_only_invisible_characters_is_refused(name):
    """A right-to-left mark left alone after a comma ("اقتصاد، \u200f") was a label no one can see,
    kept in corrections as a class to train (a helper's audit); a taxonomy refused such a topic."""
    options = Settings.from_env({}).engine_options().tagger
    with pytest.raises(ValidationFailed) as caught:
        parse_classify({"text": "ok", "labels": ["اقتصاد", name]}, options)
    assert [e["path"] for e in caught.value.errors] == ["/labels/1"]
    assert "invisible" in caught.value.errors[0]["message"]


def test_the_bodys_shape_and_the_engines_limits_are_reported_together():
    """A wrong type must not hide a text over the limit, or a label count, until the first is fixed."""
    options = Settings.from_env({}, max_text_chars=10, max_labels=2).engine_options().tagger
    body = {"documents": [{"id": "a", "text": ""}, {"id": "b", "text": 5}, {"id": "c"},
                          {"id": "d", "text": "far too long here"}, {"id": "a", "text": "again"}],
            "labels": ["x", "y", "z"], "top_k": 0}
    with pytest.raises(ValidationFailed) as caught:
        parse_classify(body, options)
    assert {e["path"] for e in caught.value.errors} == {
        "/documents/0/text", "/documents/1/text", "/documents/2/text", "/top_k",  # the schema's
        "/documents/3/text", "/documents/4/id", "/labels"}  # the limits'
    assert {"path": "/documents/3/text", "message": "text has 17 characters; the limit is 10"} in caught.value.errors
    # Each field once: the empty text is the schema's to name, not the engine's as well.
    assert len(caught.value.errors) == 7
    blank = {"text": "", "labels": [{"name": "cooking", "keywords": ["stew", 3, "  "]}]}
    with pytest.raises(ValidationFailed) as caught:
        parse_classify(blank, options)
    assert {e["path"] for e in caught.value.errors} == {"/text", "/labels/0/keywords/1", "/labels/0/keywords/2"}


def test_a_blank_keyword_is_refused_where_it_would_match_every_text(tiny_tagger):
    options = Settings.from_env({}).engine_options().tagger
    with pytest.raises(ValidationFailed) as caught:
        parse_classify({"text": OK, "labels": [{"name": "cooking", "keywords": ["stew", " \t"]}]}, options)
    assert caught.value.errors == [{"path": "/labels/0/keywords/1", "message": "keywords must not be empty"}]
    with pytest.raises(InvalidInputError) as engine:
        tiny_tagger.tag([OK], [Label("cooking", keywords=("",))])
    assert engine.value.problems == (FieldProblem(("labels", 0, "keywords", 0), "keywords must not be empty"),)


def test_a_calls_keywords_are_limited_in_all_so_its_labels_embed_in_seconds(tiny_tagger):
    labels = [Label(f"label {i}", keywords=tuple(f"word {i} {k}" for k in range(100))) for i in range(11)]
    with pytest.raises(InvalidInputError) as caught:
        tiny_tagger.tag([OK], labels)
    assert caught.value.problems == (FieldProblem(("labels",), "at most 1000 keywords in all labels together"),)
    assert len(tiny_tagger.tag([OK], labels[:10], threshold=0)[0].topics) == 10


def test_an_empty_taxonomy_name_is_refused_not_read_as_the_default(client, tiny_tagger):
    answer = client.post("/v1/classify", json={"text": OK, "taxonomy": ""})
    assert answer.status_code == 422 and answer.json["errors"][0]["path"] == "/taxonomy"
    with pytest.raises(UnknownTaxonomyError, match="unknown taxonomy ''"):
        tiny_tagger.tag([OK], taxonomy="")


def test_two_documents_with_one_id_are_refused_at_the_second():
    """Results carry the ids back, so a repeated id would leave two results a client cannot tell apart."""
    options = Settings.from_env({}).engine_options().tagger
    body = {"documents": [{"id": "a", "text": "one"}, {"id": "b", "text": "two"}, {"id": "a", "text": "three"}]}
    with pytest.raises(ValidationFailed) as caught:
        parse_classify(body, options)
    assert caught.value.errors == [{"path": "/documents/2/id", "message": "document ids must be unique: 'a' again"}]
    assert len(parse_classify({"documents": body["documents"][:2]}, options).documents) == 2


def test_http_points_at_what_only_the_tagger_can_check(client):
    duplicate = client.post("/v1/classify", json={"documents": [{"id": "1", "text": OK}], "labels": ["a", "b", "B"]})
    which = "label names must be unique: 'B' is 'b' but for case"  # the detail names them too (the CLI shows it)
    assert duplicate.status_code == 422 and duplicate.json["detail"] == which
    assert duplicate.json["errors"] == [{"path": "/labels/2", "message": which}]
    both = client.post("/v1/classify", json={"text": OK, "labels": ["a"], "taxonomy": "news"})
    assert both.json["detail"] == "a taxonomy does not apply here: labels replace the taxonomy"


def test_classify_and_feedback_say_the_same_of_the_same_text(tagger, tmp_path):
    client = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "max_text_chars": 20,
                         "database_url": f"sqlite:///{tmp_path}/feedback.db"}).test_client()
    text = "a text of thirty-one characters"
    tagged = client.post("/v1/classify", json={"text": text})
    stored = client.post("/v1/feedback", json={"text": text, "labels": ["economy"], "taxonomy": "news"})
    assert tagged.status_code == stored.status_code == 422
    expected = {"path": "/text", "message": "text has 31 characters; the limit is 20"}
    assert expected in tagged.json["errors"] and expected in stored.json["errors"]


def test_a_fine_tuned_models_unknown_labels_are_pointed_at(tagger, trained_model_dir, tmp_path):
    import shutil

    models = tmp_path / "models"
    shutil.copytree(trained_model_dir, models / "desk-topics")
    client = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "models_dir": models}).test_client()
    answer = client.post("/v1/classify", json={"text": OK, "model": "desk-topics", "labels": ["sport", "crime"]})
    assert answer.status_code == 422 and "fixed labels" in answer.json["detail"]
    assert answer.json["errors"] == [{"path": "/labels/1", "message": "'crime' is not a label of model 'desk-topics'"}]
    plain = client.post("/v1/classify", json={"text": OK, "model": "desk-topics"})
    assert plain.status_code == 200 and plain.json["taxonomy"] is None


def test_labels_given_as_one_string_are_refused_as_such(tiny_tagger):
    """tagger.tag([text], "energy,sports") read the string's characters: "label names must be unique"."""
    with pytest.raises(InvalidInputError, match=r"labels must be a list of label names, not one string "
                                                r"\('energy,sports': give \[\"energy\", \"sports\"\]\)"):
        tiny_tagger.tag(["Oil prices rose."], "energy,sports")  # type: ignore[arg-type]
