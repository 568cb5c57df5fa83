"""A fine-tuned model's version names the model: retrained, it is another version."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.engine.classifier_dir import read_classifier_dir
from tests.conftest import TRAIN_SMALL
from training.finetune import main


@pytest.mark.parametrize("mode", ["head", "hybrid"])
def test_a_model_retrained_on_a_copied_frozen_encoder_gets_a_new_version(tiny_model_dir, tmp_path: Path, mode):
    """--base DIR copies the encoder, which head and hybrid modes leave unchanged: the version was
    its digest, so retraining in place kept the version (a correction of the old model's answer,
    sent with its model_version, was refused as a typo; a resumed batch job mixed two models)."""
    lines = TRAIN_SMALL.read_text(encoding="utf-8").splitlines(keepends=True)
    fewer = tmp_path / "fewer.jsonl"
    fewer.write_text("".join(lines[:-6]), encoding="utf-8")
    versions = []
    for data in (TRAIN_SMALL, fewer):
        assert main(["--train", str(data), "--output", str(tmp_path / "desk"), "--base", str(tiny_model_dir),
                     "--mode", mode, "--epochs", "2", "--max-length", "64", "--seed", "3"]) == 0
        versions.append(read_classifier_dir(tmp_path / "desk").version)
    assert versions[0] != versions[1]
