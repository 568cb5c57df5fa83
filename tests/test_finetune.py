"""Fine-tuning end to end: output directory, determinism, interruption and resume, torchrun."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors.numpy import load_file

from service.engine.model_files import DEFAULT_MODEL_SHA256
from tests.conftest import ROOT, TRAIN_SMALL
from training.finetune import main
from training.finetune_cli import unused_options


def test_the_output_is_a_complete_model_directory(trained_model_dir: Path):
    names = {p.name for p in trained_model_dir.iterdir()}
    assert {"head.safetensors", "labels.json", "metrics.json", "newstag.json", "README.md"} <= names
    # Head mode leaves the embedded encoder unchanged: referenced by its checksum, not copied.
    assert "model.safetensors" not in names and "config.json" not in names
    encoder = json.loads((trained_model_dir / "newstag.json").read_text())["encoder"]
    assert encoder["sha256"] == DEFAULT_MODEL_SHA256
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pkl", ".pth"))]  # nothing pickled
    labels = json.loads((trained_model_dir / "labels.json").read_text())
    assert labels["labels"] == ["climate", "economy", "health", "sport"] and labels["multi_label"] is True
    assert all(0 < t < 1 for t in labels["thresholds"])
    manifest = json.loads((trained_model_dir / "newstag.json").read_text())
    assert manifest["training_data"]["rows"] == 40
    assert manifest["training_data"]["label_counts"]["sport"] == 12
    assert {"torch", "transformers", "safetensors", "newstag"} <= set(manifest["library_versions"])
    metrics = json.loads((trained_model_dir / "metrics.json").read_text())
    assert {"micro_f1", "macro_f1", "hamming_loss", "subset_accuracy", "per_label"} <= set(metrics)
    assert not (trained_model_dir.parent / f".{trained_model_dir.name}.checkpoint").exists()


def test_model_files_get_the_users_umask_not_private_modes(trained_model_dir: Path):
    """safetensors writes 0600; the service's own user (uid 10001 in the image) must read the model."""
    umask = os.umask(0)
    os.umask(umask)
    modes = {p.name: p.stat().st_mode & 0o777 for p in trained_model_dir.iterdir() if p.is_file()}
    assert modes and set(modes.values()) == {0o666 & ~umask}, modes


def test_atomic_directory_applies_the_umask_under_a_strict_one_too(tmp_path: Path):
    from training.export import atomic_directory

    old = os.umask(0o077)
    try:
        with atomic_directory(tmp_path / "model") as tmp:
            (tmp / "weights").write_bytes(b"x")
            os.chmod(tmp / "weights", 0o644)
    finally:
        os.umask(old)
    assert (tmp_path / "model" / "weights").stat().st_mode & 0o777 == 0o600  # the user's choice wins


def test_a_model_is_never_written_over_a_directory_newstag_did_not_write(tmp_path: Path):
    """``--output models`` (a folder of models) or ``--output ~`` would be replaced whole."""
    from training.export import OutputInUseError, atomic_directory

    folder = tmp_path / "models"
    (folder / "reuters-v1").mkdir(parents=True)
    (folder / "reuters-v1" / "newstag.json").write_text("{}")
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(OutputInUseError, match="did not write"), atomic_directory(folder) as tmp:
        (tmp / "weights").write_bytes(b"x")
    assert (folder / "notes.txt").read_text() == "mine" and (folder / "reuters-v1" / "newstag.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]  # no temporary directory left behind

    a_file = tmp_path / "README.md"
    a_file.write_text("keep")
    with pytest.raises(OutputInUseError, match="is a file"), atomic_directory(a_file):
        pass
    assert a_file.read_text() == "keep"


def test_a_model_replaces_an_earlier_model_or_an_empty_directory(tmp_path: Path):
    from training.export import atomic_directory

    earlier, empty = tmp_path / "earlier", tmp_path / "empty"
    earlier.mkdir()
    (earlier / "newstag.json").write_text("{}")
    (earlier / "head.safetensors").write_bytes(b"old")
    empty.mkdir()
    for output in (earlier, empty):
        with atomic_directory(output) as tmp:
            (tmp / "newstag.json").write_text('{"new": true}')
        assert sorted(p.name for p in output.iterdir()) == ["newstag.json"]


def test_something_that_appears_at_the_output_during_training_is_kept(tmp_path: Path):
    from training.export import OutputInUseError, atomic_directory

    output = tmp_path / "model"
    with pytest.raises(OutputInUseError), atomic_directory(output) as tmp:
        (tmp / "newstag.json").write_text("{}")
        output.mkdir()
        (output / "report.pdf").write_bytes(b"someone else's")
    assert (output / "report.pdf").read_bytes() == b"someone else's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_finetune_refuses_such_an_output_before_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from training.finetune import main

    train = tmp_path / "train.jsonl"
    train.write_text('{"text": "Rates rose.", "labels": ["economy"]}\n')
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "thesis.tex").write_text("years of work")
    assert main(["--train", str(train), "--output", str(tmp_path / "home")]) == 2
    assert "did not write" in capsys.readouterr().err
    assert (tmp_path / "home" / "thesis.tex").read_text() == "years of work"


