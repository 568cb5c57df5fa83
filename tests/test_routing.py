"""Routing by language, with two tiny random models: one reading English (the default's
stand-in), one reading several languages (the multilingual model's stand-in)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from transformers import BertModel

from service import create_app
from service.config import Settings
from service.engine import ConfigError, InvalidInputError, Tagger, routing
from service.engine.routing import RoutedTagger, load_tagger
from tests.conftest import _save_tokenizer, _tiny_config

LABELS = ["economy", "football", "climate"]
ENGLISH = "The central bank raised interest rates again on Tuesday, and markets fell sharply."
RUSSIAN = "Центральный банк во вторник снова повысил процентные ставки, и рынки резко упали."
FRENCH = "La banque centrale a encore relevé ses taux mardi, et les marchés ont fortement baissé."
JAPANESE = "中央銀行は火曜日に再び金利を引き上げ、市場は急落した。"
NUMBERS = "12345 67890 2024"


def _card(directory: Path, languages: list[str]) -> None:
    listed = "".join(f"\n  - {code}" for code in languages)
    (directory / "README.md").write_text(f"---\nlanguage:{listed}\n---\n\nA tiny random model for tests.\n")


@pytest.fixture(scope="module")
def english_dir(tiny_model_dir, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("m") / "tiny-english"
    shutil.copytree(tiny_model_dir, target)
    _card(target, ["en"])
    return target


@pytest.fixture(scope="module")
def multilingual_dir(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("m") / "tiny-multilingual"
    torch.manual_seed(2)
    BertModel(_tiny_config()).save_pretrained(target, safe_serialization=True)
    _save_tokenizer(target)
    _card(target, ["en", "ru", "fr", "az"])  # no Japanese
    return target


@pytest.fixture(scope="module")
def routed(english_dir, multilingual_dir) -> Tagger:
    settings = Settings.from_env({}, model=english_dir, multilingual_model=str(multilingual_dir))
    return load_tagger(settings.engine_options())


def test_each_text_goes_to_the_model_for_its_language_in_one_call(routed):
    assert isinstance(routed, RoutedTagger)
    texts = [RUSSIAN, ENGLISH, FRENCH, NUMBERS, JAPANESE]
    results = routed.tag(texts, LABELS)
    assert [(r.language, r.model) for r in results] == [
        ("ru", "tiny-multilingual"), ("en", "tiny-english"), ("fr", "tiny-multilingual"),
        ("und", "tiny-english"),  # too little to tell: the fast default
        ("ja", "tiny-english")]  # neither model reads it: the default, with the warning
    # Digits alone carry no topic (nothing-to-read); Japanese is read by neither model.
    assert [[w.code for w in r.warnings] for r in results] == [[], [], [], ["nothing-to-read"],
                                                               ["language-unsupported"]]
    assert "'ja'" in results[4].warnings[0].message


def test_a_short_text_in_another_script_goes_to_the_multilingual_model(routed):
    """"ЦСКА" is too short for its language to be told ("und"), but it is not English: the default
    model gave such a text ("«Спартак» обыграл ЦСКА", now told Russian) a confident wrong topic."""
    cyrillic, latin, told = routed.tag(["ЦСКА", "Oil rises", "«Спартак» обыграл ЦСКА"], LABELS)
    assert (cyrillic.language, cyrillic.model) == ("und", "tiny-multilingual")
    assert (latin.language, latin.model) == ("und", "tiny-english")  # English's letters: the default, as before
    assert (told.language, told.model) == ("ru", "tiny-multilingual")


def test_a_short_text_with_letters_english_does_not_write_goes_to_the_multilingual_model(routed):
    """"Neft bahalaşıb" (Azerbaijani: oil has risen) is too short to tell its language, and the English
    model gave it religion 0.55; "Öl steigt" is German. A ligature is English's "fi"."""
    results = routed.tag(["Neft bahalaşıb", "Öl steigt", "ﬁnance", "Oil rises"], LABELS)
    assert [(r.language, r.model) for r in results] == [
        ("und", "tiny-multilingual"), ("und", "tiny-multilingual"), ("und", "tiny-english"), ("und", "tiny-english")]


def test_labels_named_in_another_language_send_every_text_to_the_model_that_reads_them(routed, tmp_path):
    """An English article with Russian section names got no topic and no warning from the English model."""
    [english] = routed.tag([ENGLISH], ["экономика", "спорт", "политика"])
    assert (english.language, english.model) == ("en", "tiny-multilingual")
    [same] = routed.tag([ENGLISH], LABELS)  # English names: the default, as before
    assert same.model == "tiny-english"


