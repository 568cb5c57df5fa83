from __future__ import annotations

import json
import shutil

import pytest

from service.config import Settings
from service.engine import ModelLoadError, Tagger
from service.engine.loading import load_backend
from service.engine.model_files import (
    DEFAULT_MODEL_SHA256,
    TOKENIZER_FILES,
    default_model_dir,
    require_local_model_dir,
    sha256_of,
    verify_weights,
)
from service.errors import ConfigError
from service.preflight import check_serving, check_startup, serving_warnings


def test_the_installed_default_weights_match_the_pinned_checksum():
    assert sha256_of(default_model_dir() / "model.safetensors") == DEFAULT_MODEL_SHA256


def test_altered_weights_stop_with_one_line_naming_the_file(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"not the weights")
    with pytest.raises(ModelLoadError) as info:
        verify_weights(tmp_path, DEFAULT_MODEL_SHA256)
    message = str(info.value)
    assert "\n" not in message and str(weights) in message and "SHA-256" in message


def test_missing_weights_stop_with_one_line_naming_the_file(tmp_path):
    with pytest.raises(ModelLoadError, match=r"missing: .*model\.safetensors$"):
        verify_weights(tmp_path, DEFAULT_MODEL_SHA256)


def test_default_model_is_checked_at_load(monkeypatch, tmp_path):
    fake = tmp_path / "model"
    shutil.copytree(default_model_dir(), fake, ignore=shutil.ignore_patterns("model.safetensors"))
    (fake / "model.safetensors").write_bytes(b"tampered")
    monkeypatch.setattr("service.engine.loading.default_model_dir", lambda: fake)
    with pytest.raises(ModelLoadError, match="fails its SHA-256 check"):
        load_backend(Settings.from_env({}).engine_options().model)


def test_newstag_model_points_to_another_local_model(tiny_model_dir):
    tagger = Tagger.load(Settings.from_env({"NEWSTAG_MODEL": str(tiny_model_dir)}).engine_options())
    assert tagger.backend.model_name == tiny_model_dir.name
    assert tagger.backend.encoder.dim == 32  # type: ignore[attr-defined]


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "absent", "does not exist"),
    (lambda p: p, "no config.json"),
])
def test_bad_model_directories_are_refused(tmp_path, make, message):
    with pytest.raises(ModelLoadError, match=message):
        Tagger.load(Settings.from_env({"NEWSTAG_MODEL": str(make(tmp_path))}).engine_options())


def test_a_directory_of_models_is_refused_naming_the_models_in_it(tmp_path):
    """--model models (NEWSTAG_MODELS_DIR itself, not one model in it) said only "has no config.json"."""
    for name in ("desk-topics", "desk-fr"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "newstag.json").write_text("{}")
    (tmp_path / ".desk-topics.checkpoint").mkdir()
    with pytest.raises(ModelLoadError) as caught:
        require_local_model_dir(tmp_path)
    assert str(caught.value) == (f"model directory has no config.json: {tmp_path}; it holds model directories "
                                 "(desk-fr, desk-topics): name one of them")


def test_a_model_without_safetensors_weights_is_refused(tmp_path, tiny_model_dir):
    shutil.copytree(tiny_model_dir, tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="safetensors only"):
        Tagger.load(Settings.from_env({"NEWSTAG_MODEL": str(tmp_path / "m")}).engine_options())


def test_a_model_without_tokenizer_files_is_refused_not_served_with_an_empty_vocabulary(tmp_path, tiny_model_dir):
    """transformers built a 5-token tokenizer (every word [UNK]) and every topic scored about 1.0."""
    shutil.copytree(tiny_model_dir, tmp_path / "m")
    for name in TOKENIZER_FILES:
        (tmp_path / "m" / name).unlink(missing_ok=True)
    with pytest.raises(ModelLoadError, match="no tokenizer files"):
        Tagger.load(Settings.from_env({"NEWSTAG_MODEL": str(tmp_path / "m")}).engine_options())
    with pytest.raises(ModelLoadError, match="no tokenizer files"):
        check_startup(Settings.from_env({"NEWSTAG_MODEL": str(tmp_path / "m")}))