def test_the_model_card_has_hugging_face_front_matter(trained_model_dir: Path):
    card = (trained_model_dir / "README.md").read_text()
    assert card.startswith("---\n")
    front = yaml.safe_load(card.split("---\n")[1])
    assert {"license", "tags", "datasets", "metrics", "model-index"} <= set(front)
    results = front["model-index"][0]["results"][0]
    assert results["dataset"]["split"] == "validation"
    micro = json.loads((trained_model_dir / "metrics.json").read_text())["micro_f1"]
    assert results["metrics"][0]["value"] == round(micro, 4)
    for section in ("## Intended use", "## Limitations", "## Training", "## Results (validation split)"):
        assert section in card
    assert "python -m training.finetune --train" in card


def run_tiny(tiny_model_dir: Path, output: Path, *extra: str) -> int:
    return main(["--train", str(TRAIN_SMALL), "--output", str(output), "--base", str(tiny_model_dir),
                 "--mode", "full", "--batch-size", "8", "--max-length", "64", "--seed", "3", *extra])


def test_the_same_seed_gives_the_same_model_and_metrics(tiny_model_dir, tmp_path):
    assert run_tiny(tiny_model_dir, tmp_path / "a", "--epochs", "2") == 0
    assert run_tiny(tiny_model_dir, tmp_path / "b", "--epochs", "2") == 0
    assert (tmp_path / "a" / "metrics.json").read_text() == (tmp_path / "b" / "metrics.json").read_text()
    heads = [load_file(str(tmp_path / run / "head.safetensors"))["weight"] for run in ("a", "b")]
    assert (heads[0] == heads[1]).all()


def test_bf16_training_writes_an_fp32_model_that_differs_from_fp32_training(tiny_model_dir, tmp_path):
    assert run_tiny(tiny_model_dir, tmp_path / "fp32", "--epochs", "2") == 0
    assert run_tiny(tiny_model_dir, tmp_path / "bf16", "--epochs", "2", "--precision", "bf16") == 0
    heads = [load_file(str(tmp_path / run / "head.safetensors"))["weight"] for run in ("fp32", "bf16")]
    assert heads[1].dtype == np.float32 and not np.array_equal(heads[0], heads[1])  # autocast really ran
    card = (tmp_path / "bf16" / "README.md").read_text()
    assert "--precision bf16" in card


def test_bad_data_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,labels,colour\nx,a,red\n")
    assert main(["--train", str(bad), "--output", str(tmp_path / "out")]) == 2
    assert "bad.csv:1: unknown column(s) colour" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_negative_label_prior_is_a_clear_error(tmp_path, capsys):
    assert main(["--train", str(TRAIN_SMALL), "--output", str(tmp_path / "out"), "--label-prior", "-1"]) == 2
    assert "--label-prior >= 0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("mode", ["head", "full"])