def test_each_texts_language_is_read_once_in_a_routed_call(routed, monkeypatch):
    """Routing reads each text's language and hands it to the tagger it picks, which does not read it again."""
    from service.engine import language, tagger

    read: list[str] = []

    def counting(text: str) -> language.DetectedLanguage:
        read.append(text)
        return language.detect_language(text)

    monkeypatch.setattr(routing, "detect_language", counting)
    monkeypatch.setattr(tagger, "detect_language", counting)
    results = routed.tag([RUSSIAN, ENGLISH, JAPANESE], LABELS)
    assert sorted(read) == sorted([RUSSIAN, ENGLISH, JAPANESE])
    assert [r.language for r in results] == ["ru", "en", "ja"]
    read.clear()
    routed.default.tag([ENGLISH], LABELS)  # a tagger called on its own reads the language itself
    assert read == [ENGLISH]
    with pytest.raises(ValueError, match="2 languages for 1 texts"):
        routed.default.tag([ENGLISH], LABELS, languages=["en", "fr"])


def test_a_routed_result_is_the_chosen_models_own_answer(routed):
    """Scores are the multilingual model's, not the default's, and do not depend on the batch's mix."""
    [alone_ru] = routed.multilingual.tag([RUSSIAN], LABELS)
    [alone_en] = routed.default.tag([ENGLISH], LABELS)
    mixed = routed.tag([ENGLISH, RUSSIAN], LABELS, threshold=0.0)
    assert mixed[1].topics == routed.multilingual.tag([RUSSIAN], LABELS, threshold=0.0)[0].topics
    assert mixed[0].topics == routed.default.tag([ENGLISH], LABELS, threshold=0.0)[0].topics
    assert (alone_ru.model, alone_en.model) == ("tiny-multilingual", "tiny-english")
    assert routed.default.tag([RUSSIAN], LABELS, threshold=0.0)[0].topics != mixed[1].topics


def test_bad_input_is_refused_before_any_model_runs(routed):
    with pytest.raises(InvalidInputError, match="text 1 is empty"):
        routed.tag([RUSSIAN, "  "], LABELS)
    with pytest.raises(InvalidInputError, match="label names must be unique"):
        routed.tag([RUSSIAN], ["economy", "Economy"])


def test_without_a_multilingual_model_other_languages_keep_the_warning(english_dir):
    tagger = load_tagger(Settings.from_env({}, model=english_dir, multilingual_model="off").engine_options())
    assert not isinstance(tagger, RoutedTagger)
    [result] = tagger.tag([RUSSIAN], LABELS)
    assert result.model == "tiny-english" and [w.code for w in result.warnings] == ["language-unsupported"]


def test_auto_routes_only_when_the_model_is_installed_in_its_place(english_dir, multilingual_dir, monkeypatch):
    settings = Settings.from_env({"NEWSTAG_MULTILINGUAL_MODEL": "auto"}, model=english_dir)
    assert not isinstance(load_tagger(settings.engine_options()), RoutedTagger)  # conftest: nothing installed
    monkeypatch.setattr(routing, "DEFAULT_MULTILINGUAL_DIR", multilingual_dir)
    assert isinstance(load_tagger(settings.engine_options()), RoutedTagger)


def test_a_named_multilingual_model_must_exist(english_dir, tmp_path):
    settings = Settings.from_env({"NEWSTAG_MULTILINGUAL_MODEL": str(tmp_path / "typo")}, model=english_dir)
    with pytest.raises(ConfigError, match="NEWSTAG_MULTILINGUAL_MODEL=.*typo.*no such directory"):
        load_tagger(settings.engine_options())
    with pytest.raises(ConfigError, match="NEWSTAG_MULTILINGUAL_MODEL must be"):
        Settings.from_env({}, multilingual_model=" ")


def test_the_multilingual_model_as_the_model_serves_everything(multilingual_dir):
    settings = Settings.from_env({}, model=multilingual_dir, multilingual_model=str(multilingual_dir))
    tagger = load_tagger(settings.engine_options())
    assert not isinstance(tagger, RoutedTagger)
    assert [r.model for r in tagger.tag([ENGLISH, RUSSIAN], LABELS)] == ["tiny-multilingual"] * 2


def test_a_model_whose_languages_are_unknown_is_not_routed_around(tiny_model_dir, multilingual_dir):
    settings = Settings.from_env({}, model=tiny_model_dir, multilingual_model=str(multilingual_dir))
    tagger = load_tagger(settings.engine_options())
    assert not isinstance(tagger, RoutedTagger)


@pytest.fixture()
def routed_client(routed):
    return create_app({"TAGGER": routed, "LOAD_IN_BACKGROUND": False}).test_client()


