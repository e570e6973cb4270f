"""Markdown for the monitor's Prefect artifacts: pure functions returning strings.

Keys are stable (dashboards and tests find artifacts by them): one pair per drift check,
`tastemaker-drift-<dataset>` (the summary) and `…-report` (a link to the served report), and
`tastemaker-recsys-quality` with its `-report` link for recommendation quality.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitoring.drift import DriftSummary, alert_text, reference_text
from monitoring.lineage import report_links_markdown, report_url
from monitoring.recsys import RecsysSummary

RECSYS_KEY = "tastemaker-recsys-quality"


@dataclass(frozen=True)
class ReportArtifacts:
    """A check's markdown artifact and, when the report is served, its link artifact."""

    key: str
    markdown: str
    description: str
    link: str | None
    link_text: str

    @property
    def link_key(self) -> str:
        return f"{self.key}-report"


def drift_key(summary: DriftSummary) -> str:
    """`tastemaker-drift-user-features`, `tastemaker-drift-churn-scores`."""
    return f"tastemaker-drift-{summary.dataset.replace('_', '-')}"


def report_artifacts(
    summary: DriftSummary | RecsysSummary,
    reports_base_url: str | None,
    *,
    impact: str | None = None,
    history: str | None = None,
) -> ReportArtifacts:
    """What to publish for one check. No link without a base URL: the markdown names the
    report's path instead, since a file:// link would be refused by the browser showing the
    Prefect UI."""
    if isinstance(summary, RecsysSummary):
        key, description = RECSYS_KEY, "recommendation quality"
        markdown = recsys_markdown(summary, reports_base_url)
    else:
        key, description = drift_key(summary), "drift"
        markdown = summary_markdown(summary, reports_base_url, impact=impact, history=history)
    return ReportArtifacts(
        key=key,
        markdown=markdown,
        description=description,
        link=report_url(reports_base_url, summary.html_path),
        link_text=f"Evidently report {summary.report_id}",
    )


def summary_markdown(
    summary: DriftSummary,
    reports_base_url: str | None = None,
    *,
    impact: str | None = None,
    history: str | None = None,
) -> str:
    """The drift summary as a Prefect markdown artifact (values are ours or column names);
    `impact` is whether it matters (the churn model's estimated ROC-AUC change), `history`
    the back-fill's line (drift over time)."""
    lines = [
        f"# Drift: {summary.dataset}",
        "",
        f"**{summary.status}** — {alert_text(summary)}. {summary.drifted_count} of "
        f"{summary.column_count} columns drifted (share {summary.share:.2f}, threshold "
        f"{summary.share_threshold:.2f}); current {summary.current_rows} rows.",
        "",
        f"Reference: {reference_text(summary)}.",
        "",
        *([f"**Does it matter?** {impact}.", ""] if impact else []),
        *([f"Drift over time: {history}.", ""] if history else []),
        "| column | test | statistic | threshold | drift | change | alert |",
        "|---|---|---:|---:|---|---:|---|",
    ]
    ranked = sorted(
        summary.columns,
        key=lambda c: (c.alert_rule is None, not c.drifted, -(c.statistic or 0.0)),
    )
    for c in ranked[:20]:
        stat = "—" if c.statistic is None else f"{c.statistic:.3f}"
        lines.append(
            f"| `{c.column}` | {c.test} | {stat} | {c.threshold:.3f} | "
            f"{'**yes**' if c.drifted else 'no'} | {c.effect_text()} | "
            f"{f'**{c.alert_rule}**' if c.alert_rule else ''} |"
        )
    lines += ["", "## Lineage", ""]
    lines += [f"- {k}: `{v}`" for k, v in summary.lineage.items()]
    lines += report_links_markdown(reports_base_url, summary.html_path, summary.json_path)
    return "\n".join(lines)


def recsys_markdown(summary: RecsysSummary, reports_base_url: str | None = None) -> str:
    """The quality summary as markdown (Prefect artifact); the report is linked when the
    reports folder is served at `reports_base_url`, else named by its path."""
    lines = [
        f"# Recommendation quality: {summary.dataset}",
        "",
        f"**{summary.status}** (k = {summary.k}, tolerance {summary.tolerance:.0%}); users with "
        f"feedback: reference {summary.reference_users}, current {summary.current_users}.",
        "",
        "| metric | reference | current | change | better | degraded |",
        "|---|---:|---:|---:|---|---|",
    ]
    for m in summary.metrics:
        ref = "—" if m.reference is None else f"{m.reference:.4f}"
        cur = "—" if m.current is None else f"{m.current:.4f}"
        rel = "—" if m.relative_change is None else f"{m.relative_change:+.1%}"
        better = "higher" if m.higher_is_better else "lower"
        lines.append(
            f"| {m.name}@{summary.k} | {ref} | {cur} | {rel} | {better} | "
            f"{'**yes**' if m.degraded else 'no'} |"
        )
    lines += ["", "## Lineage", ""]
    lines += [f"- {k}: `{v}`" for k, v in summary.lineage.items()]
    lines += report_links_markdown(reports_base_url, summary.html_path, summary.json_path)
    return "\n".join(lines)