def test_a_base_with_dense_layers_after_pooling_is_trained_and_served_through_them(tiny_st_dir, tmp_path, mode):
    """EmbeddingGemma's pipeline runs Dense layers after pooling: the model directory keeps
    them, checksummed, and the service reads the windows the head was trained on."""
    from service.engine.classifier import ClassifierBackend
    from service.engine.classifier_dir import read_classifier_dir

    output = tmp_path / mode
    assert main(["--train", str(TRAIN_SMALL), "--output", str(output), "--base", str(tiny_st_dir), "--mode", mode,
                 "--epochs", "1", "--batch-size", "8", "--max-length", "64", "--seed", "3"]) == 0
    manifest = json.loads((output / "newstag.json").read_text())
    assert {"2_Dense/model.safetensors", "3_Dense/model.safetensors"} <= set(manifest["sha256"])
    assert not (output / "config_sentence_transformers.json").exists()  # no prompt: none was read in training
    head = load_file(str(output / "head.safetensors"))
    assert head["weight"].shape[1] == 8  # the second Dense layer's width, not the transformer's 32
    backend = ClassifierBackend.load(output)
    assert backend.encoder.dim == 8 and len(backend.encoder.pipeline.steps) == 2
    assert backend.score([backend.prepare("The match ended in a draw.")], list(backend.fixed_labels or ()))
    dense = output / "2_Dense" / "model.safetensors"
    dense.write_bytes(dense.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(Exception, match="SHA-256"):
        read_classifier_dir(output)


def test_a_full_model_pins_its_encoder_config_and_tokenizer(tiny_model_dir, tmp_path):
    """An edited vocabulary or configuration changes what the weights read: refused like edited weights."""
    from service.engine.classifier_dir import read_classifier_dir

    output = tmp_path / "full"
    assert run_tiny(tiny_model_dir, output, "--epochs", "1") == 0
    pinned = json.loads((output / "newstag.json").read_text())["sha256"]
    assert {"config.json", "tokenizer.json", "tokenizer_config.json"} <= set(pinned)
    tokenizer = output / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text().replace('"[UNK]"', '"[UNKNOWN]"', 1))
    with pytest.raises(Exception, match="SHA-256.*tokenizer.json"):
        read_classifier_dir(output)


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_resume_finishes_the_same_model(tiny_model_dir, tmp_path):
    reference = tmp_path / "reference"
    assert run_tiny(tiny_model_dir, reference, "--epochs", "40") == 0

    output = tmp_path / "interrupted"
    command = [sys.executable, "-m", "training.finetune", "--train", str(TRAIN_SMALL), "--output", str(output),
               "--base", str(tiny_model_dir), "--mode", "full", "--batch-size", "8", "--max-length", "64",
               "--seed", "3", "--epochs", "40"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    checkpoint = output.parent / ".interrupted.checkpoint" / "state.json"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "checkpoint in" in err and "--resume" in err
    assert not output.exists()  # never a half-written model

    assert subprocess.run([*command, "--resume"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}).returncode == 0
    assert (output / "metrics.json").read_text() == (reference / "metrics.json").read_text()
    assert (load_file(str(output / "head.safetensors"))["weight"]
            == load_file(str(reference / "head.safetensors"))["weight"]).all()


def test_sigkill_mid_epoch_leaves_no_model_the_service_could_load_and_resume_finishes(
        tiny_model_dir, tmp_path, tagger):
    from service.config import Settings
    from service.http.trained_models import TrainedModels

    models_dir = tmp_path / "models"
    output = models_dir / "killed"
    command = [sys.executable, "-m", "training.finetune", "--train", str(TRAIN_SMALL), "--output", str(output),
               "--base", str(tiny_model_dir), "--mode", "full", "--batch-size", "8", "--max-length", "64",
               "--seed", "3", "--epochs", "40"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    checkpoint = models_dir / ".killed.checkpoint" / "state.json"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # into the next epoch: no handler runs on SIGKILL
    process.kill()
    assert process.wait(30) == -signal.SIGKILL
    assert not output.exists()
    assert [p.name for p in models_dir.iterdir() if not p.name.startswith(".")] == []
    scanned = TrainedModels(models_dir, Settings.from_env({}).engine_options(), tagger.taxonomies)
    assert scanned.scan() == {} and scanned.taggers() == {}  # hidden checkpoints are not models

    resumed = subprocess.run([*command, "--resume"], cwd=ROOT, capture_output=True, text=True, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert scanned.scan() == {} and list(scanned.taggers()) == ["killed"]


@pytest.mark.slow
def test_torchrun_trains_with_two_processes_and_writes_one_model(tiny_model_dir, tmp_path):
    from tests.test_gunicorn import free_port

    output = tmp_path / "ddp"
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
         "-m", "training.finetune", "--train", str(TRAIN_SMALL), "--output", str(output),
         "--base", str(tiny_model_dir), "--mode", "full", "--epochs", "1", "--batch-size", "4",
         "--max-length", "64"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, env={**os.environ, "PYTHONPATH": str(ROOT),
                                                                    "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert (output / "head.safetensors").is_file() and (output / "metrics.json").is_file()
    assert result.stdout.count("wrote ") == 1  # rank 0 alone writes


@pytest.mark.parametrize("option, value", [("--lr", "nan"), ("--lr", "inf"), ("--lr", "-1"), ("--lr", "0"),
                                           ("--head-lr-multiplier", "nan"), ("--probe-epochs", "-1")])
def test_a_learning_rate_that_is_not_a_finite_positive_number_is_refused(tmp_path, capsys, option, value):
    """Accepted, they trained a model of NaN thresholds (or a diverging one) and exited 0."""
    assert main(["--train", str(TRAIN_SMALL), "--output", str(tmp_path / "out"), option, value]) == 2
    assert option in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_each_size_out_of_range_is_named_with_its_value(tmp_path, capsys):
    """One message listed all three limits, whichever was wrong."""
    assert main(["--train", str(TRAIN_SMALL), "--output", str(tmp_path / "out"),
                 "--max-length", "8", "--epochs", "0"]) == 2
    err = capsys.readouterr().err
    assert "--max-length must be at least 16, not 8" in err and "--epochs must be at least 1, not 0" in err
    assert "--batch-size" not in err
    assert not (tmp_path / "out").exists()


def test_a_run_whose_loss_stops_being_finite_writes_no_model(tiny_model_dir, tmp_path, capsys):
    assert run_tiny(tiny_model_dir, tmp_path / "out", "--mode", "head", "--epochs", "3", "--lr", "1e30") == 2
    err = capsys.readouterr().err
    assert "training diverged" in err and "no model was written" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def head_checkpoint(tiny_model_dir, tmp_path_factory) -> Path:
    """The checkpoint a head-mode run (2 epochs, lr 0.01, seed 3) leaves on Ctrl-C at its first step."""
    from training.trainer import Trainer

    real_fit = Trainer.fit

    def fit(self):
        real_loss = self.loss

        def loss(batch):
            os.kill(os.getpid(), signal.SIGINT)
            return real_loss(batch)

        self.loss = loss
        real_fit(self)

    output = tmp_path_factory.mktemp("interrupted") / "out"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Trainer, "fit", fit)
        assert run_tiny(tiny_model_dir, output, "--mode", "head", "--epochs", "2", "--lr", "0.01") == 130
    return output.parent / ".out.checkpoint"


@pytest.mark.parametrize("changed, message", [
    (["--epochs", "1"], "--epochs 1 (checkpoint: 2)"), (["--lr", "0.001"], "--lr 0.001 (checkpoint: 0.01)"),
    (["--mode", "full"], "--mode full (checkpoint: head)"), (["--seed", "4"], "--seed 4 (checkpoint: 3)"),
    (["--batch-size", "4"], "--batch-size 4 (checkpoint: 8)"), (["--base", "."], "--base ")])
def test_a_checkpoint_made_with_other_settings_is_not_resumed(head_checkpoint, tiny_model_dir, tmp_path, capsys,
                                                              changed, message):
    """Resumed, fewer epochs wrote the checkpoint's model, another lr was recorded but not used,
    and another mode or base failed with a traceback."""
    shutil.copytree(head_checkpoint, tmp_path / ".out.checkpoint")
    assert run_tiny(tiny_model_dir, tmp_path / "out", "--mode", "head", "--epochs", "2", "--lr", "0.01",
                    *changed, "--resume") == 2
    err = capsys.readouterr().err
    assert "other settings" in err and message in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_a_checkpoint_that_records_no_settings_is_not_resumed(head_checkpoint, tiny_model_dir, tmp_path, capsys):
    checkpoint = tmp_path / ".out.checkpoint"
    shutil.copytree(head_checkpoint, checkpoint)
    state = json.loads((checkpoint / "state.json").read_text())
    (checkpoint / "state.json").write_text(json.dumps({k: v for k, v in state.items() if k != "settings"}))
    assert run_tiny(tiny_model_dir, tmp_path / "out", "--mode", "head", "--epochs", "2", "--resume") == 2
    assert "does not record the settings" in capsys.readouterr().err


@pytest.fixture()
def sigterm_survived():
    """Without newstag's own handler, SIGTERM would end the test process: note it instead."""
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_sigterm_outside_the_training_loop_is_an_interruption(tiny_model_dir, tmp_path, monkeypatch, capsys,
                                                              sigterm_survived):
    """Hybrid mode never enters the loop: SIGTERM ended it with 143 and no word, not the documented 130."""
    import training.finetune as finetune

    real = finetune.resolve_base

    def resolve_base(base):
        os.kill(os.getpid(), signal.SIGTERM)
        return real(base)

    monkeypatch.setattr(finetune, "resolve_base", resolve_base)
    assert run_tiny(tiny_model_dir, tmp_path / "out", "--mode", "hybrid") == 130
    assert "interrupted before" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_a_training_file_inside_the_model_directory_it_replaces_is_refused(tmp_path, capsys):
    """The new model replaced the directory whole: the training file in it was deleted, exit 0."""
    output = tmp_path / "model"
    output.mkdir()
    (output / "newstag.json").write_text("{}")  # an earlier model
    shutil.copy(TRAIN_SMALL, output / "train.jsonl")
    assert main(["--train", str(output / "train.jsonl"), "--output", str(output)]) == 2
    assert "--train" in capsys.readouterr().err and (output / "train.jsonl").is_file()
    kept = str(output / "train.jsonl")
    assert main(["--train", str(TRAIN_SMALL), "--validation", kept, "--output", str(output)]) == 2
    assert "--validation" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["a_file.jsonl/model", "/proc/model"])
def test_an_output_that_cannot_be_created_is_refused_before_training(tmp_path, capsys, where):
    """It failed after training, with NotADirectoryError or FileNotFoundError's traceback."""
    (tmp_path / "a_file.jsonl").write_text("{}\n")
    assert main(["--train", str(TRAIN_SMALL), "--output", str(tmp_path / where)]) == 2
    err = capsys.readouterr().err
    assert "cannot be created" in err and len(err.strip().splitlines()) == 1


def test_an_interrupt_after_the_model_is_in_place_says_so_and_removes_the_checkpoint(tiny_model_dir, tmp_path,
                                                                                     monkeypatch, capsys):
    """SIGTERM between the model's rename into place and the checkpoint's removal said "nothing
    was saved" beside a complete model, and left the checkpoint."""
    import training.finetune as finetune
    from training.trainer import checkpoint_dir

    removed = finetune.remove_checkpoint

    def interrupted_then_remove(output):
        monkeypatch.setattr(finetune, "remove_checkpoint", removed)
        checkpoint_dir(output).mkdir(parents=True, exist_ok=True)  # as a loop-trained run leaves it
        raise KeyboardInterrupt  # as SIGTERM arrives there (sigterm_interrupts)

    monkeypatch.setattr(finetune, "remove_checkpoint", interrupted_then_remove)
    output = tmp_path / "out"
    assert run_tiny(tiny_model_dir, output, "--mode", "hybrid") == 130
    assert "interrupted after" in capsys.readouterr().err and (output / "newstag.json").is_file()
    assert not checkpoint_dir(output).exists()


def test_a_failure_to_write_the_model_is_one_line(tiny_model_dir, tmp_path, monkeypatch, capsys):
    import training.finetune as finetune

    def full_disk(*_args, **_kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "out"))

    monkeypatch.setattr(finetune, "write_model_dir", full_disk)
    assert run_tiny(tiny_model_dir, tmp_path / "out", "--mode", "hybrid") == 2
    assert capsys.readouterr().err.strip().endswith("out: No space left on device")


def test_a_max_length_beyond_the_base_models_positions_is_refused(tiny_model_dir, tmp_path, capsys):
    """The tiny model reads 128 positions: 200 failed inside it with a traceback on a long article."""
    assert run_tiny(tiny_model_dir, tmp_path / "out", "--max-length", "200") == 2
    assert "--max-length 200 is more than the base model reads at once (128" in capsys.readouterr().err


def test_the_position_limit_counts_robertas_offset_and_the_tokenizers_limit(tmp_path):
    """RoBERTa-style models number positions from pad_token_id + 1: 66 positions read 64 tokens,
    and --max-length 66 passed the check, then failed inside the model (index out of range)."""
    from training.model import check_max_length

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "xlm-roberta", "max_position_embeddings": 66,
                                                      "pad_token_id": 1}))
    check_max_length(tmp_path, 64)
    with pytest.raises(ValueError, match="--max-length 65 is more than the base model reads at once \\(64 tokens"):
        check_max_length(tmp_path, 65)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 48}))
    with pytest.raises(ValueError, match="\\(48 tokens"):
        check_max_length(tmp_path, 64)


def test_options_the_mode_does_not_use_are_named(tiny_model_dir, tmp_path, capsys):
    """--epochs 3 or --lr 0.1 with the default hybrid mode were dropped without a word."""
    assert main(["--train", str(TRAIN_SMALL), "--output", str(tmp_path / "out"), "--base", str(tiny_model_dir),
                 "--max-length", "64", "--epochs", "3", "--lr=0.1", "--svm-c", "1"]) == 0
    err = capsys.readouterr().err
    assert "finetune: note: --mode hybrid does not use --epochs, --lr: ignored" in err
    assert unused_options(["--svm-c", "2", "--epochs", "3"], "head") == ["--svm-c"]
    assert unused_options(["--resume"], "hybrid") == ["--resume"]  # it has no checkpoint to resume
    assert unused_options(["--embedding-weight=0.5"], "full") == ["--embedding-weight"]
