"""A fine-tuned model directory is checked when it is read, beyond its checksums: finite
weights, values in range, regular files only, and every failure one clear line in the CLIs
(newstag tag, newstag bulk, training.evaluate). Tiny random encoders, no training."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from service.engine import ModelLoadError, model_files
from service.engine import classifier as classifier_module
from service.engine import classifier_dir as classifier_dir_module
from service.engine.classifier_dir import read_classifier_dir
from service.engine.lexical import LexicalHead, TfidfSpec
from service.engine.model_files import DEFAULT_MODEL_SHA256, default_model_dir, sha256_of
from tests.conftest import TRAIN_SMALL

LABELS = ["economy", "sport"]


def pin(directory: Path) -> None:
    """newstag.json's checksums of the files it lists (and the head's, labels' and lexical
    files'), as training writes them: a damaged value below passes its checksum."""
    manifest = json.loads((directory / "newstag.json").read_text()) if (directory / "newstag.json").exists() else {}
    digests = manifest.get("sha256", {})
    names = {*digests, "head.safetensors", "labels.json"} | (
        {"lexical.json", "lexical.safetensors"} if manifest.get("head") == "hybrid" else set())
    if "encoder" not in manifest:
        names.add("model.safetensors")
    manifest["sha256"] = {name: sha256_of(directory / name) for name in sorted(names)
                          if (directory / name).is_file()}
    (directory / "newstag.json").write_text(json.dumps(manifest))


def write_head(directory: Path, weight: np.ndarray, bias: np.ndarray) -> None:
    save_file({"weight": weight, "bias": bias}, str(directory / "head.safetensors"))


def make_model(tiny_model_dir: Path, target: Path, *, hybrid: bool = False, multi_label: bool = True) -> Path:
    """A classifier carrying the tiny encoder, as training.finetune --base writes one."""
    shutil.copytree(tiny_model_dir, target)
    rng = np.random.default_rng(0)
    write_head(target, rng.normal(size=(2, 32)).astype(np.float32), np.zeros(2, np.float32))
    (target / "labels.json").write_text(json.dumps({"labels": LABELS, "thresholds": [0.3, 0.3],
                                                    "multi_label": multi_label}))
    manifest: dict = {"kind": "classifier", "max_tokens": 64}
    if hybrid:
        manifest["head"] = "hybrid"
        spec = TfidfSpec(("rates", "striker", "bank rates"), np.array([1.5, 1.7, 2.0]))
        LexicalHead(spec, np.array([[1.0, -1.0, 1.0], [-1.0, 1.0, -1.0]], np.float32)).save(target)
    (target / "newstag.json").write_text(json.dumps(manifest))
    pin(target)
    read_classifier_dir(target)  # as written: fine
    return target


def edit_json(directory: Path, name: str, **values) -> None:
    data = json.loads((directory / name).read_text())
    (directory / name).write_text(json.dumps({**data, **values}))
    pin(directory)


# --- 1. non-finite weights ---------------------------------------------------------------

def _head(value: float, part: str):
    def damage(directory: Path) -> None:
        head = load_file(str(directory / "head.safetensors"))
        head[part][0] = value
        write_head(directory, head["weight"], head["bias"])
        pin(directory)
    return damage


def _lexical(name: str, value: float):
    def damage(directory: Path) -> None:
        arrays = load_file(str(directory / "lexical.safetensors"))
        arrays[name][...] = value
        save_file(arrays, str(directory / "lexical.safetensors"))
        pin(directory)
    return damage


@pytest.mark.parametrize("hybrid, damage, message", [
    (False, _head(np.nan, "weight"), "head's weights are not all finite"),
    (False, _head(np.inf, "weight"), "head's weights are not all finite"),
    (False, _head(-np.inf, "bias"), "head's weights are not all finite"),
    (True, _lexical("idf", np.nan), "'idf' must be finite and positive"),
    (True, _lexical("idf", 0.0), "'idf' must be finite and positive"),  # every text featureless
    (True, _lexical("weight", np.inf), "'weight' must be finite"),
])
def test_weights_that_are_not_finite_are_refused_at_load(tiny_model_dir, tmp_path, hybrid, damage, message):
    """They passed their checksums and loaded: single-label scores were NaN (invalid JSON),
    multi-label silently no topic."""
    directory = make_model(tiny_model_dir, tmp_path / "desk", hybrid=hybrid)
    damage(directory)
    with pytest.raises(ModelLoadError, match=message):
        read_classifier_dir(directory)


