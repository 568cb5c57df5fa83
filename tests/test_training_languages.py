"""training.finetune warns when the training texts are in a language the base model does not read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from service.engine.model_files import default_model_dir
from training.finetune import main
from training.languages import base_language_warning, installed_multilingual, language_shares

FRENCH = [
    "Le gouvernement a présenté mardi son projet de budget pour l'année prochaine devant l'Assemblée nationale.",
    "L'équipe de France de rugby s'est imposée face à l'Irlande au terme d'un match très disputé.",
    "La Banque centrale européenne a décidé de maintenir ses taux directeurs inchangés ce jeudi.",
    "Les agriculteurs manifestent depuis plusieurs jours contre la baisse des prix du lait.",
    "Une nouvelle application permet aux patients de prendre rendez-vous chez leur médecin en ligne.",
    "Le festival de cinéma s'ouvrira la semaine prochaine avec un film d'une jeune réalisatrice.",
]
ENGLISH = [
    "The government presented its budget for next year to parliament on Tuesday.",
    "The national rugby team beat Ireland after a hard-fought match in Dublin.",
    "The central bank left its main interest rates unchanged on Thursday.",
    "Farmers have been protesting for several days against falling milk prices.",
]


def _with_card(source: Path, target: Path, languages: list[str]) -> Path:
    shutil.copytree(source, target)
    (target / "README.md").write_text("---\nlanguage: [" + ", ".join(languages) + "]\n---\n# A model\n")
    return target


def test_language_shares_leave_out_texts_without_a_language():
    found = language_shares([*FRENCH, "12345", "..."])
    assert found.main == "fr" and found.sampled == 8
    assert found.shares["fr"] > 0.8 and "und" not in found.shares


def test_french_training_texts_on_the_english_base_get_a_warning_naming_the_language():
    warning = base_language_warning(FRENCH, default_model_dir(), "all-MiniLM-L6-v2", multilingual=None)
    assert warning is not None
    assert "fr" in warning and "all-MiniLM-L6-v2" in warning and "--base DIR" in warning


def test_english_texts_or_a_card_without_languages_get_none(tiny_model_dir: Path):
    assert base_language_warning(ENGLISH + FRENCH[:2], default_model_dir(), "all-MiniLM-L6-v2", None) is None
    assert base_language_warning(FRENCH, tiny_model_dir, "tiny", None) is None  # its card names no language


def test_an_installed_multilingual_model_that_reads_the_language_is_named(tiny_model_dir: Path, tmp_path: Path):
    reads_french = _with_card(tiny_model_dir, tmp_path / "multi", ["en", "fr", "de"])
    warning = base_language_warning(FRENCH, default_model_dir(), "all-MiniLM-L6-v2", reads_french)
    assert warning is not None and f"--base {reads_french}" in warning
    reads_german_only = _with_card(tiny_model_dir, tmp_path / "german", ["de"])
    other = base_language_warning(FRENCH, default_model_dir(), "m", reads_german_only)
    assert other is not None and "--base DIR" in other
    # the base itself is the multilingual model: nothing to suggest, and it reads French
    assert base_language_warning(FRENCH, reads_french, "multi", reads_french) is None


def test_installed_multilingual_follows_the_setting(monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path):
    assert installed_multilingual() is None  # the suite runs with NEWSTAG_MULTILINGUAL_MODEL=off
    monkeypatch.setenv("NEWSTAG_MULTILINGUAL_MODEL", str(tiny_model_dir))
    assert installed_multilingual() == tiny_model_dir
    monkeypatch.setenv("NEWSTAG_MULTILINGUAL_MODEL", "/no/such/model")
    assert installed_multilingual() is None  # the service reports a bad setting; training goes on


def test_finetune_prints_the_warning_before_training(tiny_model_dir: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]):
    base = _with_card(tiny_model_dir, tmp_path / "english-base", ["en"])
    train = tmp_path / "french.jsonl"
    sections = ["politique", "sport", "économie", "économie", "santé", "culture"]
    rows = [{"text": text, "labels": [section]} for text, section in zip(FRENCH, sections, strict=True)]
    train.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows * 3))
    assert main(["--train", str(train), "--output", str(tmp_path / "model"), "--base", str(base),
                 "--mode", "head", "--epochs", "1", "--max-length", "32", "--validation-split", "0.2"]) == 0
    err = capsys.readouterr().err
    warnings = err.split("finetune: warning:")[1:]
    assert any("languages the base model" in w and "fr" in w for w in warnings), warnings
