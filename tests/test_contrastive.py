"""Contrastive tuning (training/contrastive.py): its pairs, that it pulls a label's articles
together on a tiny random model, when it runs, and the model directory it leaves."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoTokenizer

from service.engine.classifier import ClassifierBackend
from service.engine.pooling import embed_padded, pad_batch
from tests.conftest import TRAIN_SMALL
from training.contrastive import ContrastiveSettings, contrastive_tune, training_pairs, wanted
from training.data import read_labeled
from training.finetune import main


def test_pairs_are_balanced_and_right_about_their_labels():
    label_of = ["a"] * 6 + ["b"] * 3 + ["c"]
    pairs = training_pairs(label_of, 200, random.Random(0))
    assert len(pairs) == 200
    positives = [(i, j) for i, j, t in pairs if t == 1.0]
    negatives = [(i, j) for i, j, t in pairs if t == 0.0]
    assert len(positives) == len(negatives) == 100
    assert all(label_of[i] == label_of[j] for i, j in positives)
    assert all(label_of[i] != label_of[j] for i, j in negatives)
    anchors = np.bincount([i for i, _, _ in pairs], minlength=len(label_of))
    assert anchors.max() - anchors.min() <= 2  # every article anchors about as many pairs
    assert (9, 9, 1.0) in pairs  # the label with one article pairs it with itself
    with pytest.raises(ValueError, match="two labels"):
        training_pairs(["a", "a"], 4, random.Random(0))


def test_tuning_runs_when_asked_and_refuses_multi_label_data():
    assert wanted("on", False) and not wanted("off", False) and not wanted("off", True)
    with pytest.raises(ValueError, match="single-label"):
        wanted("on", True)


def _cosines(model, tokenizer, texts: list[str]) -> np.ndarray:
    ids, mask = pad_batch(tokenizer(texts)["input_ids"], tokenizer.pad_token_id or 0)
    with torch.no_grad():
        vectors = embed_padded(model, ids, mask)
    return (vectors @ vectors.T).numpy()


def test_tuning_pulls_a_labels_articles_together_and_pushes_others_apart(tiny_model_dir: Path):
    examples = read_labeled(TRAIN_SMALL)
    texts, label_of = [e.text for e in examples], [e.labels[0] for e in examples]
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModel.from_pretrained(tiny_model_dir)
    same = np.equal.outer(np.array(label_of), np.array(label_of)) & ~np.eye(len(texts), dtype=bool)
    other = ~np.equal.outer(np.array(label_of), np.array(label_of))

    def separation() -> float:
        cos = _cosines(model, tokenizer, texts)
        return float(cos[same].mean() - cos[other].mean())

    before = separation()
    loss = contrastive_tune(model, tokenizer, texts, label_of, ContrastiveSettings(pairs=256, lr=1e-3), seed=0,
                            show_progress=False)
    assert separation() > before + 0.05, (before, separation())  # measured: 0.000 -> 0.11
    assert 0 <= loss < 0.25  # the squared error of a cosine against 0 or 1, after training
    assert not model.training


def _single_label(tmp_path: Path) -> Path:
    rows = [{"text": e.text, "labels": list(e.labels)} for e in read_labeled(TRAIN_SMALL) if len(e.labels) == 1]
    path = tmp_path / "single.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_finetune_with_contrastive_tuning_saves_the_tuned_encoder_and_says_so(tiny_model_dir: Path, tmp_path: Path):
    output = tmp_path / "tuned"
    assert main(["--train", str(_single_label(tmp_path)), "--output", str(output), "--base", str(tiny_model_dir),
                 "--max-length", "64", "--contrastive", "on", "--contrastive-pairs", "96", "--seed", "1"]) == 0
    manifest = json.loads((output / "newstag.json").read_text())
    assert manifest["contrastive"]["pairs"] == 96
    assert "tuned on 96 pairs" in (output / "README.md").read_text()
    tuned = load_file(str(output / "model.safetensors"))
    base = load_file(str(tiny_model_dir / "model.safetensors"))
    changed = [name for name in base if name in tuned and not torch.equal(base[name], tuned[name])]
    assert changed, "the saved encoder is the base's, not the tuned one"
    assert not list(tmp_path.glob(".tuned.contrastive-*"))  # the working copy is removed
    backend = ClassifierBackend.load(output)
    scored = backend.score([backend.prepare("The striker scored twice in the cup final.")], list(backend.labels))
    assert all(np.isclose(s.label_scores.sum(), 1.0) for s in scored)  # single-label: a softmax over the labels
    # the tuned vector at weight 1 and no label-name feature, as the card records
    card = (output / "README.md").read_text()
    assert "scaled by 1.0" in card


def test_finetune_without_contrastive_tuning_keeps_the_base_encoder(tiny_model_dir: Path, tmp_path: Path):
    output = tmp_path / "plain"  # off is the default
    assert main(["--train", str(_single_label(tmp_path)), "--output", str(output), "--base", str(tiny_model_dir),
                 "--max-length", "64", "--seed", "1"]) == 0
    assert "contrastive" not in json.loads((output / "newstag.json").read_text())
    tuned = load_file(str(output / "model.safetensors"))
    base = load_file(str(tiny_model_dir / "model.safetensors"))
    assert all(torch.equal(base[name], tuned[name]) for name in base if name in tuned)


def test_contrastive_on_refuses_multi_label_data_and_full_mode(tiny_model_dir: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]):
    assert main(["--train", str(TRAIN_SMALL), "--output", str(tmp_path / "m"), "--base", str(tiny_model_dir),
                 "--max-length", "64", "--contrastive", "on"]) == 2  # TRAIN_SMALL has articles with two labels
    assert "single-label" in capsys.readouterr().err
    assert main(["--train", str(TRAIN_SMALL), "--output", str(tmp_path / "f"), "--base", str(tiny_model_dir),
                 "--mode", "full", "--contrastive", "on"]) == 2
    assert "hybrid and head" in capsys.readouterr().err
    assert not (tmp_path / "m").exists() and not (tmp_path / "f").exists()


def test_ctrl_c_after_contrastive_tuning_leaves_no_tuned_encoder_behind(tiny_model_dir: Path, tmp_path: Path,
                                                                       monkeypatch, capsys):
    """The run said "nothing was saved" but kept the working copy (90 MB with the real model)."""
    from training import stages

    def interrupted(*_args, **_kwargs):
        assert list(tmp_path.glob(".tuned.contrastive-*"))  # tuned and saved: the case at hand
        raise KeyboardInterrupt

    monkeypatch.setattr(stages, "frozen_windows", interrupted)
    assert main(["--train", str(_single_label(tmp_path)), "--output", str(tmp_path / "tuned"), "--base",
                 str(tiny_model_dir), "--max-length", "64", "--contrastive", "on", "--contrastive-pairs", "32"]) == 130
    assert "nothing was saved" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["single.jsonl"]