def test_the_answer_names_the_model_that_tagged_each_text(routed_client, routed):
    docs = [{"id": "ru", "text": RUSSIAN}, {"id": "en", "text": ENGLISH}]
    body = routed_client.post("/v1/classify", json={"documents": docs, "labels": LABELS}).json
    served = {r["id"]: (r["language"], r["model"]["name"], r["warnings"]) for r in body["results"]}
    assert served == {"ru": ("ru", "tiny-multilingual", []), "en": ("en", "tiny-english", [])}
    assert body["model"]["name"] == "tiny-english"  # the model asked for: the default
    version = routed.multilingual.backend.model_version
    assert body["results"][0]["model"] == {"name": "tiny-multilingual", "kind": "embedding", "version": version}
    single = routed_client.post("/v1/classify", json={"text": RUSSIAN, "labels": LABELS}).json
    assert single["model"]["name"] == "tiny-multilingual" and single["language"] == "ru"


def test_naming_a_model_tags_with_that_model_only(routed_client):
    pinned = routed_client.post("/v1/classify", json={"text": RUSSIAN, "labels": LABELS, "model": "tiny-english"}).json
    assert pinned["model"]["name"] == "tiny-english"
    assert [w["code"] for w in pinned["warnings"]] == ["language-unsupported"]
    english = routed_client.post("/v1/classify",
                                 json={"text": ENGLISH, "labels": LABELS, "model": "tiny-multilingual"}).json
    assert english["model"]["name"] == "tiny-multilingual"
    models = routed_client.get("/v1/models").json["models"]
    assert [(m["name"], m["default"]) for m in models] == [("tiny-english", True), ("tiny-multilingual", False)]


def test_metrics_count_each_text_under_the_model_that_tagged_it(routed_client):
    docs = [{"id": "ru", "text": RUSSIAN}, {"id": "fr", "text": FRENCH}, {"id": "en", "text": ENGLISH}]
    assert routed_client.post("/v1/classify", json={"documents": docs, "labels": LABELS}).status_code == 200
    lines = routed_client.get("/metrics").text.splitlines()
    counted = {name: [line.rsplit(" ", 1)[1] for line in lines
                      if line.startswith("newstag_articles_total{") and f'model="{name}"' in line]
               for name in ("tiny-multilingual", "tiny-english")}
    assert counted == {"tiny-multilingual": ["2.0"], "tiny-english": ["1.0"]}


def _multilingual_load_raises(monkeypatch, multilingual_dir: Path, error: Exception) -> None:
    """Loading the multilingual model raises ``error``; every other model loads."""
    from service.engine import loading

    real = loading.load_backend

    def load_backend(options):
        if options.model == multilingual_dir:
            raise error
        return real(options)

    monkeypatch.setattr(loading, "load_backend", load_backend)


def test_a_multilingual_model_that_cannot_load_leaves_the_default_serving(english_dir, multilingual_dir, monkeypatch,
                                                                        caplog):
    """int8 with no ONNX graph for EmbeddingGemma kept every request, English ones too, at 503."""
    _multilingual_load_raises(monkeypatch, multilingual_dir,
                              ConfigError("NEWSTAG_PRECISION=int8 is not supported for it on torch"))
    tagger = load_tagger(Settings.from_env({}, model=english_dir, multilingual_model=str(multilingual_dir))
                         .engine_options())
    assert not isinstance(tagger, RoutedTagger)
    english, russian = tagger.tag([ENGLISH, RUSSIAN], LABELS)
    assert english.model == russian.model == "tiny-english"
    assert [w.code for w in russian.warnings] == ["language-unsupported"]
    assert "multilingual model" in caplog.text and "int8 is not supported" in caplog.text
    # GET /v1/models names it among the errors: its listing said nothing while routing was off.
    client = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False}).test_client()
    errors = client.get("/v1/models").json["errors"]
    assert list(errors) == [multilingual_dir.name] and "int8 is not supported" in errors[multilingual_dir.name]


def test_a_multilingual_model_or_graph_that_fails_its_check_is_refused_not_left_out(english_dir, multilingual_dir,
                                                                                   monkeypatch):
    """A tampered ONNX graph of EmbeddingGemma: the service started ready, every Russian text on the
    English model, and nothing in /v1/models; configuration.md says such a graph is refused."""
    from service.engine import ModelLoadError

    _multilingual_load_raises(monkeypatch, multilingual_dir,
                              ModelLoadError("the ONNX graph fails its SHA-256 check: model.onnx"))
    with pytest.raises(ModelLoadError, match="fails its SHA-256 check"):
        load_tagger(Settings.from_env({}, model=english_dir, multilingual_model=str(multilingual_dir)).engine_options())


