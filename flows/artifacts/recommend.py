"""Markdown for the recommender flow's Prefect artifact (`tastemaker-recommender`).

Pure text from the evaluation dict and the promotion decision: no Prefect import, so it is
tested without a run.
"""

from __future__ import annotations

from typing import Any

from ml.registry import PromotionDecision


def metrics_markdown(
    evaluation: dict[str, Any], model: str, decision: PromotionDecision | None
) -> str:
    """The holdout table (model vs popularity vs random) for a Prefect artifact."""
    temporal = evaluation["protocol"]["temporal"]
    lines = [
        "# Recommender: temporal holdout",
        "",
        f"train before **{temporal['cut'][:10]}**, test after; {temporal['train_pairs']:,} "
        f"training pairs, {temporal['test_pairs']:,} test pairs, {temporal['users']:,} users, "
        f"{temporal['titles']:,} titles; k = {temporal['k']}.",
        "",
        "| model | nDCG@10 | MAP@10 | precision@10 | recall@10 | coverage | fit s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    order = [model] + [m for m in evaluation["models"] if m != model]
    for name in order:
        row = evaluation["models"][name]
        label = f"**{name}** (Top Picks)" if name == model else name
        lines.append(
            f"| {label} | {row['ndcg_at_k']:.4f} | {row['map_at_k']:.4f} | "
            f"{row['precision_at_k']:.4f} | {row['recall_at_k']:.4f} | "
            f"{row.get('coverage', float('nan')):.3f} | {row['fit_seconds']:.2f} |"
        )
    if decision is not None:
        lines += [
            "",
            f"Promotion: **{'promoted' if decision.promoted else 'kept the champion'}** — "
            f"{decision.reason}",
        ]
    return "\n".join(lines)
