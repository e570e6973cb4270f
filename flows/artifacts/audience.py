"""Markdown for the audience flows' Prefect artifacts (`tastemaker-segments`, `tastemaker-churn`).

Pure text from the run's result dict and frames: no Prefect import, so it is tested without a
run (it lived in ml/audience/report.py before the artifacts package existed).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ml.audience.churn import ChurnRun
from ml.audience.ips import PolicyEvaluation, verdict_sentence


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def segments_markdown(result: dict[str, Any], profiles: pd.DataFrame) -> str:
    """Profiles table, k criterion, stability and the promotion decision."""
    lines = [
        "# Viewer segments",
        "",
        f"Model **{result['model_version']}** (trained this run: `{result['candidate']}`; "
        f"{'promoted' if result['promotion']['promoted'] else 'not promoted'}: "
        f"{_md_cell(result['promotion']['reason'])}).  ",
        f"k = {result['k']} by silhouette; bootstrap ARI {result['bootstrap_ari']:.3f} "
        f"± {result['bootstrap_ari_std']:.3f}; {result['segmented']:,} of {result['users']:,} "
        f"users segmented; snapshot {result['snapshot_date']}.",
        "",
        "| id | segment | users | share | what sets it apart |",
        "|---:|---|---:|---:|---|",
    ]
    for r in profiles.itertuples():
        lines.append(
            f"| {r.segment_id} | {_md_cell(r.segment_name)} | {r.size:,} | {r.share:.1%} | "
            f"{_md_cell(r.top_features) or '—'} |"
        )
    lines += ["", "## k criterion", "", "| k | silhouette | inertia |", "|---:|---:|---:|"]
    lines += [
        f"| {int(k['k'])} | {k['silhouette']:.4f} | {k['inertia']:.1f} |"
        for k in result["k_scores"]
    ]
    if result.get("migration"):
        moved = result["migration"]
        lines += [
            "",
            f"## Migration from {moved['from_model_version']}",
            "",
            f"{moved['stayed']:,} users kept their segment, {moved['moved']:,} moved, "
            f"{moved['arrived']:,} arrived, {moved['left']:,} left.",
        ]
    if result.get("plots"):
        lines += ["", "## Plots", ""] + [f"- `{p}`" for p in result["plots"]]
    return "\n".join(lines)


def churn_markdown(result: dict[str, Any], run: ChurnRun) -> str:
    """Metrics, calibration table, drivers, gate decision and what was scored."""
    m = run.metrics
    lines = [
        "# Churn risk",
        "",
        f"Scores by **{result['model_version']}** for snapshot {result['snapshot_date']} "
        f"({result['scored']:,} users, source {result['scoring_source']}).  ",
        f"Candidate `{result['candidate']}`: "
        f"{'promoted' if result['promotion']['promoted'] else 'not promoted'} — "
        f"{_md_cell(result['promotion']['reason'])}.",
        "",
        f"Time-based holdout: train {', '.join(run.train_dates)}; validate "
        f"{', '.join(run.valid_dates)} ({m.n:,} rows, churn rate {m.base_rate:.1%}).",
        "",
        "| ROC-AUC | PR-AUC | Brier | top-decile lift |",
        "|---:|---:|---:|---:|",
        f"| {m.roc_auc:.4f} | {m.pr_auc:.4f} | {m.brier:.4f} | {m.top_decile_lift:.2f} |",
        "",
        "## Calibration (quantile bins of the predicted probability)",
        "",
        "| bin | users | mean predicted | observed |",
        "|---:|---:|---:|---:|",
    ]
    for r in m.calibration.itertuples():
        lines.append(f"| {r.bin} | {r.n} | {r.mean_predicted:.3f} | {r.observed_rate:.3f} |")
    lines += [
        "",
        "## Top drivers (permutation importance, ROC-AUC drop)",
        "",
        "| feature | importance | direction |",
        "|---|---:|---|",
    ]
    for r in run.drivers.head(10).itertuples():
        lines.append(f"| `{r.feature}` | {r.importance:.4f} | {r.direction} |")
    for note in result.get("notes", []):
        lines += ["", f"> {_md_cell(note)}"]
    return "\n".join(lines)


def reengagement_markdown(
    plan: pd.DataFrame, evaluation: PolicyEvaluation | None, notes: list[str]
) -> str:
    """Actions chosen, and the offline evaluation table when there is a log."""
    counts = plan["action"].value_counts().to_dict() if len(plan) else {}
    lines = [
        "## Re-engagement",
        "",
        f"{len(plan):,} at-risk users: "
        + (", ".join(f"{a} {n:,}" for a, n in sorted(counts.items())) or "none"),
    ]
    if evaluation is not None:
        lines += ["", "Offline evaluation on the randomized nudge log (SNIPS, cross-fitted):", ""]
        table = evaluation.table
        cols = [c for c in table.columns if not c.endswith(("_low", "_high"))][:8]
        lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for r in table[cols].itertuples(index=False):
            lines.append(
                "| "
                + " | ".join(f"{v:.4g}" if isinstance(v, float) else _md_cell(v) for v in r)
                + " |"
            )
        lines.append(
            f"\nPoint estimates: beats nobody {evaluation.beats_nobody}; beats everyone "
            f"({evaluation.everyone_action}) {evaluation.beats_everyone}."
        )
        lines.append(f"\n**{_md_cell(verdict_sentence(evaluation)).capitalize()}.**")
    for note in notes:
        lines += ["", f"> {_md_cell(note)}"]
    return "\n".join(lines)


def churn_skipped_markdown(reason: str) -> str:
    """What the churn run did not do and why (a young service without enough history)."""
    return "\n".join(
        [
            "# Churn risk",
            "",
            "**Skipped**: no churn model was fitted and no scores or re-engagement actions were "
            "published.",
            "",
            f"> {_md_cell(reason)}",
        ]
    )
