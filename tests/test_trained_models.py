"""TrainedModels.scan on its own (no app): what a rescan frees, keeps and reports."""

from __future__ import annotations

import gc
import json
import shutil
import weakref

import pytest

from service.config import Settings
from service.engine import TaxonomyRegistry, shared_encoders
from service.http.trained_models import TrainedModels

TEXT = "The striker scored twice in the cup final. Fans celebrated in the stadium until midnight."


def _trained(models_dir) -> TrainedModels:
    settings = Settings.from_env({}, models_dir=models_dir)  # batching on, as the service runs
    return TrainedModels(models_dir, settings.engine_options(), TaxonomyRegistry.load())


def _new_thresholds(directory) -> None:
    """labels.json edited and its checksum with it: a model that loads, but not the same one."""
    from service.engine.model_files import sha256_of

    path = directory / "labels.json"
    labels = json.loads(path.read_text())
    path.write_text(json.dumps({**labels, "thresholds": [0.4] * len(labels["labels"])}))
    manifest = json.loads((directory / "newstag.json").read_text())
    manifest["sha256"]["labels.json"] = sha256_of(path)
    (directory / "newstag.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("change", ["replaced", "removed"])
def test_a_model_a_rescan_replaces_or_removes_is_closed_and_freed(models_dir, change):
    """Every reload that replaced or removed a model kept the old one alive (74 MB and a
    batching thread each): the thread ran forever holding the encoder."""
    trained = _trained(models_dir)
    assert trained.scan() == {}
    old = trained.taggers()["desk-topics"]
    thread = old.backend.encoder.batcher._thread  # started by the warm-up
    assert thread is not None and thread.is_alive()
    users = shared_encoders.users(old.backend.encoder)
    freed = weakref.ref(old.backend)
    if change == "replaced":
        _new_thresholds(models_dir / "desk-topics")
    else:
        shutil.rmtree(models_dir / "desk-topics")
    assert trained.scan() == {}
    assert (trained.taggers().get("desk-topics") is not old) and ("desk-topics" in trained.taggers()) == (
        change == "replaced")
    # A request that picked the old tagger just before the swap still gets its answer.
    assert old.tag([TEXT])[0].topics[0].label == "sport"
    # Its encoder is the embedded base's, shared by every model on it in this process (other
    # tests' too; shared_encoders.py): the old version gave up its share (which the new one
    # took), and the thread ends with the last share.
    encoder = old.backend.encoder
    assert shared_encoders.users(encoder) == users - (change == "removed")
    if change == "replaced":
        assert trained.taggers()["desk-topics"].backend.encoder is encoder
    if shared_encoders.users(encoder) == 0:
        thread.join(10)
    assert thread.is_alive() == (shared_encoders.users(encoder) > 0)
    del old
    gc.collect()
    assert freed() is None


def test_a_model_whose_warm_up_fails_is_reported_and_its_batching_thread_ends(models_dir, monkeypatch):
    """The warm-up starts the new model's batching thread; a failure after that dropped the
    model unclosed, and the thread kept it alive (the leak closing was meant to end)."""
    from service.engine.tagger import Tagger

    trained = _trained(models_dir)
    started: list[Tagger] = []
    real_tag = Tagger.tag

    def failing_warm_up(self, texts, *args, **kwargs):
        started.append(self)
        real_tag(self, texts, *args, **kwargs)
        raise RuntimeError("warm-up failed")

    monkeypatch.setattr(Tagger, "tag", failing_warm_up)
    before = {id(e): n for e, n in shared_encoders.held()}
    errors = trained.scan()
    assert "warm-up failed" in errors["desk-topics"] and "desk-topics" not in trained.taggers()
    encoder = started[0].backend.encoder
    thread = encoder.batcher._thread
    assert thread is not None
    # The failed model gave its share of the embedded base's encoder back; models that other
    # tests loaded in this process may still hold it (shared_encoders.py), else the thread ends.
    assert shared_encoders.users(encoder) == before.get(id(encoder), 0)
    if not shared_encoders.users(encoder):
        thread.join(10)
    assert thread.is_alive() == (shared_encoders.users(encoder) > 0)


@pytest.mark.parametrize("where", ["is_classifier_dir", "is_dir"])
def test_a_model_directory_that_cannot_be_read_is_reported_and_the_others_serve(models_dir, trained_model_dir,
                                                                                where, monkeypatch):
    """is_classifier_dir (Path.is_file) raised PermissionError for a chmod-000 directory outside
    the scan's try: the worker never became ready. (Tests run as root: the error is simulated.)"""
    from pathlib import Path

    from service.http import trained_models

    shutil.copytree(trained_model_dir, models_dir / "locked")
    with monkeypatch.context() as patch:
        if where == "is_classifier_dir":
            real_check = trained_models.is_classifier_dir

            def check(path):
                if path.name == "locked":
                    raise PermissionError(13, "Permission denied", str(path / "newstag.json"))
                return real_check(path)

            patch.setattr(trained_models, "is_classifier_dir", check)
        else:
            real_is_dir = Path.is_dir

            def is_dir(path):
                if path.name == "locked":
                    raise PermissionError(13, "Permission denied", str(path))
                return real_is_dir(path)

            patch.setattr(Path, "is_dir", is_dir)
        trained = _trained(models_dir)
        errors = trained.scan()
    assert set(trained.taggers()) == {"desk-topics"}
    assert set(errors) == {"locked"} and "PermissionError" in errors["locked"]


@pytest.mark.parametrize("how", ["missing", "unreadable"])
def test_a_models_directory_missing_or_unreadable_at_a_rescan_keeps_the_loaded_models(models_dir, how,
                                                                                       monkeypatch):
    """A models directory gone for a moment at reload dropped every fine-tuned model."""
    from pathlib import Path

    trained = _trained(models_dir)
    assert trained.scan() == {}
    loaded = trained.taggers()["desk-topics"]
    with monkeypatch.context() as patch:
        if how == "missing":
            models_dir.rename(models_dir.with_name("models-moved"))
        else:
            def iterdir(path):
                raise PermissionError(13, "Permission denied", str(path))

            patch.setattr(Path, "iterdir", iterdir)
        errors = trained.scan()
    assert trained.taggers() == {"desk-topics": loaded}
    assert list(errors) == ["(models directory)"]
    assert ("is not a directory" if how == "missing" else "PermissionError") in errors["(models directory)"]
    assert "keep serving (desk-topics)" in errors["(models directory)"]
    assert loaded.tag([TEXT])[0].topics[0].label == "sport"


def test_a_rescan_reuses_an_unchanged_model_and_reloads_one_whose_settings_or_metrics_changed(models_dir):
    """Only the weights' checksums were compared: a new max_tokens in newstag.json or new
    metrics.json were ignored by every reload, until a restart."""
    trained = _trained(models_dir)
    assert trained.scan() == {}
    first = trained.taggers()["desk-topics"]
    assert trained.scan() == {} and trained.taggers()["desk-topics"] is first  # nothing changed: reused
    directory = models_dir / "desk-topics"
    metrics = json.loads((directory / "metrics.json").read_text())
    (directory / "metrics.json").write_text(json.dumps({**metrics, "micro_f1": 0.123}))
    assert trained.scan() == {}
    second = trained.taggers()["desk-topics"]
    assert second is not first and second.backend.validation_metrics["micro_f1"] == 0.123
    manifest = json.loads((directory / "newstag.json").read_text())
    assert second.backend.encoder.max_tokens == manifest.get("max_tokens", 256) != 128
    (directory / "newstag.json").write_text(json.dumps({**manifest, "max_tokens": 128}))
    assert trained.scan() == {}
    third = trained.taggers()["desk-topics"]
    assert third is not second and third.backend.encoder.max_tokens == 128
    (directory / "metrics.json").write_text(json.dumps({**metrics, "micro_f1": float("nan")}))
    assert trained.scan() == {}
    nan = trained.taggers()["desk-topics"]
    assert trained.scan() == {} and trained.taggers()["desk-topics"] is nan  # NaN != NaN, yet unchanged
