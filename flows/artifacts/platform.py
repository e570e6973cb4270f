"""Markdown of the platform and dbt build artifacts (pure functions of the runs' results)."""

from __future__ import annotations

from typing import Any

from warehouse.dbtrun import DbtSummary


def platform_markdown(result: dict[str, Any]) -> str:
    """The platform run's artifact: ingest, dbt, mart row counts and each stage's outcome."""
    rows = "\n".join(f"| {name} | {count:,} |" for name, count in result["marts"].items())
    ingest = result["ingest"]
    loaded = sum(t["loaded"] for t in ingest["tables"].values())
    quarantined = sum(t["quarantined"] for t in ingest["tables"].values())
    dbt = result["dbt"]
    stages = "".join(
        f"| {name} | {info['status']} | {info.get('seconds', '')} | {info.get('error') or ''} |\n"
        for name, info in result.get("stages", {}).items()
    )
    stage_table = (
        f"\n| stage | status | s | error |\n|---|---|---:|---|\n{stages}" if stages else ""
    )
    return (
        f"# Tastemaker platform run\n\nhome: `{result['home']}`  \n"
        f"ingest: {loaded:,} rows loaded, {quarantined:,} quarantined, "
        f"{len(ingest['rejected'])} files rejected  \n"
        f"dbt: {dbt['passed']} passed, {dbt['failed']} failed, {dbt['skipped']} skipped  \n"
        f"duration: {result['duration_s']} s\n\n| mart | rows |\n|---|---:|\n{rows}\n"
        f"{stage_table}"
    )


def dbt_build_markdown(summary: DbtSummary) -> str:
    lines = [
        "# dbt build",
        "",
        "| passed | failed | warned | skipped | seconds |",
        "|---:|---:|---:|---:|---:|",
        f"| {summary.passed} | {summary.failed} | {summary.warned} | {summary.skipped} "
        f"| {summary.elapsed_s} |",
        "",
        f"manifest sha256: `{summary.manifest_sha256}`",
    ]
    if summary.failures:
        lines += ["", "## Failures", ""]
        lines += [f"- `{n.unique_id}` ({n.status}): {n.message}" for n in summary.failures]
    return "\n".join(lines)
