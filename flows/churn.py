"""Churn flow: read `churn_training_set` (and `churn_scoring_set`) → time-validated, calibrated
classifier → save, holdout ROC-AUC gate → score the current users with the champion → publish
`ml.churn_scores` (this snapshot replaced, earlier ones kept) → re-engagement plan for the
at-risk users (`ml.audience.policy`), published as `ml.reengagement_actions`, with its offline
evaluation on the nudge log → markdown artifact `tastemaker-churn`. A service too young for
time-based validation (`NotEnoughHistory`) is logged and skipped (`{"skipped": reason}`).

Orchestration only: each task calls one step from `warehouse.audience` (reads, publishes),
`ml.audience` (fit, gate, score) or `flows.artifacts.audience` (markdown); the re-engagement
stage's tasks are in `flows.reengagement`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows.artifacts.audience import churn_markdown, churn_skipped_markdown
from flows.params import ChurnParams
from flows.reengagement import reengagement_stage
from flows.retry import IO_RETRY
from ml.audience.churn import ChurnRun, NotEnoughHistory
from ml.audience.gates import (
    CHURN,
    churn_summary,
    fit_churn,
    save_churn,
    score_with_champion,
)
from ml.audience.tables import ChurnInputs
from ml.registry import ModelRegistry, ModelVersion, PromotionDecision
from warehouse.audience import load_churn_inputs, publish_churn_scores
from warehouse.dbtrun import dbt_target_dir, manifest_sha256
from warehouse.publish import PublishLineage
from warehouse.settings import Settings, get_settings


@task(cache_policy=NO_CACHE, **IO_RETRY)
def load_churn_inputs_task(settings: Settings) -> ChurnInputs:
    """Read churn_training_set and the rows to score."""
    return load_churn_inputs(settings)


@task(cache_policy=NO_CACHE)
def fit_churn_task(rows: pd.DataFrame, params: ChurnParams) -> ChurnRun | NotEnoughHistory:
    """Train on earlier snapshots, validate on later ones, calibrate, explain, refit on all.

    Too little history is returned, not raised: the task did its job (it found out), and a
    young service should not show a failed task and a traceback every night.
    """
    try:
        return fit_churn(rows, params)
    except NotEnoughHistory as exc:
        return exc


@task(cache_policy=NO_CACHE)
def register_churn_task(
    settings: Settings,
    run: ChurnRun,
    rows: pd.DataFrame,
    params: ChurnParams,
    run_id: str | None,
    manifest: str | None,
) -> tuple[ModelVersion, PromotionDecision]:
    """Save the candidate and apply the holdout ROC-AUC gate."""
    registry = ModelRegistry(settings.artifacts_path)
    return save_churn(registry, run, rows, params, run_id=run_id, manifest=manifest)


@task(cache_policy=NO_CACHE)
def score_churn_task(
    settings: Settings, rows: pd.DataFrame, params: ChurnParams
) -> tuple[pd.DataFrame, str]:
    """Churn probability and top reasons for every user to score, by the champion."""
    return score_with_champion(ModelRegistry(settings.artifacts_path), rows, params.top_reasons)


@task(cache_policy=NO_CACHE, **IO_RETRY)
def publish_churn_task(settings: Settings, scores: pd.DataFrame, lineage: PublishLineage) -> int:
    """Publish this snapshot's ml.churn_scores (earlier snapshots kept)."""
    return publish_churn_scores(settings, scores, lineage)


@flow(name="churn", log_prints=True)
def churn_flow(params: ChurnParams | None = None) -> dict[str, Any]:
    """Fit and gate the churn model; score the current users with the champion and publish."""
    params = params or ChurnParams()
    settings, logger = get_settings(), get_run_logger()
    run_id = str(flow_run.get_id() or "") or None
    manifest = manifest_sha256(dbt_target_dir(settings))  # the dbt build read: lineage
    inputs = load_churn_inputs_task(settings)
    for note in inputs.notes:
        logger.warning(note)
    run = fit_churn_task(inputs.training, params)
    if isinstance(run, NotEnoughHistory):
        # a young service, not bad data: the run goes on, and churn waits for more snapshots
        reason = f"churn skipped, not enough history yet: {run}"
        logger.warning(reason)
        markdown = churn_skipped_markdown(reason)
        create_markdown_artifact(
            key="tastemaker-churn", markdown=markdown, description="churn risk (skipped)"
        )
        return {"skipped": reason}
    meta, decision = register_churn_task(settings, run, inputs.training, params, run_id, manifest)
    logger.info("promotion of %s: %s", meta.ref, decision.reason)
    result = churn_summary(meta, decision, run, inputs) | {"run_id": run_id}
    if ModelRegistry(settings.artifacts_path).champion_version(CHURN) is None:
        logger.warning("no churn champion: no scores published")
        return result | {"model_version": None, "scored": 0, "snapshot_date": None}
    scores, ref = score_churn_task(settings, inputs.scoring, params)
    lineage = PublishLineage(run_id, ref, manifest)
    result |= {
        "model_version": ref,
        "scored": publish_churn_task(settings, scores, lineage),
        "snapshot_date": str(scores["snapshot_date"].iloc[0]),
        "mean_probability": float(scores["churn_probability"].mean()),
    }
    markdown = churn_markdown(result, run)
    if params.reengagement:
        summary, more = reengagement_stage(settings, scores, lineage, params.evaluate_policy)
        result["reengagement"] = summary
        markdown += "\n\n" + more
    create_markdown_artifact(key="tastemaker-churn", markdown=markdown, description="churn risk")
    return result
