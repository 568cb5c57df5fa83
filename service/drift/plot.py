"""The drift chart (PNG): label shares in both periods, and the top-score distributions.

matplotlib is imported here only, when a chart is asked for, with the Agg backend (no display).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .comparison import Comparison, DriftReport

MAX_LABELS = 24
THEN_COLOUR, NOW_COLOUR, MOVED_COLOUR, TRAIN_COLOUR = "#9aa5b1", "#1f6feb", "#d1242f", "#222222"


def _shares(ax, c: Comparison, training: Comparison | None) -> None:
    shown = sorted(c.labels, key=lambda x: -max(x.then_share, x.now_share))[:MAX_LABELS]
    shown.sort(key=lambda x: x.now_share)
    y = np.arange(len(shown))
    ax.barh(y + 0.2, [x.then_share * 100 for x in shown], height=0.4, color=THEN_COLOUR, label="then")
    ax.barh(y - 0.2, [x.now_share * 100 for x in shown], height=0.4,
            color=[MOVED_COLOUR if x.moved else NOW_COLOUR for x in shown], label="now (red: moved)")
    if training is not None:
        train = {x.name: x.then_share for x in training.labels}
        ax.scatter([train.get(x.name, 0) * 100 for x in shown], y, marker="|", s=120, color=TRAIN_COLOUR,
                   label="training data", zorder=3)
    ax.set_yticks(y, [("* " if x.moved else "") + x.name for x in shown], fontsize=8)
    ax.set_xlabel("share of articles (%)")
    ax.set_title(f"Label shares: {len(c.moved)} moved, PSI {c.psi:.2f}", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")


def _scores(ax, c: Comparison) -> None:
    bins = np.linspace(0, 1, 21)
    ax.hist(list(c.then.top_scores), bins=bins, density=True, histtype="stepfilled", alpha=0.5,
            color=THEN_COLOUR, label=f"then (n={len(c.then.top_scores)})")
    ax.hist(list(c.now.top_scores), bins=bins, density=True, histtype="step", linewidth=2,
            color=NOW_COLOUR, label=f"now (n={len(c.now.top_scores)})")
    shift = c.top_score
    title = "Top score of articles with a topic"
    if shift is not None:
        title += f"\nKS D {shift.ks_statistic:.2f}" + (" (moved)" if shift.moved else "")
    if c.no_topic is not None:
        title += f"; no topic {c.no_topic.then_share * 100:.1f}% -> {c.no_topic.now_share * 100:.1f}%"
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("top score")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)


def write_chart(report: DriftReport, path: Path) -> Path:
    """Draw the report's chart into ``path`` (a PNG) and return it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    main = report.periods or report.training
    assert main is not None
    scores = main.then.has_scores and main.now.has_scores
    rows = min(len(main.labels), MAX_LABELS)
    fig, axes = plt.subplots(1, 2 if scores else 1, figsize=(12 if scores else 7, max(4.0, 0.28 * rows + 1.5)),
                             squeeze=False, gridspec_kw={"width_ratios": [3, 2]} if scores else None)
    _shares(axes[0][0], main, report.training if report.periods else None)
    if scores:
        _scores(axes[0][1], main)
    fig.suptitle(f"{Path(main.then.source).name} -> {Path(main.now.source).name}", fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
