"""Evaluation plots as PNG files: per-label F1, precision-recall curves, confusion matrix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import precision_recall_curve  # noqa: E402


def per_label_f1(report: dict[str, Any], path: Path) -> None:
    names = list(report["per_label"])
    values = [report["per_label"][n]["f1"] for n in names]
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.28 * len(names) + 1)))
    ax.barh(names, values, color="#3b6ea8")
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("F1")
    ax.set_title(f"Per-label F1 (macro-F1 {report['macro_f1']:.3f})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def precision_recall(scores: np.ndarray, truth: np.ndarray, names: list[str], path: Path, most: int = 12) -> None:
    """One curve per label (the ``most`` most frequent labels, to stay readable)."""
    order = np.argsort(-truth.sum(axis=0))[:most]
    fig, ax = plt.subplots(figsize=(7, 6))
    for j in order:
        if truth[:, j].sum() == 0:
            continue
        precision, recall, _ = precision_recall_curve(truth[:, j], scores[:, j])
        ax.plot(recall, precision, label=names[j])
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title("Precision-recall by label")
    ax.legend(fontsize="small", loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def confusion(report: dict[str, Any], path: Path) -> None:
    names = report["confusion_matrix"]["labels"]
    matrix = np.array(report["confusion_matrix"]["rows_true_columns_predicted"])
    size = max(4, 0.5 * len(names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                    color="white" if matrix[i, j] > matrix.max() / 2 else "black", fontsize="small")
    ax.set_title("Confusion matrix")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