def test_labels_whose_keywords_are_in_another_language_go_to_the_model_that_reads_them(routed):
    """English names with Russian keywords were read by the English model, keywords and all, with
    no warning: "finance" fell from 0.99 to 0.36 on an English text (a helper's audit)."""
    from service.engine.types import Label

    labels = [Label("finance", keywords=("ставка", "инфляция", "рубль", "центральный банк")),
              Label("sport", keywords=("футбол", "матч", "чемпионат"))]
    [result] = routed.tag([ENGLISH], labels)
    assert result.model == "tiny-multilingual"
    [alone] = routed.default.tag([ENGLISH], labels)  # the English model alone says it cannot read them
    assert [w.code for w in alone.warnings] == ["language-unsupported"]
    assert "names, descriptions and keywords" in alone.warnings[0].message


def test_labels_in_another_script_too_short_to_tell_go_to_the_model_that_reads_them(routed):
    """["спорт", "культура"] is too little for its language to be told ("und"), but it is not
    English: the English model gave an English text no topic and no warning (a helper's audit)."""
    [english] = routed.tag([ENGLISH], ["спорт", "культура"])
    assert english.model == "tiny-multilingual"
    [alone] = routed.default.tag([ENGLISH], ["спорт", "культура"])  # without routing: the warning
    assert [w.code for w in alone.warnings] == ["language-unsupported"]
    assert "another script" in alone.warnings[0].message
    [latin] = routed.tag([ENGLISH], ["Sport", "Kultur"])  # Latin letters are not judged, as before
    assert latin.model == "tiny-english" and not latin.warnings


def test_the_command_lines_router_loads_the_multilingual_model_only_for_a_text_that_goes_there(
        english_dir, multilingual_dir, routed, monkeypatch):
    """With EmbeddingGemma installed, `newstag tag` of an English sentence spent 9 of its 16 s
    loading it (docs/benchmarks.md, "Label vectors kept between starts")."""
    from service.engine import loading

    loaded, load = [], loading.load_backend

    def counting(options):
        loaded.append(options.model)
        return load(options)

    monkeypatch.setattr(loading, "load_backend", counting)
    settings = Settings.from_env({}, model=english_dir, multilingual_model=str(multilingual_dir))
    lazy = load_tagger(settings.engine_options(), lazy=True)
    assert isinstance(lazy, RoutedTagger) and loaded == [english_dir]
    [english] = lazy.tag([ENGLISH], LABELS)
    assert loaded == [english_dir] and list(lazy.models) == ["tiny-english"]
    assert english.to_dict() == routed.tag([ENGLISH], LABELS)[0].to_dict()
    results = lazy.tag([RUSSIAN, ENGLISH, RUSSIAN], LABELS)
    assert loaded == [english_dir, multilingual_dir]  # once
    assert [r.to_dict() for r in results] == [r.to_dict() for r in routed.tag([RUSSIAN, ENGLISH, RUSSIAN], LABELS)]
    assert list(lazy.models) == ["tiny-english", "tiny-multilingual"]


def test_a_multilingual_model_that_cannot_load_when_first_needed_leaves_the_default_serving(
        english_dir, multilingual_dir, monkeypatch):
    _multilingual_load_raises(monkeypatch, multilingual_dir,
                              ConfigError("NEWSTAG_PRECISION=int8 is not supported for it on torch"))
    lazy = load_tagger(Settings.from_env({}, model=english_dir, multilingual_model=str(multilingual_dir))
                       .engine_options(), lazy=True)
    english, russian = lazy.tag([ENGLISH, RUSSIAN], LABELS)
    assert english.model == russian.model == "tiny-english"
    assert [w.code for w in russian.warnings] == ["language-unsupported"]
    assert list(lazy.default.left_out) == [multilingual_dir.name]


def test_an_html_page_is_routed_by_its_text_not_its_markup(routed):
    """A short Cyrillic headline wrapped in markup read as Latin by its tag and attribute names,
    and went to the English model; a French page with a long head was told by the head's blanks."""
    headline = "<div class=\"headline\"><h1 class=\"title\">ЦСКА</h1></div>"
    head = "<html><head><script>" + "window.dataLayer.push({'event': 'view'});" * 500 + "</script></head><body>"
    page = f"{head}<article><p>{FRENCH}</p></article></body></html>"
    cyrillic, french = routed.tag([headline, page], LABELS)
    assert (cyrillic.language, cyrillic.model) == ("und", "tiny-multilingual")
    assert (french.language, french.model) == ("fr", "tiny-multilingual")
