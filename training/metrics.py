"""Classification metrics for tagging, computed with scikit-learn."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, hamming_loss, precision_recall_fscore_support
from sklearn.preprocessing import MultiLabelBinarizer

RARE_SUPPORT = 10  # labels with fewer examples than this in the data get their own macro-F1


def classification_report(gold: list[tuple[str, ...]], predicted: list[tuple[str, ...]],
                          label_names: list[str], single_label: bool) -> dict[str, Any]:
    """Micro/macro F1, per-label P/R/F1/support, Hamming loss; accuracy and confusion if single-label."""
    binarizer = MultiLabelBinarizer(classes=label_names)
    y_true = binarizer.fit_transform(gold)
    y_pred = binarizer.transform(predicted)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    # Macro-F1 over the labels that occur in the data or in the predictions: a taxonomy's
    # labels that neither the data nor the model ever uses would each count as an F1 of 0.
    present = (y_true.sum(axis=0) + y_pred.sum(axis=0)) > 0
    report: dict[str, Any] = {
        "examples": len(gold),
        "micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "macro_f1_labels": int(present.sum()),
        "labels_with_examples": int((y_true.sum(axis=0) > 0).sum()),  # of len(label_names): what the figures cover
        "hamming_loss": float(hamming_loss(y_true, y_pred)),
        "subset_accuracy": float(accuracy_score(y_true, y_pred)),  # the whole label set right
        "per_label": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(label_names, precision, recall, f1, support, strict=True)
        },
    }
    # Rare labels vanish in micro-F1 and are a few of many in macro-F1: their own average.
    rare = [name for name, m in report["per_label"].items() if 0 < m["support"] < RARE_SUPPORT]
    report["rare_labels"] = {"max_support": RARE_SUPPORT - 1, "count": len(rare),
                             "macro_f1": float(np.mean([report["per_label"][n]["f1"] for n in rare])) if rare else None}
    if single_label:
        true_first = [g[0] for g in gold]
        pred_first = [p[0] if p else "" for p in predicted]
        report["accuracy"] = float(accuracy_score(true_first, pred_first))
        matrix = confusion_matrix(true_first, pred_first, labels=label_names)
        report["confusion_matrix"] = {"labels": label_names, "rows_true_columns_predicted": matrix.tolist()}
    return report


def default_call_summary(gold: list[tuple[str, ...]], predicted: list[tuple[str, ...]]) -> dict[str, Any]:
    """Single-label data tagged as the API's default call (multi-label, each label's threshold):
    how often an article gets no label, and micro precision and recall of the labels it gets."""
    hits = sum(len(set(g) & set(p)) for g, p in zip(gold, predicted, strict=True))
    given, wanted = sum(len(p) for p in predicted), sum(len(g) for g in gold)
    precision, recall = hits / given if given else 0.0, hits / wanted if wanted else 0.0
    return {"no_label": sum(not p for p in predicted) / max(len(gold), 1),
            "precision": precision, "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
            "labels_per_article": given / max(len(gold), 1)}


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"examples     {report['examples']} (covering {report['labels_with_examples']} of the "
        f"{len(report['per_label'])} labels)",
        f"micro-F1     {report['micro_f1']:.4f}",
        f"macro-F1     {report['macro_f1']:.4f} (over the {report['macro_f1_labels']} of {len(report['per_label'])} "
        "labels found in the data or predicted)",
        f"Hamming loss {report['hamming_loss']:.4f}",
        f"subset acc.  {report['subset_accuracy']:.4f}",
    ]
    if "accuracy" in report:
        lines.append(f"accuracy     {report['accuracy']:.4f}")
    if default := report.get("default_call"):
        lines.append(f"as a default call (multi-label, each label's threshold): no label for {default['no_label']:.1%} "
                     f"of the articles, precision {default['precision']:.4f}, recall {default['recall']:.4f}, "
                     f"{default['labels_per_article']:.2f} labels an article")
    rare = report.get("rare_labels") or {}
    if rare.get("count"):
        lines.append(f"rare labels  macro-F1 {rare['macro_f1']:.4f} over the {rare['count']} labels with 1 to "
                     f"{rare['max_support']} examples here")
    width = max(len(n) for n in report["per_label"]) + 2
    lines.append("")
    lines.append(f"{'label':<{width}}precision  recall     F1  support  (most examples first)")
    for name, m in sorted(report["per_label"].items(), key=lambda item: -item[1]["support"]):
        lines.append(f"{name:<{width}}{m['precision']:9.3f} {m['recall']:7.3f} {m['f1']:6.3f} {m['support']:8d}")
    if "confusion_matrix" in report:
        names = report["confusion_matrix"]["labels"]
        rows = np.array(report["confusion_matrix"]["rows_true_columns_predicted"])
        cell = max(7, *(len(n) for n in names)) + 1
        lines.append("")
        lines.append("confusion matrix (rows: true, columns: predicted)")
        lines.append(" " * width + "".join(f"{n[:cell - 1]:>{cell}}" for n in names))
        for name, row in zip(names, rows, strict=True):
            lines.append(f"{name:<{width}}" + "".join(f"{v:>{cell}d}" for v in row))
    return "\n".join(lines)
