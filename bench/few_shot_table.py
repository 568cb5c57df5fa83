"""bench.few_shot's results as the markdown table docs/benchmarks.md shows."""

from __future__ import annotations

from statistics import mean


def _cell(values: list[float]) -> str:
    if not values:
        return "n/a"
    text = f"{mean(values):.3f}"
    return text + (f" ({min(values):.3f}-{max(values):.3f})" if len(values) > 1 else "")


def markdown_table(results: list[dict], shots: list[int], variant: str | None = None) -> str:
    """One row per set: macro-F1 at each k (mean over seeds, range if several), and zero-shot;
    ``variant``: the figures kept under that key of each k (bench.few_shot --contrastive)."""
    head = "| set | labels | eval rows | " + " | ".join(f"k={k}" for k in shots) + " | zero-shot | k that beats it |"
    lines = [head, "|" + "---|" * (len(shots) + 5)]
    for result in results:
        runs = result["runs"]
        per_k = {k: [(r["shots"][str(k)][variant] if variant else r["shots"][str(k)])["macro_f1"] for r in runs
                     if str(k) in r["shots"]] for k in shots}
        zero = [r["zero_shot"]["macro_f1"] for r in runs]
        beats = next((k for k in shots if per_k[k] and mean(per_k[k]) > mean(zero)), None)
        lines.append(f"| {result['set']} | {result['labels']} | {runs[0]['eval_rows']} | "
                     + " | ".join(_cell(per_k[k]) for k in shots)
                     + f" | {_cell(zero)} | {beats if beats is not None else 'none up to ' + str(max(shots))} |")
    return "\n".join(lines)
