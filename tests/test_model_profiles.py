"""Per-model choices at load: the weights' manifest check, their calibration, prompts and windows."""

from __future__ import annotations

import json
import shutil

import pytest

from service.config import Settings
from service.engine import ConfigError, ModelLoadError, calibration_fits, model_profiles
from service.engine.calibration import Calibration
from service.engine.calibration_fits import DEFAULT_CALIBRATION, MULTILINGUAL_CALIBRATION, calibration_for
from service.engine.loading import load_backend
from service.engine.model_files import MULTILINGUAL_SHA256, SOURCE_MANIFEST, sha256_of
from service.engine.model_profiles import ModelProfile, PromptNames, profile_for
from tests.conftest import PROMPTS


def _manifest(model_dir, **wrong: str) -> None:
    """newstag-source.json as scripts/fetch_multilingual.py installs it, with the real hashes
    unless ``wrong`` replaces one (keys: file paths with / as __)."""
    files = [{"path": p, "size": 0, "sha256": wrong.get(p.replace("/", "__"), sha256_of(model_dir / p))}
             for p in ("model.safetensors", "2_Dense/model.safetensors", "config.json")]
    files.append({"path": "README.md", "size": 0, "sha256": "0" * 64, "installed_as": "README.upstream.md"})
    files.append({"path": "notebook.ipynb", "size": 0, "sha256": "0" * 64, "installed_as": None})
    (model_dir / SOURCE_MANIFEST).write_text(json.dumps({"name": "tiny", "files": files}))


@pytest.fixture()
def model_copy(tiny_st_dir, tmp_path):
    return shutil.copytree(tiny_st_dir, tmp_path / "tiny-st")


def test_a_model_with_newstag_manifest_loads_when_its_weights_match(model_copy):
    _manifest(model_copy)
    backend = load_backend(Settings.from_env({}, model=model_copy).engine_options().model)
    assert backend.model_version == sha256_of(model_copy / "model.safetensors")[:12]


@pytest.mark.parametrize("which", ["model.safetensors", "2_Dense__model.safetensors"])
def test_weights_that_do_not_match_newstag_manifest_stop_the_load(model_copy, which):
    _manifest(model_copy, **{which: "f" * 64})
    with pytest.raises(ModelLoadError, match="fails its SHA-256 check") as info:
        load_backend(Settings.from_env({}, model=model_copy).engine_options().model)
    assert "\n" not in str(info.value) and which.replace("__", "/") in str(info.value)


def test_an_unreadable_manifest_is_a_clear_load_error(model_copy):
    (model_copy / SOURCE_MANIFEST).write_text("{not json")
    with pytest.raises(ModelLoadError, match="cannot read the model's manifest"):
        load_backend(Settings.from_env({}, model=model_copy).engine_options().model)


def test_calibration_is_chosen_by_the_weights_hash():
    assert calibration_for(MULTILINGUAL_SHA256) is MULTILINGUAL_CALIBRATION
    assert MULTILINGUAL_CALIBRATION != DEFAULT_CALIBRATION
    assert calibration_for("0" * 64) is DEFAULT_CALIBRATION


def test_load_backend_applies_the_profile_and_calibration_pinned_for_the_weights(model_copy, monkeypatch):
    digest = sha256_of(model_copy / "model.safetensors")
    pinned = Calibration(weights=(1.0, 2.0, 3.0, -0.5, 4.0, 0.0, 0.0, 0.0), bias=-2.0)
    monkeypatch.setitem(calibration_fits.PINNED_CALIBRATIONS, digest[:12], pinned)
    profile = ModelProfile(PromptNames("document", "Classification"), label_template="about {}", window_tokens=48,
                           refused_precisions={"int8": "measured to lose too much"}, article_template="news on {}")
    monkeypatch.setitem(model_profiles.PROFILES, digest[:12], profile)
    backend = load_backend(Settings.from_env({}, model=model_copy, precision="fp32").engine_options().model)
    encoder = backend.encoder  # type: ignore[attr-defined]
    assert backend.calibration is pinned  # type: ignore[attr-defined]
    assert (encoder.text_prompt, encoder.label_prompt) == (PROMPTS["document"], PROMPTS["Classification"])
    assert encoder.max_tokens == 48 and backend.label_vectors.template == "about {}"  # type: ignore[attr-defined]
    assert backend.article_vectors.template == "news on {}"  # type: ignore[attr-defined]
    wider = Settings.from_env({}, model=model_copy, max_tokens=64).engine_options().model
    assert load_backend(wider).encoder.max_tokens == 64  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="NEWSTAG_PRECISION=int8 is not supported for tiny-st on torch: measured"):
        load_backend(Settings.from_env({}, model=model_copy, precision="int8").engine_options().model)


def test_a_precision_refused_on_torch_loads_from_an_onnx_graph(model_copy, monkeypatch, tmp_path):
    """The refusal is torch's kernels' (EmbeddingGemma's int8): an int8 ONNX graph is its own measurement."""
    pytest.importorskip("onnxruntime")
    digest = sha256_of(model_copy / "model.safetensors")
    monkeypatch.setitem(model_profiles.PROFILES, digest[:12], ModelProfile(refused_precisions={"int8": "measured"}))
    onnx = Settings.from_env({}, model=model_copy, precision="int8", runtime="onnx", onnx_dir=tmp_path)
    backend = load_backend(onnx.engine_options().model)
    assert (backend.encoder.runtime, backend.precision) == ("onnx", "int8")  # type: ignore[attr-defined]
    # auto with no graph made beforehand runs torch, so the refusal holds
    auto = Settings.from_env({}, model=model_copy, precision="int8", runtime="auto", onnx_dir=tmp_path / "none")
    with pytest.raises(ConfigError, match="on torch"):
        load_backend(auto.engine_options().model)


