"""Fine-tuned models that name a pinned base instead of carrying a copy (engine/base_models.py),
and the one encoder such models share once loaded (engine/shared_encoders.py).

The real referable bases are the embedded default and EmbeddingGemma (1.2 GB, not on CI); a
tiny sentence-transformers pipeline (Dense layers, prompts) stands in for the latter by being
added to the referable bases, which exercises the same code: the recorded path, the pinned
files, the search for a moved base, the prompts a copy never carried.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from service.config import Settings
from service.engine import ModelLoadError, TaxonomyRegistry, base_models, shared_encoders
from service.engine.classifier import ClassifierBackend
from service.engine.model_files import sha256_of
from service.http.trained_models import TrainedModels
from tests.conftest import TRAIN_SMALL
from training.finetune import main

TEXTS = ["The striker scored twice in the cup final.", "Inflation rose and the central bank raised rates.",
         "Floods followed the hottest summer on record.", "A new vaccine cut hospital admissions by half."]


@pytest.fixture
def pinned_base(tiny_st_dir, tmp_path, monkeypatch) -> Path:
    """A copy of the tiny pipeline that newstag treats as a pinned base (as it does EmbeddingGemma),
    with the real install directory out of the search."""
    base = tmp_path / "installed-base"
    shutil.copytree(tiny_st_dir, base)
    monkeypatch.setitem(base_models.REFERABLE_BASES, sha256_of(base / "model.safetensors"), "tiny-base")
    monkeypatch.setattr(base_models, "MULTILINGUAL_INSTALL_DIR", tmp_path / "not-installed")
    return base


def _train(base: Path, output: Path, *extra: str) -> Path:
    assert main(["--train", str(TRAIN_SMALL), "--output", str(output), "--base", str(base), "--seed", "3",
                 "--max-length", "64", *extra]) == 0
    return output


def _probabilities(backend: ClassifierBackend) -> np.ndarray:
    docs = [backend.prepare(t) for t in TEXTS]
    scores = backend.score(docs, list(backend.labels))
    return np.array([s.label_scores for s in scores])


@pytest.mark.parametrize("mode", ["hybrid", "head"])
def test_a_model_on_a_pinned_base_names_it_and_scores_as_a_copy_would(pinned_base, tmp_path, monkeypatch, mode):
    epochs = ("--epochs", "3") if mode == "head" else ()
    referenced = _train(pinned_base, tmp_path / "referenced", "--mode", mode, *epochs)
    assert not (referenced / "model.safetensors").exists() and not (referenced / "2_Dense").exists()
    encoder = json.loads((referenced / "newstag.json").read_text())["encoder"]
    assert encoder["sha256"] == sha256_of(pinned_base / "model.safetensors")
    assert encoder["path"] == str(pinned_base.resolve())
    assert encoder["files"]["2_Dense/model.safetensors"] == sha256_of(pinned_base / "2_Dense" / "model.safetensors")
    assert "config_sentence_transformers.json" not in encoder["files"]  # its prompts are not read
    assert "needs that base installed (`make model-multilingual`" in (referenced / "README.md").read_text()
    # The same training on a base that is not pinned copies the encoder (the way until now).
    monkeypatch.delitem(base_models.REFERABLE_BASES, encoder["sha256"])
    copied = _train(pinned_base, tmp_path / "copied", "--mode", mode, *epochs)
    assert (copied / "model.safetensors").is_file() and "encoder" not in json.loads(
        (copied / "newstag.json").read_text())
    assert "needs that base installed" not in (copied / "README.md").read_text()
    monkeypatch.setitem(base_models.REFERABLE_BASES, encoder["sha256"], "tiny-base")
    served, own = ClassifierBackend.load(referenced), ClassifierBackend.load(copied)
    try:
        assert served.files.encoder_dir == pinned_base and served.files.encoder_sha256 == encoder["sha256"]
        assert served.encoder.text_prompt == ""  # the base's prompts are not read: training read none
        np.testing.assert_allclose(_probabilities(served), _probabilities(own), atol=1e-4)  # as reported: 4 decimals
    finally:
        served.close()
        own.close()


def test_a_moved_base_is_found_where_the_service_is_told_and_is_named_when_missing(pinned_base, tmp_path):
    model = _train(pinned_base, tmp_path / "desk", "--mode", "hybrid")
    moved = tmp_path / "elsewhere"
    pinned_base.rename(moved)
    with pytest.raises(ModelLoadError) as missing:
        ClassifierBackend.load(model)
    message = str(missing.value)
    assert "not installed here" in message and "make model-multilingual" in message
    assert f"{pinned_base} (not there)" in message
    backend = ClassifierBackend.load(model, search=(moved,))  # NEWSTAG_MULTILINGUAL_MODEL's directory
    try:
        assert backend.files.encoder_dir == moved
        assert _probabilities(backend).shape == (len(TEXTS), len(backend.labels))
    finally:
        backend.close()


@pytest.mark.parametrize("changed", ["tokenizer.json", "2_Dense/model.safetensors", "model.safetensors"])
def test_a_base_whose_files_changed_is_not_the_base(pinned_base, tmp_path, changed):
    model = _train(pinned_base, tmp_path / "desk", "--mode", "hybrid")
    path = pinned_base / changed
    path.write_bytes(path.read_bytes() + (b" " if changed.endswith(".json") else b"\0"))
    with pytest.raises(ModelLoadError) as error:
        ClassifierBackend.load(model)
    expected = "other weights" if changed == "model.safetensors" else f"{changed} differs"
    assert f"{pinned_base} ({expected})" in str(error.value)


def test_models_on_one_base_share_one_encoder_until_the_last_is_gone(pinned_base, tmp_path):
    models = tmp_path / "models"
    for name in ("desk-a", "desk-b"):
        _train(pinned_base, models / name, "--mode", "hybrid")
    settings = Settings.from_env({}, models_dir=models)  # batching on, as the service runs
    trained = TrainedModels(models, settings.engine_options(), TaxonomyRegistry.load())
    assert trained.scan() == {}
    a, b = trained.taggers()["desk-a"], trained.taggers()["desk-b"]
    encoder = a.backend.encoder
    assert b.backend.encoder is encoder and shared_encoders.users(encoder) == 2
    thread = encoder.batcher._thread
    assert thread is not None and thread.is_alive()
    shutil.rmtree(models / "desk-a")
    assert trained.scan() == {}
    assert shared_encoders.users(encoder) == 1 and thread.is_alive()  # desk-b still reads with it
    assert b.tag(TEXTS)[0].model == "desk-b"
    a.close()  # twice: nothing more is released
    assert shared_encoders.users(encoder) == 1
    shutil.rmtree(models / "desk-b")
    assert trained.scan() == {}
    thread.join(10)
    assert shared_encoders.users(encoder) == 0 and not thread.is_alive()


def test_a_base_installed_beside_the_code_is_found_from_another_working_directory(pinned_base, tmp_path,
                                                                                    monkeypatch):
    """The install directory is relative to the working directory, which a Ray worker or a service
    manager may set elsewhere: the one beside the code (the repository, /app) is tried too."""
    model = _train(pinned_base, tmp_path / "desk", "--mode", "hybrid")
    app = tmp_path / "app"
    installed = app / "base-models" / "embeddinggemma-300m"
    installed.parent.mkdir(parents=True)
    pinned_base.rename(installed)  # not where the model was trained any more
    monkeypatch.setattr(base_models, "MULTILINGUAL_INSTALL_DIR", Path("base-models") / "embeddinggemma-300m")
    monkeypatch.setattr(base_models, "_BESIDE_CODE", app)
    monkeypatch.chdir(tmp_path)
    backend = ClassifierBackend.load(model)
    try:
        assert backend.files.encoder_dir == installed
    finally:
        backend.close()
