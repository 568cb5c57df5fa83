"""Head and full modes' losses for imbalanced labels: their weights, their values, what they train."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import TRAIN_SMALL
from training.classification import label_weights, loss_function
from training.config import TrainingConfig
from training.distributed import Distributed
from training.finetune import main
from training.finetune_cli import unused_options
from training.stages import head_stage


def test_balanced_weights_each_labels_positives_as_much_as_its_negatives():
    target = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    # 1 positive of 4: 3; every article positive or none: no weighting (nothing to balance)
    assert label_weights(target, 3, multi_label=True).tolist() == [3.0, 1.0, 1.0]


def test_balanced_weights_single_label_give_each_label_an_even_share_and_an_absent_one_none():
    weights = label_weights(torch.tensor([0, 0, 1]), 3, multi_label=False)
    assert weights.tolist() == pytest.approx([0.5, 1.0, 0.0])  # 3 / (3 * 2), 3 / (3 * 1)


def test_the_balanced_loss_weighs_a_rare_labels_missed_positive_by_its_ratio():
    target = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    balanced, plain = loss_function("balanced", target, True), loss_function("bce", target, True)
    logits, wanted = torch.tensor([[-2.0, 0.0]]), torch.tensor([[1.0, 0.0]])
    # label 0: a missed positive weighs 3 (3 negatives to 1 positive); label 1 is 1 to 3: weight 1/3 on nothing here
    missed, right = -math.log(torch.sigmoid(torch.tensor(-2.0)).item()), -math.log(0.5)
    assert balanced(logits, wanted).item() == pytest.approx((3 * missed + right) / 2, rel=1e-5)
    assert plain(logits, wanted).item() == pytest.approx((missed + right) / 2, rel=1e-5)


@pytest.mark.parametrize("multi_label", [True, False])
def test_the_focal_loss_is_cross_entropy_times_how_wrong_the_model_still_is(multi_label: bool):
    if multi_label:
        target, logits, wanted = torch.zeros(2, 1), torch.tensor([[3.0], [-3.0]]), torch.tensor([[1.0], [1.0]])
        right = torch.sigmoid(logits).squeeze(1)
    else:
        target, logits, wanted = torch.tensor([0, 1]), torch.tensor([[3.0, 0.0], [-3.0, 0.0]]), torch.tensor([0, 0])
        right = torch.softmax(logits, dim=-1)[:, 0]
    expected = ((1 - right) ** 2 * -torch.log(right)).mean().item()
    assert loss_function("focal", target, multi_label)(logits, wanted).item() == pytest.approx(expected, rel=1e-5)
    # a sure right answer costs almost nothing, a sure wrong one nearly its cross-entropy
    assert (1 - right[0]) ** 2 < 0.01 and (1 - right[1]) ** 2 > 0.9


def test_an_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        loss_function("hinge", torch.zeros(1, 1), True)


def _imbalanced_windows(seed: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    """200 articles of one window each: label 0 on every article, label 1 on 6, which lean its way."""
    generator = torch.Generator().manual_seed(seed)
    vectors = torch.randn(200, 8, generator=generator)
    target = torch.zeros(200, 2)
    target[:, 0] = 1.0
    target[:6, 1] = 1.0
    vectors[:6, 0] += 1.5  # the rare label is there to be found, but weakly
    return [v.unsqueeze(0) for v in vectors], target


def _rare_label_scores(loss: str, tmp_path: Path) -> np.ndarray:
    windows, target = _imbalanced_windows(0)
    torch.manual_seed(0)
    head = torch.nn.Linear(8, 2)
    config = TrainingConfig(train=TRAIN_SMALL, output=tmp_path / loss, mode="head", loss=loss, epochs=12,
                            batch_size=20, lr=0.1).resolved()
    truth = np.array([[True, i < 6] for i in range(200)])
    result = head_stage(head, config, {"train": windows, "validation": windows}, truth, target, True, {}, Distributed())
    assert result is not None
    return result.probs[:, 1]


def test_the_balanced_loss_scores_a_rare_labels_articles_higher_than_plain_cross_entropy(tmp_path: Path):
    plain, balanced = _rare_label_scores("bce", tmp_path), _rare_label_scores("balanced", tmp_path)
    # plain cross-entropy learns the prior (6 in 200) and leaves the rare label's articles under 0.5
    # (0.21 when written); weighed as much as the negatives, they pass it (0.82), the rest stay under
    assert plain[:6].mean() < 0.4 and balanced[:6].mean() > 0.6
    assert balanced[6:].mean() < 0.4


def test_the_loss_is_an_option_of_head_mode_named_in_the_model_card(tiny_model_dir: Path, tmp_path: Path, capsys):
    assert main(["--train", str(TRAIN_SMALL), "--output", str(tmp_path / "out"), "--base", str(tiny_model_dir),
                 "--mode", "head", "--epochs", "2", "--max-length", "64", "--loss", "focal"]) == 0
    assert "loss focal" in (tmp_path / "out" / "README.md").read_text()
    assert unused_options(["--loss", "balanced"], "hybrid") == ["--loss"]  # the SVMs are balanced already
    with pytest.raises(SystemExit):
        main(["--train", str(TRAIN_SMALL), "--output", str(tmp_path / "x"), "--loss", "hinge"])
    assert "invalid choice: 'hinge'" in capsys.readouterr().err