def test_the_server_refuses_to_start_on_what_would_leave_it_never_ready_or_half_working(tmp_path, tiny_model_dir):
    with pytest.raises(ConfigError, match="NEWSTAG_MULTILINGUAL_MODEL='/nowhere': no such directory"):
        check_serving(Settings.from_env({"NEWSTAG_MULTILINGUAL_MODEL": "/nowhere"}))
    with pytest.raises(ConfigError, match="NEWSTAG_MODELS_DIR='/nowhere': no such directory"):
        check_serving(Settings.from_env({"NEWSTAG_MODELS_DIR": "/nowhere", "NEWSTAG_MULTILINGUAL_MODEL": "off"}))
    with pytest.raises(ConfigError, match="NEWSTAG_DATABASE_URL is not a database URL"):
        check_serving(Settings.from_env({"NEWSTAG_DATABASE_URL": "garbage", "NEWSTAG_MULTILINGUAL_MODEL": "off"}))
    # A driver that is not installed: at start, not as a 500 on the first correction (and no password shown).
    with pytest.raises(ConfigError, match=r"'postgresql\+psycopg2://u:\*\*\*@db/x' cannot be used: No module"):
        check_serving(Settings.from_env({"NEWSTAG_DATABASE_URL": "postgresql+psycopg2://u:pw@db/x",
                                         "NEWSTAG_MULTILINGUAL_MODEL": "off"}))
    check_serving(Settings.from_env({"NEWSTAG_MODELS_DIR": str(tmp_path), "NEWSTAG_MULTILINGUAL_MODEL": "off",
                                     "NEWSTAG_MODEL": str(tiny_model_dir)}))


def _unsearchable(monkeypatch, locked):
    """Everything below ``locked`` refuses this user (the tests run as root: chmod would not stop them)."""
    from pathlib import Path

    real_stat, real_iterdir = Path.stat, Path.iterdir

    def stat(self, *args, **kwargs):
        if locked in self.parents:
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    def iterdir(self):
        if self == locked or locked in self.parents:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "stat", stat)
    monkeypatch.setattr(Path, "iterdir", iterdir)


