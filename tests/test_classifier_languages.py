"""A fine-tuned model reads the languages of its base: its card says so, and texts in others
get the language-unsupported warning, as from the default model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from service.config import Settings
from service.engine import TaxonomyRegistry
from service.engine.classifier import ClassifierBackend
from service.engine.model_files import DEFAULT_MODEL_HUB_NAME
from service.engine.tagger import Tagger
from tests.conftest import TRAIN_SMALL
from training.finetune import main

ARABIC = ("وقعت الحكومة اتفاقية جديدة للتجارة مع الدول المجاورة. وقال وزير الاقتصاد إن الاتفاقية ستخفض "
          "الرسوم الجمركية وتزيد الصادرات خلال العام المقبل.")


def _front_matter(directory: Path) -> dict:
    return yaml.safe_load((directory / "README.md").read_text(encoding="utf-8").split("---\n")[1])


def _without_language(directory: Path) -> None:
    """The card as versions before this one wrote it: no ``language:``."""
    card = directory / "README.md"
    text = card.read_text(encoding="utf-8")
    front = _front_matter(directory)
    del front["language"]
    body = text.split("---\n", 2)[2]
    card.write_text(f"---\n{yaml.safe_dump(front, sort_keys=False)}---\n{body}", encoding="utf-8")


def _tagger(directory: Path) -> Tagger:
    options = Settings.from_env({}).engine_options()
    return Tagger(ClassifierBackend.load(directory, options.model.encoder), TaxonomyRegistry.load(),
                  options.tagger)


def test_a_model_on_the_english_base_warns_on_an_arabic_article(trained_model_dir):
    """It answered politics 0.31 with warnings []: the card training wrote named no language."""
    assert _front_matter(trained_model_dir)["language"] == ["en"]  # the default base's card: English
    tagger = _tagger(trained_model_dir)
    assert tagger.backend.languages == frozenset({"en"})
    [arabic, english] = tagger.tag([ARABIC, "The striker scored twice in the cup final on Saturday."])
    assert arabic.language == "ar"
    assert [w.code for w in arabic.warnings] == ["language-unsupported"]
    assert "'ar'" in arabic.warnings[0].message and "en only" in arabic.warnings[0].message
    assert english.warnings == ()


def test_a_model_trained_before_cards_named_languages_gets_its_bases(trained_model_dir, tmp_path):
    older = tmp_path / "older"
    shutil.copytree(trained_model_dir, older)
    _without_language(older)  # README.md is not checksummed: the model still loads
    assert ClassifierBackend.load(older).languages == frozenset({"en"})


def test_an_own_encoder_gets_the_default_bases_languages_by_name_else_none(tiny_model_dir, tmp_path):
    """A full-mode (or contrastive) model carries its encoder: its base is known by newstag.json's
    name. A local base whose card names no language gives a model of unknown languages."""
    output = tmp_path / "full"
    assert main(["--train", str(TRAIN_SMALL), "--output", str(output), "--base", str(tiny_model_dir),
                 "--mode", "full", "--epochs", "1", "--probe-epochs", "0", "--max-length", "64"]) == 0
    assert "language" not in _front_matter(output)
    assert ClassifierBackend.load(output).languages is None
    manifest = json.loads((output / "newstag.json").read_text())
    (output / "newstag.json").write_text(json.dumps({**manifest, "base_model": DEFAULT_MODEL_HUB_NAME}))
    assert ClassifierBackend.load(output).languages == frozenset({"en"})