def test_weights_without_a_profile_get_the_model_defaults():
    assert profile_for("0" * 64) == ModelProfile()
    gemma = profile_for(MULTILINGUAL_SHA256)
    assert gemma.prompts is not None and gemma.window_tokens == 256 and "int8" in gemma.refused_precisions
    assert gemma.label_template is not None and "{}" in gemma.label_template


def test_articles_read_labels_by_the_article_template_and_sentences_by_the_label_template(tiny_model_dir):
    """A profile's article_template phrases the labels that texts of several sentences are compared with."""
    from service.engine import Label
    from service.engine.embedding_backend import EmbeddingBackend
    from service.engine.encoder import SentenceEncoder

    encoder = SentenceEncoder(tiny_model_dir)
    both = EmbeddingBackend(encoder, "tiny", label_template="about {}", article_template="news on {}")
    sentence_only = EmbeddingBackend(encoder, "tiny", label_template="about {}")
    article_only = EmbeddingBackend(encoder, "tiny", label_template="news on {}")
    labels = [Label("markets"), Label("football")]
    docs = [encoder.prepare("Stocks fell. The bank met."), encoder.prepare("Stocks fell. The bank met. Fans cheered.")]
    assert [both.phrasing_for(d) for d in docs] == ["sentence", "article"]
    mixed = both.similarities(docs, labels)
    [as_sentence, _] = sentence_only.similarities(docs, labels)
    [_, as_article] = article_only.similarities(docs, labels)
    assert mixed[0].windows == pytest.approx(as_sentence.windows, abs=1e-6)
    assert mixed[1].windows == pytest.approx(as_article.windows, abs=1e-6)
    assert mixed[1].window_reference == pytest.approx(as_article.window_reference, abs=1e-6)
    assert not mixed[1].windows == pytest.approx(sentence_only.similarities(docs, labels)[1].windows, abs=1e-6)


def test_a_rephrased_backend_keeps_everything_but_the_label_phrasing(tiny_model_dir):
    """Benchmarks compare templates on one loaded model: only the label vectors may change."""
    from service.engine import Label
    from service.engine.embedding_backend import EmbeddingBackend
    from service.engine.encoder import SentenceEncoder
    from service.engine.model_profiles import SentenceRules

    encoder = SentenceEncoder(tiny_model_dir)
    backend = EmbeddingBackend(encoder, "tiny", label_template="about {}", article_template="news on {}",
                               article_min_sentences=2)
    backend.model_version, backend.sentence_rules = "abc", SentenceRules(discount=0.7)
    fresh = backend.rephrased("regarding {}", None)
    assert (fresh.encoder, fresh.calibration, fresh.model_version, fresh.sentence_rules, fresh.genre_check,
            fresh.article_min_sentences) == (encoder, backend.calibration, "abc", backend.sentence_rules,
                                             backend.genre_check, 2)
    assert fresh.label_vectors.template == "regarding {}" and fresh.article_vectors is None
    labels = [Label("markets")]
    assert not fresh.label_vectors.vectors(labels) == pytest.approx(backend.label_vectors.vectors(labels), abs=1e-6)


def test_labels_named_in_a_profiled_language_read_its_template_as_sentences(tiny_model_dir):
    """German section names read the German template in texts read as sentences; articles keep
    the article template; English names, and names in a language without a template, the pinned ones."""
    from service.engine import Label
    from service.engine.embedding_backend import EmbeddingBackend
    from service.engine.encoder import SentenceEncoder

    encoder = SentenceEncoder(tiny_model_dir)
    german = "Dieser Nachrichtenartikel handelt von {}."
    backend = EmbeddingBackend(encoder, "tiny", label_template="about {}", article_template="news on {}",
                               own_language_templates={"de": german})
    plain = EmbeddingBackend(encoder, "tiny", label_template="about {}", article_template="news on {}")
    in_german = EmbeddingBackend(encoder, "tiny", label_template=german)
    sections = [Label(n) for n in ("Wirtschaft", "Politik", "Sport", "Kultur", "Wissenschaft")]
    english = [Label(n) for n in ("economy", "politics", "sports", "culture", "science")]
    russian = [Label(n) for n in ("экономика", "политика", "спорт", "культура", "наука")]
    docs = [encoder.prepare("Die Aktien fielen."), encoder.prepare("Die Aktien fielen. Die Bank tagte. Fans jubelten.")]
    assert [backend.labels_language(x) for x in (sections, english, russian)] == ["de", "und", "und"]
    assert [backend.phrasing_for(d, "de") for d in docs] == ["de", "article"]
    [sentence, article] = backend.similarities(docs, sections)
    assert sentence.windows == pytest.approx(in_german.similarities(docs[:1], sections)[0].windows, abs=1e-6)
    assert sentence.window_reference == pytest.approx(in_german.similarities(docs[:1], sections)[0].window_reference,
                                                      abs=1e-6)
    assert article.windows == pytest.approx(plain.similarities(docs[1:], sections)[0].windows, abs=1e-6)
    for labels in (english, russian):
        got, want = backend.similarities(docs[:1], labels)[0], plain.similarities(docs[:1], labels)[0]
        assert got.windows == pytest.approx(want.windows, abs=1e-6)
    assert not sentence.windows == pytest.approx(plain.similarities(docs[:1], sections)[0].windows, abs=1e-6)
