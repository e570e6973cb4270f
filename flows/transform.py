"""Transform flow: `dbt build` on the warehouse as one task, its nodes as a table artifact.

dbt runs at its own speed (one task, not one per node: see warehouse.dbtrun.run_dbt); the UI
still shows which models and tests ran, failed or were skipped (the `tastemaker-dbt-nodes`
table artifact), and each failed node becomes a failed task named after it.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows import progress
from flows.artifacts.platform import dbt_build_markdown
from flows.params import TransformParams
from warehouse.buildstate import build_fingerprint, record_build, unchanged_since_last_build
from warehouse.db import Warehouse
from warehouse.dbtrun import DbtSummary, run_dbt
from warehouse.settings import Settings, get_settings


class DbtBuildError(RuntimeError):
    """dbt ran, and some models or tests failed; the summary says which."""

    def __init__(self, summary: DbtSummary):
        self.summary = summary
        names = ", ".join(n.unique_id for n in summary.failures[:5])
        more = "" if len(summary.failures) <= 5 else f" and {len(summary.failures) - 5} more"
        super().__init__(f"dbt build had {summary.failed} failure(s): {names}{more}")


@task(name="dbt build", cache_policy=NO_CACHE)
def build_warehouse(settings: Settings, params: TransformParams) -> DbtSummary | dict:
    """Run dbt under the warehouse lock.

    The drift window length comes from settings, so the nightly build makes the windows the
    monitor flow compares (it would otherwise rebuild them on a scratch copy every run).

    A successful full build records its inputs' fingerprint (`warehouse.buildstate`); with
    `params.skip_unchanged`, a full build whose inputs match that record is skipped and the
    record (manifest hash, built_at) is returned instead of a summary.
    """
    dbt_vars = {**settings.dbt_vars(), **params.dbt_vars()}
    full = params.select is None
    with Warehouse(settings).locked():
        if full and params.skip_unchanged:
            before = unchanged_since_last_build(settings, dbt_vars)
            if before is not None:
                return before
        fingerprint = build_fingerprint(settings, dbt_vars) if full else None
        summary = run_dbt(
            settings,
            "build",
            select=params.select,
            dbt_vars=dbt_vars,
            full_refresh=params.full_refresh,
            on_node=progress.dbt_node_progress("transform"),
        )
        if fingerprint and summary.success and not summary.failed:
            record_build(settings, fingerprint, summary.manifest_sha256)
        return summary


@task(cache_policy=NO_CACHE)
def publish_dbt_summary(summary: DbtSummary) -> None:
    """Show the build's counts and failures, and every node's result, as Prefect artifacts."""
    create_markdown_artifact(
        key="tastemaker-dbt-build", markdown=dbt_build_markdown(summary), description="dbt build"
    )
    create_table_artifact(
        key="tastemaker-dbt-nodes",
        table=[
            {
                "node": n.unique_id,
                "type": n.resource_type,
                "status": n.status,
                "seconds": n.execution_time_s,
                "message": n.message or "",
            }
            for n in summary.nodes
        ],
        description=f"dbt {summary.command.split()[0]}: every node's result",
    )


@task(cache_policy=NO_CACHE)
def dbt_node_failed(unique_id: str, status: str, message: str | None) -> None:
    """A dbt node that failed, as a failed task of its own so the UI shows it in red."""
    raise RuntimeError(f"{unique_id} ({status}): {message}")


@flow(name="transform", log_prints=True)
def transform_flow(params: TransformParams | None = None) -> dict:
    """Build and test every dbt model; on failures, publish the summary, then fail the run."""
    params = params or TransformParams()
    settings = get_settings()
    logger = get_run_logger()
    summary = build_warehouse(settings, params)
    if isinstance(summary, dict):
        reason = (
            f"no new data, dbt file, var or version since the build at {summary.get('built_at')}"
            f" (manifest {str(summary.get('manifest_sha256'))[:12]}): dbt build skipped"
        )
        logger.info(reason)
        return {"build_skipped": reason, **summary}
    publish_dbt_summary(summary)
    for node in summary.failures:
        dbt_node_failed.with_options(task_run_name=f"dbt {node.unique_id}")(
            node.unique_id, node.status, node.message, return_state=True
        )
    logger.info(
        "dbt build: %d passed, %d failed, %d skipped",
        summary.passed,
        summary.failed,
        summary.skipped,
    )
    if summary.failed or not summary.success:
        raise DbtBuildError(summary)
    return summary.to_dict()