@pytest.mark.parametrize("variables, named", [
    ({"NEWSTAG_MODEL": "{locked}"}, "NEWSTAG_MODEL"),  # the directory itself, its files unreadable
    ({"NEWSTAG_MODEL": "{locked}/model"}, "NEWSTAG_MODEL"),  # below a directory the user cannot search
    ({"NEWSTAG_MULTILINGUAL_MODEL": "{locked}"}, "NEWSTAG_MULTILINGUAL_MODEL"),
    ({"NEWSTAG_MULTILINGUAL_MODEL": "{locked}/gemma"}, "NEWSTAG_MULTILINGUAL_MODEL"),
    ({"NEWSTAG_ENGINE": "nli", "NEWSTAG_NLI_MODEL": "{locked}"}, "NEWSTAG_NLI_MODEL"),
    ({"NEWSTAG_MODELS_DIR": "{locked}"}, "NEWSTAG_MODELS_DIR"),
    ({"NEWSTAG_MODELS_DIR": "{locked}/models"}, "NEWSTAG_MODELS_DIR"),
    ({"NEWSTAG_RUNTIME": "onnx", "NEWSTAG_ONNX_DIR": "{locked}/onnx"}, "NEWSTAG_ONNX_DIR"),
    ({"NEWSTAG_RUNTIME": "auto", "NEWSTAG_ONNX_DIR": "{locked}"}, "NEWSTAG_ONNX_DIR"),
])
def test_a_directory_the_services_user_cannot_read_stops_the_server_with_one_line(tmp_path, monkeypatch,
                                                                                  variables, named):
    """A PermissionError escaped the start-up checks: gunicorn printed a traceback (found running the
    server as another user than the one owning a mounted model or cache directory)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    settings = Settings.from_env({"NEWSTAG_MULTILINGUAL_MODEL": "off", "NEWSTAG_DATABASE_URL": f"sqlite:///{tmp_path}/fb.db",
                                  **{k: v.format(locked=locked) for k, v in variables.items()}})
    _unsearchable(monkeypatch, locked)
    with pytest.raises((ConfigError, ModelLoadError)) as info:
        check_serving(settings)
    message = str(info.value)
    assert named in message and "cannot be read (Permission denied)" in message and "\n" not in message, message


def test_an_open_api_on_a_reachable_address_is_warned_of_at_start(tmp_path):
    """Kubernetes reads the keys from an optional Secret: without it every /v1 endpoint was open, unsaid."""
    open_settings = Settings.from_env({"NEWSTAG_MULTILINGUAL_MODEL": "off",
                                       "NEWSTAG_DATABASE_URL": f"sqlite:///{tmp_path}/fb.db"})
    (warning,) = serving_warnings(open_settings, ["0.0.0.0:8000"])
    assert "NEWSTAG_API_KEYS is not set" in warning and "0.0.0.0:8000" in warning
    for local in (["127.0.0.1:8000"], ["localhost:8000"], ["[::1]:8000"], ["unix:/tmp/newstag.sock"]):
        assert serving_warnings(open_settings, local) == []
    keyed = Settings.from_env({"NEWSTAG_MULTILINGUAL_MODEL": "off", "NEWSTAG_API_KEYS": "k1",
                               "NEWSTAG_DATABASE_URL": f"sqlite:///{tmp_path}/fb.db"})
    assert serving_warnings(keyed, ["0.0.0.0:8000"]) == []


def test_sharded_safetensors_are_named_as_such(tmp_path, tiny_model_dir):
    """They were refused as "weights file is missing (safetensors only)", which they are."""
    target = tmp_path / "sharded"
    shutil.copytree(tiny_model_dir, target)
    (target / "model.safetensors").rename(target / "model-00001-of-00002.safetensors")
    with pytest.raises(ModelLoadError, match="in shards"):
        require_local_model_dir(target)


def _classifier_with_own_encoder(tiny_model_dir, target):
    """A classifier directory as training.finetune --base writes it: its encoder copied, the
    weights, head and labels pinned in newstag.json (config and tokenizer files are not)."""

    import numpy as np
    from safetensors.numpy import save_file

    shutil.copytree(tiny_model_dir, target)
    head = {"weight": np.zeros((2, 32), np.float32), "bias": np.zeros(2, np.float32)}
    save_file(head, str(target / "head.safetensors"))
    (target / "labels.json").write_text(json.dumps({"labels": ["a", "b"], "thresholds": [0.5, 0.5],
                                                    "multi_label": True}))
    digests = {name: sha256_of(target / name) for name in ("model.safetensors", "head.safetensors", "labels.json")}
    (target / "newstag.json").write_text(json.dumps({"kind": "classifier", "sha256": digests}))
    return target


def _without_tokenizer(directory):
    for name in TOKENIZER_FILES:
        (directory / name).unlink(missing_ok=True)


def _one_layer(directory):
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 1}))


def _pinned_tokenizer_edited(directory):
    manifest = json.loads((directory / "newstag.json").read_text())
    manifest["sha256"]["tokenizer.json"] = sha256_of(directory / "tokenizer.json")
    (directory / "newstag.json").write_text(json.dumps(manifest))
    (directory / "tokenizer.json").write_text((directory / "tokenizer.json").read_text().replace("sport", "spurt"))


@pytest.mark.parametrize("damage, message", [
    (_without_tokenizer, "has no tokenizer files"),  # served with a 5-word vocabulary: every word [UNK]
    (lambda d: (d / "config.json").unlink(), "has no config.json"),
    (_one_layer, "num_hidden_layers is 1, but .* holds 2 layers"),  # served reading half the encoder
    (_pinned_tokenizer_edited, "fails its SHA-256 check: .*tokenizer.json"),  # a manifest that pins more files
])
def test_a_classifier_carrying_its_encoder_needs_its_config_and_tokenizer(tmp_path, tiny_model_dir, damage, message):
    from service.engine.classifier_dir import read_classifier_dir

    directory = _classifier_with_own_encoder(tiny_model_dir, tmp_path / "desk")
    read_classifier_dir(directory)  # as written: fine
    damage(directory)
    with pytest.raises(ModelLoadError, match=message):
        read_classifier_dir(directory)


def test_an_encoder_that_embeds_narrower_than_its_hidden_size_fits_its_config(tmp_path):
    """ELECTRA (and ALBERT, MobileBERT) embed tokens in embedding_size, less than hidden_size:
    such a model trained with --mode full was refused at load as a config that disagrees."""
    from transformers import ElectraConfig, ElectraModel

    from service.engine.model_files import check_config_fits_weights

    config = ElectraConfig(vocab_size=50, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=2, intermediate_size=64)
    ElectraModel(config).save_pretrained(tmp_path)
    check_config_fits_weights(tmp_path)
    edited = {**json.loads((tmp_path / "config.json").read_text()), "embedding_size": 32}
    (tmp_path / "config.json").write_text(json.dumps(edited))
    with pytest.raises(ModelLoadError, match="embedding_size is 32, but .* holds vectors of 16"):
        check_config_fits_weights(tmp_path)
