"""Recommender flow: read marts → evaluate on a temporal holdout → fit → registry → homepages →
publish `ml.recommendations` → markdown artifact with the metrics table.

The plain functions (`read_marts`, `evaluate_step`, `train_step`, `homepage_step`,
`publish_step`) carry the logic and are what the CLI and tests call; `recommend_flow` only wires
them as tasks so the Prefect UI shows each step.

Locking: the flow reads the marts and publishes under `warehouse_lock` (DuckDB has one writer per
file, and a read during someone else's write fails); fitting and homepage building hold no lock.
The platform flow calls `recommend_flow(RecommendParams())` as a child flow after transform.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from flows.homepage import (  # noqa: F401  (re-exported: the reader lives in flows.homepage)
    MissingMarts,
    NoRecommendations,
    homepage_html,
    load_homepage,
)
from flows.retry import IO_RETRY
from ml.recommend.content import ContentModel
from ml.recommend.homepage import HomepageConfig, TopPicksModel, build_homepages
from ml.recommend.training import evaluate_temporal, fit_top_picks, make_ranker, temporal_holdout
from ml.registry import DataWindow, ModelRegistry, ModelVersion, PromotionDecision, PromotionGate
from warehouse.db import Warehouse
from warehouse.dbtrun import dbt_target_dir, manifest_sha256
from warehouse.publish import PublishLineage
from warehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)

MODEL_NAME = "recommender"
TABLE = "recommendations"
GATE_METRIC = "ndcg_at_10"
MARTS = ("user_title_interactions", "title_features", "user_features", "title_catalog")
#: title_catalog's column names → the names ml.recommend.content.ContentModel reads
#: (`cast` is a reserved word in SQL, so the mart says `cast_names`).
CATALOG_RENAMES = {"title_name": "title", "cast_names": "cast"}


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


@dataclass(frozen=True)
class Marts:
    """What the recommender reads, plus the lineage of the dbt build it came from."""

    interactions: pd.DataFrame
    title_features: pd.DataFrame
    user_features: pd.DataFrame
    #: title_catalog, renamed per CATALOG_RENAMES (`title`, `cast`) for the content model.
    catalog: pd.DataFrame
    manifest_sha256: str | None

    def row_counts(self) -> dict[str, int]:
        return {
            "user_title_interactions": len(self.interactions),
            "title_features": len(self.title_features),
            "user_features": len(self.user_features),
            "title_catalog": len(self.catalog),
        }


def read_marts(settings: Settings) -> Marts:
    """Read the four marts under the lock: interactions, title and user features, and
    `title_catalog` (the title text the content model fits on, as `catalog`, with the columns
    renamed per CATALOG_RENAMES). A missing mart says what to run: Python never rebuilds one."""
    if not settings.warehouse_path.is_file():
        raise MissingMarts(f"no warehouse at {settings.warehouse_path}: run `tastemaker run` first")
    frames: dict[str, pd.DataFrame | None] = {}
    with Warehouse(settings).session() as db:
        for mart in MARTS:
            frames[mart] = db.read(mart)
            if frames[mart] is None:
                raise MissingMarts(
                    f"mart {mart} is missing from {settings.warehouse_path}: run "
                    "`tastemaker run` (or `tastemaker transform`) first"
                )
    return Marts(
        interactions=frames["user_title_interactions"],
        title_features=frames["title_features"],
        user_features=frames["user_features"],
        catalog=frames["title_catalog"].rename(columns=CATALOG_RENAMES),
        manifest_sha256=manifest_sha256(dbt_target_dir(settings)),
    )


def evaluate_step(marts: Marts, params: RecommendParams) -> dict[str, Any]:
    """The chosen model vs popularity and random on the temporal holdout."""
    return evaluate_temporal(
        marts.interactions,
        marts.title_features,
        holdout_days=params.holdout_days,
        k=10,
        models=[params.model, "popularity", "random"],
        cut=params.cut,
        random_state=params.random_state,
    )


def _ease_params(evaluation: dict[str, Any], model: str) -> tuple[float, float] | None:
    row = evaluation["models"].get("ease" if model in ("ease", "blend") else model, {})
    if "l2" in row:
        return float(row["l2"]), float(row["diag_dropout"])
    return None


def _metrics(evaluation: dict[str, Any], model: str) -> dict[str, float]:
    rows = evaluation["models"]
    keep = ("ndcg_at_k", "map_at_k", "precision_at_k", "recall_at_k", "coverage", "novelty")
    out = {GATE_METRIC: float(rows[model]["ndcg_at_k"])}
    out.update({k: float(rows[model][k]) for k in keep if k in rows[model]})
    for base in ("popularity", "random"):
        out[f"{base}_ndcg_at_10"] = float(rows[base]["ndcg_at_k"])
    return out


def _rescore_champion(
    champion: TopPicksModel, marts: Marts, params: RecommendParams, evaluation: dict[str, Any]
) -> float:
    """The champion's configuration refit on the candidate's training split and scored on its
    holdout: scores from different holdouts are not comparable (the registry's gate)."""
    from sklearn.base import clone

    from ml.recommend.evaluate import evaluate_ranking

    split, _, _ = temporal_holdout(
        marts.interactions, params.holdout_days, evaluation["protocol"]["temporal"]["cut"]
    )
    try:
        ranker = clone(champion.ranker)
    except (TypeError, RuntimeError):
        ranker = make_ranker(champion.name, split.train, params.random_state)
    return float(evaluate_ranking(split, {"champion": ranker}, 10)["champion"]["ndcg_at_k"])


def train_step(
    settings: Settings,
    marts: Marts,
    params: RecommendParams,
    evaluation: dict[str, Any],
    run_id: str | None,
) -> tuple[ModelVersion, PromotionDecision]:
    """Fit on all interactions, save a version with its metrics and lineage, promote via the gate.

    EASE's λ tuned on the evaluation's training split is reused for the final fit, so the saved
    model is the configuration the holdout measured.
    """
    model = fit_top_picks(
        marts.interactions,
        params.model,
        params.random_state,
        ease_params=_ease_params(evaluation, params.model),
    )
    temporal = evaluation["protocol"]["temporal"]
    registry = ModelRegistry(settings.artifacts_path)
    meta = registry.save(
        model,
        MODEL_NAME,
        metrics=_metrics(evaluation, params.model),
        holdout_id=temporal["holdout_id"],
        data_window=DataWindow(
            start=temporal["data_window"]["start"],
            end=temporal["data_window"]["end"],
            snapshot_date=_snapshot(marts),
        ),
        row_counts={
            **marts.row_counts(),
            "train_pairs": temporal["train_pairs"],
            "test_pairs": temporal["test_pairs"],
        },
        manifest_sha256=marts.manifest_sha256,
        parameters={"model": params.model, **model.params, "holdout_cut": temporal["cut"]},
        run_id=run_id,
    )
    champion_score = None
    current = registry.champion_version(MODEL_NAME)
    if current is not None and current != meta.version:
        champ_meta = registry.metadata(MODEL_NAME, current)
        if champ_meta.holdout_id != meta.holdout_id:
            champion, _ = registry.load(MODEL_NAME, current)
            champion_score = _rescore_champion(champion, marts, params, evaluation)
    decision = registry.promote(
        MODEL_NAME,
        meta.version,
        PromotionGate(GATE_METRIC, higher_is_better=True, tolerance=params.gate_tolerance),
        champion_score=champion_score,
    )
    return meta, decision


def _snapshot(marts: Marts) -> str | None:
    col = marts.title_features.get("snapshot_date")
    if col is None or col.dropna().empty:
        return None
    return pd.Timestamp(col.max()).date().isoformat()


def homepage_step(
    settings: Settings, marts: Marts, params: RecommendParams
) -> tuple[pd.DataFrame, str]:
    """Every user's homepage (and the anonymous one) from the registry's champion."""
    champion, meta = ModelRegistry(settings.artifacts_path).load(MODEL_NAME)
    content = ContentModel().fit(marts.catalog) if len(marts.catalog) else None
    frame = build_homepages(
        marts.interactions,
        marts.title_features,
        marts.user_features,
        champion,
        content,
        HomepageConfig(k=params.k, max_anchors=params.max_anchors),
    )
    frame = frame.assign(model_version=meta.ref)
    return frame, meta.ref


def publish_step(
    settings: Settings, frame: pd.DataFrame, run_id: str | None, manifest: str | None
) -> int:
    """Replace `ml.recommendations` atomically."""
    lineage = PublishLineage(
        run_id, str(frame["model_version"].iloc[0]) if len(frame) else None, manifest
    )
    with Warehouse(settings).session() as db:
        return db.publish(TABLE, frame, lineage)


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


# --- Prefect wiring -------------------------------------------------------------------------


@task(cache_policy=NO_CACHE, **IO_RETRY)
def read_marts_task(settings: Settings) -> Marts:
    """Read user_title_interactions, title_features, user_features, title_catalog (locked)."""
    return read_marts(settings)


@task(cache_policy=NO_CACHE)
def evaluate_task(marts: Marts, params: RecommendParams) -> dict[str, Any]:
    """Model vs popularity vs random on the temporal holdout."""
    return evaluate_step(marts, params)


@task(cache_policy=NO_CACHE)
def train_task(
    settings: Settings,
    marts: Marts,
    params: RecommendParams,
    evaluation: dict[str, Any],
    run_id: str | None,
) -> tuple[ModelVersion, PromotionDecision]:
    """Fit on everything, save to the registry, promote through the gate."""
    return train_step(settings, marts, params, evaluation, run_id)


@task(cache_policy=NO_CACHE)
def homepage_task(
    settings: Settings, marts: Marts, params: RecommendParams
) -> tuple[pd.DataFrame, str]:
    """Build every homepage with the champion."""
    return homepage_step(settings, marts, params)


@task(cache_policy=NO_CACHE, **IO_RETRY)
def publish_task(
    settings: Settings, frame: pd.DataFrame, run_id: str | None, manifest: str | None
) -> int:
    """Write ml.recommendations."""
    return publish_step(settings, frame, run_id, manifest)


@flow(name="recommend", log_prints=True)
def recommend_flow(params: RecommendParams | None = None) -> dict[str, Any]:
    """Train, evaluate and publish the homepage recommendations."""
    from prefect.runtime import flow_run

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
            ModelRegistry(settings.artifacts_path).version_dir(MODEL_NAME, meta.version)
        ),
    }
