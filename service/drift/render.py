"""A drift report as plain text for people, or JSON for programs."""

from __future__ import annotations

import json

from .comparison import Comparison, DriftReport, ShareChange, articles
from .statistics import psi_reading

MAX_LANGUAGES = 8


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def _points(change: float) -> str:
    return f"{change * 100:+.1f}"


def _p(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _row(change: ShareChange, width: int) -> str:
    flag = "  MOVED" if change.moved else ""
    return (f"{change.name[:width]:<{width}} {_pct(change.then_share):>7} {_pct(change.now_share):>7} "
            f"{_points(change.change):>7} {_p(change.p_adjusted):>9}{flag}")


def _verdict(c: Comparison) -> str:
    if not c.drift:
        return "No drift: no label, no-topic share, score distribution or language moved"
    parts = [f"{len(c.moved)} label{'s' if len(c.moved) != 1 else ''} moved"] if c.moved else []
    if c.no_topic and c.no_topic.moved:
        parts.append("the no-topic share moved")
    if c.top_score and c.top_score.moved:
        parts.append("top scores moved")
    if any(x.moved for x in c.languages):
        parts.append("languages moved")
    return "DRIFT: " + "; ".join(parts)


def _comparison(c: Comparison, then_name: str, now_name: str) -> list[str]:
    rule = c.rule
    lines = [f"{then_name:<5} {c.then.source}: {articles(c.then.articles)} ({c.then.kind})",
             f"{now_name:<5} {c.now.source}: {articles(c.now.articles)} ({c.now.kind})", ""]
    verdict = _verdict(c)
    lines.append(f"{verdict} (moved: Holm-adjusted p < {rule.alpha:g} and at least "
                 f"{rule.min_change * 100:.1f} share points)")
    if c.moved:
        lines.append("Moved: " + ", ".join(f"{x.name} {_points(x.change)}" for x in c.moved))
    noise = "within" if c.psi_within_noise else "beyond"
    lines.append(f"Label mix: PSI {c.psi:.3f}, {psi_reading(c.psi)}; {noise} what sampling alone gives "
                 f"(about {c.psi_noise:.3f} on these sizes); Jensen-Shannon divergence {c.js_divergence:.3f} bits")
    if c.no_topic:
        lines.append(f"No topic: {_pct(c.no_topic.then_share)} -> {_pct(c.no_topic.now_share)} "
                     f"({_points(c.no_topic.change)} points, p {_p(c.no_topic.p_adjusted)})"
                     + ("  MOVED" if c.no_topic.moved else ""))
    if c.top_score:
        s = c.top_score
        lines.append("Top score (articles with a topic): " + ", ".join(
            f"{k} {s.then[k]:.2f} -> {s.now[k]:.2f}" for k in ("p10", "p50", "p90"))
            + f"; KS D {s.ks_statistic:.3f} (p {_p(s.p_adjusted)})" + ("  MOVED" if s.moved else ""))
    width = max([len("label"), *(len(x.name) for x in c.labels)])
    width = min(width, 40)
    lines += ["", f"{'label':<{width}} {then_name.lower():>7} {now_name.lower():>7} {'change':>7} {'p (Holm)':>9}"]
    lines += [_row(x, width) for x in c.labels]
    if c.languages:
        shown = c.languages[:MAX_LANGUAGES]
        lines += ["", "Languages: " + "; ".join(
            f"{x.name} {_pct(x.then_share)} -> {_pct(x.now_share)}{' MOVED' if x.moved else ''}" for x in shown)
            + (f"; {len(c.languages) - len(shown)} more" if len(c.languages) > len(shown) else "")]
    if c.notes:
        lines += ["", "Notes:", *(f"- {note}" for note in c.notes)]
    return lines


def as_text(report: DriftReport) -> str:
    lines: list[str] = []
    if report.periods:
        lines += ["Drift between two periods", ""] + _comparison(report.periods, "THEN", "NOW")
    if report.training:
        if lines:
            lines += ["", ""]
        lines += [f"Against the training data of model {report.model}", ""]
        lines += _comparison(report.training, "TRAIN", "NOW")
    return "\n".join(lines) + "\n"


def as_json(report: DriftReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