def test_a_nan_head_is_one_line_from_newstag_tag_not_a_nan_score(tiny_model_dir, tmp_path, capsys):
    from service.cli import main

    directory = make_model(tiny_model_dir, tmp_path / "desk", multi_label=False)
    _head(np.nan, "weight")(directory)
    (tmp_path / "a.txt").write_text("Rates rose again.")
    assert main(["tag", str(tmp_path / "a.txt"), "--model", str(directory), "--single-label"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # printed "nan  economy", exit 0
    assert captured.err.startswith("newstag: error: ") and captured.err.count("\n") == 1
    assert "not all finite" in captured.err


# --- 2. regular files only ---------------------------------------------------------------

def _read_in_thread(directory: Path) -> tuple[threading.Thread, list]:
    outcome: list = []

    def read() -> None:
        try:
            outcome.append(read_classifier_dir(directory))
        except Exception as exc:  # noqa: BLE001 - the outcome is checked below
            outcome.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread, outcome


@pytest.mark.parametrize("pinned", [True, False])
def test_a_fifo_labels_file_is_refused_not_waited_on(tiny_model_dir, tmp_path, pinned):
    """Opening a FIFO blocks until something writes to it: a reload and a worker's start-up hung."""
    directory = make_model(tiny_model_dir, tmp_path / "desk")
    if not pinned:  # a model exported before labels.json was checksummed
        manifest = json.loads((directory / "newstag.json").read_text())
        del manifest["sha256"]["labels.json"]
        (directory / "newstag.json").write_text(json.dumps(manifest))
    (directory / "labels.json").unlink()
    os.mkfifo(directory / "labels.json")
    thread, outcome = _read_in_thread(directory)
    thread.join(60)  # not a timing check: only so that a reader blocked on the FIFO fails the test
    if thread.is_alive():  # let the blocked open return (end of file), then fail
        os.close(os.open(directory / "labels.json", os.O_WRONLY | os.O_NONBLOCK))
        thread.join()
        pytest.fail("reading the model directory blocked on a FIFO labels.json")
    (error,) = outcome
    assert isinstance(error, ModelLoadError) and "not a regular file" in str(error) and "labels.json" in str(error)


def test_a_model_card_that_is_a_fifo_is_not_read(tmp_path):
    """An embedding model's README.md gives its languages; a FIFO there blocked the load."""
    os.mkfifo(tmp_path / "README.md")
    outcome: list = []
    thread = threading.Thread(target=lambda: outcome.append(model_files.model_languages(tmp_path)), daemon=True)
    thread.start()
    thread.join(60)  # not a timing check: only so that a reader blocked on the FIFO fails the test
    if thread.is_alive():
        os.close(os.open(tmp_path / "README.md", os.O_WRONLY | os.O_NONBLOCK))
        thread.join()
        pytest.fail("reading the model card blocked on a FIFO")
    assert outcome == [None]


def test_an_encoder_file_that_is_a_fifo_is_refused(tiny_model_dir, tmp_path):
    """transformers opens whichever tokenizer files it finds: a FIFO among them would hang the load."""
    directory = make_model(tiny_model_dir, tmp_path / "desk")
    os.mkfifo(directory / "added_tokens.json")
    with pytest.raises(ModelLoadError, match="not a regular file: .*added_tokens.json"):
        read_classifier_dir(directory)


# --- 3. checksummed values that make no sense --------------------------------------------

def _modules(path: str):
    def damage(directory: Path) -> None:
        (directory / "modules.json").write_text(json.dumps([
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": path, "type": "sentence_transformers.models.Dense"}]))
        pin(directory)
    return damage


@pytest.mark.parametrize("hybrid, damage, message", [
    (False, lambda d: edit_json(d, "newstag.json", max_tokens=-5), "'max_tokens' must be a whole number"),
    (False, lambda d: edit_json(d, "newstag.json", max_tokens=3.7), "'max_tokens' must be a whole number"),
    (False, lambda d: edit_json(d, "newstag.json", max_tokens="lots"), "'max_tokens' must be a whole number"),
    (False, lambda d: edit_json(d, "newstag.json", max_tokens=0), "'max_tokens' must be a whole number"),
    (False, lambda d: edit_json(d, "newstag.json", max_tokens=True), "'max_tokens' must be a whole number"),
    (False, lambda d: edit_json(d, "labels.json", multi_label="false"), "'multi_label' must be true or false"),
    (False, lambda d: edit_json(d, "labels.json", at_least_one="yes"), "'at_least_one' must be true or false"),
    (True, lambda d: edit_json(d, "lexical.json", token_pattern=r"(\w+\s?)+$"), "'token_pattern' must be the one"),
    (True, lambda d: edit_json(d, "lexical.json", token_pattern="("), "'token_pattern' must be the one"),
    (True, lambda d: edit_json(d, "lexical.json", ngram_max=300000), "'ngram_max' must be a whole number from 1"),
    (True, lambda d: edit_json(d, "lexical.json", ngram_max=0), "'ngram_max' must be a whole number from 1"),
    (True, lambda d: edit_json(d, "lexical.json", ngram_max="2"), "'ngram_max' must be a whole number from 1"),
    (True, lambda d: edit_json(d, "lexical.json", vocabulary=["rates", 7, "bank rates"]), "list of strings"),
    (True, lambda d: edit_json(d, "lexical.json", norm="l1"), "only 'sublinear_tf' true and 'norm'"),
    (False, _modules("../../etc"), "Dense module's path must be a directory inside the model"),
    (False, _modules("/etc"), "Dense module's path must be a directory inside the model"),
])
def test_values_out_of_range_are_refused_with_their_file(tiny_model_dir, tmp_path, hybrid, damage, message):
    directory = make_model(tiny_model_dir, tmp_path / "desk", hybrid=hybrid)
    damage(directory)
    with pytest.raises(ModelLoadError, match=message):
        read_classifier_dir(directory)


def test_a_dense_path_outside_the_directory_is_not_followed(tiny_model_dir, tmp_path):
    """With weights there and pinned, ../outside/model.safetensors was read as the model's own."""
    directory = make_model(tiny_model_dir, tmp_path / "models" / "desk")
    (tmp_path / "outside").mkdir()
    shutil.copy(tiny_model_dir / "model.safetensors", tmp_path / "outside" / "model.safetensors")
    _modules("../../outside")(directory)
    manifest = json.loads((directory / "newstag.json").read_text())
    manifest["sha256"]["../../outside/model.safetensors"] = sha256_of(tmp_path / "outside" / "model.safetensors")
    (directory / "newstag.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match="Dense module's path"):
        read_classifier_dir(directory)


def test_a_single_label_model_reads_as_single_label(tiny_model_dir, tmp_path):
    assert read_classifier_dir(make_model(tiny_model_dir, tmp_path / "one", multi_label=False)).multi_label is False
    assert read_classifier_dir(make_model(tiny_model_dir, tmp_path / "many")).multi_label is True


# --- 4. the embedded base is hashed once, not per model and rescan -----------------------

def _on_base(target: Path) -> Path:
    """A head-mode model on the embedded base: newstag.json names the base by its SHA-256."""
    target.mkdir(parents=True)
    write_head(target, np.zeros((2, 384), np.float32), np.zeros(2, np.float32))
    (target / "labels.json").write_text(json.dumps({"labels": LABELS, "thresholds": [0.5, 0.5],
                                                    "multi_label": True}))
    manifest = {"kind": "classifier", "encoder": {"sha256": DEFAULT_MODEL_SHA256}}
    (target / "newstag.json").write_text(json.dumps(manifest))
    pin(target)
    return target


def test_the_base_is_not_hashed_again_per_model_and_rescan_while_unchanged(tmp_path, monkeypatch):
    hashed: list[Path] = []
    real = model_files.sha256_of

    def counting(path: Path, *args) -> str:
        hashed.append(Path(path).resolve())
        return real(path, *args)

    monkeypatch.setattr(model_files, "sha256_of", counting)
    monkeypatch.setattr(classifier_dir_module, "sha256_of", counting)
    models = [_on_base(tmp_path / f"desk-{i}") for i in range(3)]
    for _scan in range(2):
        for directory in models:
            assert read_classifier_dir(directory).encoder_dir == default_model_dir()
    base = (default_model_dir() / "model.safetensors").resolve()
    assert hashed.count(base) <= 1  # 6 before: once per model per scan (90 MB each)
    assert sum(p.name == "head.safetensors" for p in hashed) == 6  # a model's own files still are, each time


def test_a_changed_file_is_hashed_again(tmp_path, monkeypatch):
    calls: list[Path] = []
    real = model_files.sha256_of
    monkeypatch.setattr(model_files, "sha256_of", lambda path, *a: calls.append(path) or real(path, *a))
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"first")
    first = model_files.sha256_unless_unchanged(path)
    assert model_files.sha256_unless_unchanged(path) == first and len(calls) == 1
    (tmp_path / "new").write_bytes(b"other")  # replaced (another inode), same size
    os.replace(tmp_path / "new", path)
    assert model_files.sha256_unless_unchanged(path) == sha256_of(path) != first and len(calls) == 2
    with path.open("ab") as handle:  # edited in place
        handle.write(b"!")
    assert model_files.sha256_unless_unchanged(path) == sha256_of(path) and len(calls) == 3


# --- 5. one line, exit 2, from the CLIs ---------------------------------------------------

def _garbage_head(directory: Path) -> None:
    (directory / "head.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage}}}}}}}}" + bytes(100))
    pin(directory)


def _deep_labels(directory: Path) -> None:
    (directory / "labels.json").write_text("[" * 100000 + "]" * 100000)
    pin(directory)


def _flat_head(directory: Path) -> None:
    write_head(directory, np.zeros(2, np.float32), np.zeros(2, np.float32))
    pin(directory)


def _unreadable_head(monkeypatch):
    real = classifier_dir_module.sha256_of

    def refuse(path: Path, *args) -> str:
        if Path(path).name == "head.safetensors":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args)

    monkeypatch.setattr(classifier_dir_module, "sha256_of", refuse)


@pytest.mark.parametrize("damage, message", [
    (_flat_head, r"head shape does not match 2 labels: expected weight \[2, width\] and bias \[2\], found \[2\]"),
    (_deep_labels, "labels.json: cannot read: JSON nested too deep"),
    (_garbage_head, "head.safetensors: not a readable safetensors file"),
    (lambda d: edit_json(d, "newstag.json", max_tokens="lots"), "'max_tokens' must be a whole number"),
    ("unreadable", "model file cannot be read: .*head.safetensors \\(Permission denied\\)"),
])
def test_evaluate_says_what_is_wrong_with_the_model_in_one_line(tiny_model_dir, tmp_path, capsys, monkeypatch,
                                                                damage, message):
    """Each was a traceback, exit 1: IndexError, RecursionError, SafetensorError, ValueError, PermissionError."""
    from training.evaluate import main

    directory = make_model(tiny_model_dir, tmp_path / "desk")
    if damage == "unreadable":
        _unreadable_head(monkeypatch)
    else:
        damage(directory)
    assert main(["--model", str(directory), "--data", str(TRAIN_SMALL)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("evaluate: error: ") and err.count("\n") == 1, err
    assert re.search(message, err), err


def _unsearchable(monkeypatch, directory: Path) -> None:
    """A directory this user may not enter (the tests run as root: chmod would not stop them)."""
    real = Path.is_file

    def is_file(self: Path) -> bool:
        if self.parent == directory:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "is_file", is_file)


def test_an_unreadable_model_directory_is_one_line_in_every_cli(tiny_model_dir, tmp_path, capsys, monkeypatch):
    from service.bulk import main as bulk
    from service.cli import main as newstag
    from training.evaluate import main as evaluate

    directory = make_model(tiny_model_dir, tmp_path / "desk")
    (tmp_path / "a.txt").write_text("Rates rose again.")
    (tmp_path / "in.jsonl").write_text(json.dumps({"id": "a", "text": "Rates rose."}) + "\n")
    monkeypatch.setenv("NEWSTAG_MODEL", str(tiny_model_dir))
    _unsearchable(monkeypatch, directory)
    runs = [(lambda: newstag(["tag", str(tmp_path / "a.txt"), "--model", str(directory)]), "newstag: error: "),
            (lambda: evaluate(["--model", str(directory), "--data", str(TRAIN_SMALL)]), "evaluate: error: "),
            (lambda: bulk(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out"),
                           "--model", str(directory)]), "bulk: error: ")]
    for run, prefix in runs:
        assert run() == 2
        err = capsys.readouterr().err
        assert err.startswith(prefix) and err.count("\n") == 1, err
        assert f"{directory}: cannot be read (Permission denied)" in err
    assert not (tmp_path / "out").exists()


def test_a_model_path_that_cannot_be_examined_is_one_line_in_every_cli(tmp_path, capsys, monkeypatch):
    """Path.is_dir() on the --model path itself let a PermissionError out (a directory above it
    that the user cannot search): tag, export-onnx and bulk printed a traceback."""
    from pathlib import Path

    from service.bulk import main as bulk
    from service.cli import main as newstag

    hidden = tmp_path / "locked" / "desk"
    real_stat = Path.stat

    def stat(self, *args, **kwargs):
        if self == hidden:
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    (tmp_path / "a.txt").write_text("Rates rose again.")
    (tmp_path / "in.jsonl").write_text(json.dumps({"id": "a", "text": "Rates rose."}) + "\n")
    runs = [(lambda: newstag(["tag", str(tmp_path / "a.txt"), "--model", str(hidden)]), "newstag: error: "),
            (lambda: newstag(["export-onnx", "--model", str(hidden)]), "newstag: error: "),
            (lambda: bulk(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out"),
                           "--model", str(hidden)]), "bulk: error: ")]
    for run, prefix in runs:
        assert run() == 2
        assert capsys.readouterr().err == f"{prefix}--model {hidden}: cannot be read (Permission denied)\n"


def test_bulk_checks_a_fine_tuned_model_before_ray_starts(tiny_model_dir, tmp_path, capsys, monkeypatch):
    """Ray started, three workers failed with tracebacks, and the job file said to run again."""
    from service.bulk import cli as bulk_cli

    def no_ray(*args, **kwargs):
        raise AssertionError("Ray was started for a model that cannot load")

    monkeypatch.setattr(bulk_cli, "ray_session", no_ray)
    monkeypatch.setenv("NEWSTAG_MODEL", str(tiny_model_dir))
    directory = make_model(tiny_model_dir, tmp_path / "desk")
    (directory / "head.safetensors").unlink()
    (tmp_path / "in.jsonl").write_text(json.dumps({"id": "a", "text": "Rates rose."}) + "\n")
    assert bulk_cli.main(["--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out" / "o"),
                          "--model", str(directory)]) == 2
    err = capsys.readouterr().err
    assert err == f"bulk: error: model weights file is missing: {directory / 'head.safetensors'}\n"
    assert not (tmp_path / "out" / "o").exists()  # no _newstag_job.json to resume


def test_a_model_that_is_a_file_is_said_to_be_one(tmp_path, capsys):
    from service.cli import main

    (tmp_path / "a.txt").write_text("Rates rose again.")
    (tmp_path / "afile").write_text("x")
    assert main(["tag", str(tmp_path / "a.txt"), "--model", str(tmp_path / "afile")]) == 2
    assert capsys.readouterr().err == f"newstag: error: --model {tmp_path / 'afile'}: not a directory\n"


def test_evaluate_says_a_failure_inside_a_library_in_one_line(tiny_model_dir, tmp_path, capsys, monkeypatch):
    """As newstag tag --model does: a directory of the user's that fails in transformers (a bad config)."""
    from training.evaluate import main

    def odd_encoder(*args, **kwargs):
        raise ValueError("Unrecognized model type 'nonexistent-arch'")

    monkeypatch.setattr(classifier_module, "SentenceEncoder", odd_encoder)
    directory = make_model(tiny_model_dir, tmp_path / "desk")
    assert main(["--model", str(directory), "--data", str(TRAIN_SMALL)]) == 2
    assert capsys.readouterr().err == (f"evaluate: error: --model {directory} cannot be loaded: ValueError: "
                                       "Unrecognized model type 'nonexistent-arch'\n")


def test_loading_a_fine_tuned_model_draws_no_progress_bar(tiny_model_dir, tmp_path, capsys, monkeypatch):
    """transformers drew "Loading weights: 100%|...|" on stderr for each fine-tuned model loaded
    (newstag tag --model, every worker's rescan): the default model's loading turned it off, theirs not."""
    from transformers.utils import logging as hf_logging

    from service.cli import main

    directory = make_model(tiny_model_dir, tmp_path / "desk")
    (tmp_path / "a.txt").write_text("Rates rose again.")
    monkeypatch.setenv("NEWSTAG_MODEL", str(tiny_model_dir))
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.enable_progress_bar()  # as in a fresh process
    try:
        assert main(["tag", str(tmp_path / "a.txt"), "--model", str(directory)]) == 0
    finally:
        (hf_logging.enable_progress_bar if was_enabled else hf_logging.disable_progress_bar)()
    assert "Loading weights" not in capsys.readouterr().err
