"""Recommender flow: read marts → evaluate on a temporal holdout → fit, register, gate →
homepages by the champion → publish `ml.recommendations` → markdown artifact.

Orchestration only: each task calls one step that lives elsewhere and is what the CLI and the
tests call too: `warehouse.recommend` (read the marts, publish), `ml.recommend.gates` (evaluate,
train and promote, the champion's homepages), `flows.artifacts.recommend` (the markdown).
Reading and publishing take the warehouse lock inside the step (DuckDB has one writer per
file); fitting and homepage building hold no lock. The platform flow calls
`recommend_flow(RecommendParams())` as a child flow after transform.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from pydantic import BaseModel, Field

from flows.artifacts.recommend import metrics_markdown
from flows.retry import IO_RETRY
from ml.recommend.gates import (
    GATE_METRIC,
    RECOMMENDER,
    champion_homepages,
    evaluate_recommender,
    train_recommender,
)
from ml.registry import ModelRegistry, ModelVersion, PromotionDecision
from warehouse.recommend import Marts, publish_recommendations, read_marts
from warehouse.settings import Settings, get_settings


class RecommendParams(BaseModel):
    """Parameters of the recommender flow (a form in the Prefect UI)."""

    model: Literal["ease", "item_knn", "blend", "popularity"] = Field(
        default="ease", description="The Top Picks ranker."
    )
    k: int = Field(default=10, ge=1, le=50, description="Titles per homepage row.")
    holdout_days: int = Field(
        default=28, ge=1, description="Temporal holdout: the last N days are the test period."
    )
    cut: dt.date | None = Field(
        default=None,
        description="Temporal holdout start (train before, test from); empty = last event "
        "minus holdout_days.",
    )
    max_anchors: int = Field(
        default=2, ge=0, le=5, description="'Because You Watched' rows per user."
    )
    gate_tolerance: float = Field(
        default=0.005, ge=0, description="A candidate may trail the champion's nDCG@10 by this."
    )
    random_state: int = Field(default=42, description="Seed of the random baseline.")


@task(cache_policy=NO_CACHE, **IO_RETRY)
def read_marts_task(settings: Settings) -> Marts:
    """Read user_title_interactions, title_features, user_features, title_catalog (locked)."""
    return read_marts(settings)


@task(cache_policy=NO_CACHE)
def evaluate_task(marts: Marts, params: RecommendParams) -> dict[str, Any]:
    """Model vs popularity vs random on the temporal holdout."""
    return evaluate_recommender(marts, params)


@task(cache_policy=NO_CACHE)
def train_task(
    settings: Settings,
    marts: Marts,
    params: RecommendParams,
    evaluation: dict[str, Any],
    run_id: str | None,
) -> tuple[ModelVersion, PromotionDecision]:
    """Fit on everything, save to the registry, promote through the gate."""
    registry = ModelRegistry(settings.artifacts_path)
    return train_recommender(registry, marts, params, evaluation, run_id=run_id)


@task(cache_policy=NO_CACHE)
def homepage_task(
    settings: Settings, marts: Marts, params: RecommendParams
) -> tuple[pd.DataFrame, str]:
    """Build every homepage with the champion."""
    return champion_homepages(ModelRegistry(settings.artifacts_path), marts, params)


@task(cache_policy=NO_CACHE, **IO_RETRY)
def publish_task(
    settings: Settings, frame: pd.DataFrame, run_id: str | None, manifest: str | None
) -> int:
    """Write ml.recommendations."""
    return publish_recommendations(settings, frame, run_id, manifest)


@flow(name="recommend", log_prints=True)
def recommend_flow(params: RecommendParams | None = None) -> dict[str, Any]:
    """Train, evaluate and publish the homepage recommendations."""
    params = params or RecommendParams()
    settings = get_settings()
    logger = get_run_logger()
    run_id = str(flow_run.id) if flow_run.id else None
    marts = read_marts_task(settings)
    evaluation = evaluate_task(marts, params)
    meta, decision = train_task(settings, marts, params, evaluation, run_id)
    logger.info(
        "%s nDCG@10 %.4f (popularity %.4f): %s",
        meta.ref,
        meta.metrics[GATE_METRIC],
        meta.metrics["popularity_ndcg_at_10"],
        decision.reason,
    )
    frame, champion = homepage_task(settings, marts, params)
    rows = publish_task(settings, frame, run_id, marts.manifest_sha256)
    create_markdown_artifact(
        key="tastemaker-recommender",
        markdown=metrics_markdown(evaluation, params.model, decision),
        description="recommender holdout metrics",
    )
    return {
        "candidate": meta.ref,
        "champion": champion,
        "promoted": decision.promoted,
        "decision": decision.to_dict(),
        "metrics": meta.metrics,
        "evaluation": evaluation,
        "rows_published": rows,
        "users": int(frame["user_id"].nunique()) if len(frame) else 0,
        "artifacts": str(
            ModelRegistry(settings.artifacts_path).version_dir(RECOMMENDER, meta.version)
        ),
    }
