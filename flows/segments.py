"""Segments flow: read `user_features` → fit `UserSegmenter`, k by silhouette → bootstrap
stability → align ids with the published model, save, stability gate → assign with the
champion → migration → publish `ml.segment_migrations`, `ml.user_segments`,
`ml.segment_profiles` → PNG plots → markdown artifact `tastemaker-segments`.

Orchestration only: each task calls one step from `warehouse.audience` (reads, publishes),
`ml.audience` (fit, stability, gates, tables) or `flows.artifacts.audience` (markdown).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows.artifacts.audience import segments_markdown
from flows.params import SegmentsParams
from flows.retry import IO_RETRY
from ml.audience.gates import (
    SEGMENTER,
    champion_segment_tables,
    fit_segmenter,
    plot_champion_segments,
    register_segmenter,
    segmenter_summary,
)
from ml.audience.segments import Stability, UserSegmenter, bootstrap_stability
from ml.audience.tables import SegmentInputs, SegmentTables, migration_summary, migration_table
from ml.registry import ModelRegistry, ModelVersion, PromotionDecision
from warehouse.audience import load_segment_inputs, publish_segments
from warehouse.dbtrun import dbt_target_dir, manifest_sha256
from warehouse.publish import PublishLineage
from warehouse.settings import Settings, get_settings


@task(cache_policy=NO_CACHE, **IO_RETRY)
def load_segment_inputs_task(settings: Settings) -> SegmentInputs:
    """Read user_features and the currently published segments."""
    return load_segment_inputs(settings)


@task(cache_policy=NO_CACHE)
def fit_segmenter_task(users: pd.DataFrame, params: SegmentsParams) -> UserSegmenter:
    """Fit K-Means for each k in the range; keep the best silhouette."""
    return fit_segmenter(users, params)


@task(cache_policy=NO_CACHE)
def stability_task(
    segmenter: UserSegmenter, users: pd.DataFrame, params: SegmentsParams
) -> Stability:
    """Mean ARI of refits on bootstrap resamples against the fitted labels."""
    n, seed = params.bootstrap_resamples, params.random_state
    return bootstrap_stability(segmenter, users, n_resamples=n, random_state=seed)


@task(cache_policy=NO_CACHE)
def register_segmenter_task(
    settings: Settings,
    segmenter: UserSegmenter,
    stability: Stability,
    inputs: SegmentInputs,
    params: SegmentsParams,
    run_id: str | None,
    manifest: str | None,
) -> tuple[ModelVersion, PromotionDecision]:
    """Align ids with the published model, save the candidate, apply the stability gate."""
    registry = ModelRegistry(settings.artifacts_path)
    return register_segmenter(
        registry, segmenter, stability, inputs, params, run_id=run_id, manifest=manifest
    )


@task(cache_policy=NO_CACHE)
def segment_tables_task(settings: Settings, inputs: SegmentInputs) -> tuple[SegmentTables, str]:
    """Assign every user with the champion segmenter; profile and name the segments."""
    return champion_segment_tables(ModelRegistry(settings.artifacts_path), inputs)


@task(cache_policy=NO_CACHE, **IO_RETRY)
def publish_segments_task(
    settings: Settings,
    tables: SegmentTables,
    migration: pd.DataFrame | None,
    lineage: PublishLineage,
) -> dict[str, int]:
    """Publish ml.segment_migrations, ml.user_segments and ml.segment_profiles."""
    return publish_segments(settings, tables, migration, lineage)


@task(cache_policy=NO_CACHE)
def plot_segments_task(
    settings: Settings, tables: SegmentTables, users: pd.DataFrame, version: str
) -> list[str]:
    """PCA scatter and profile heatmap PNGs under <artifacts>/segmenter/<version>/plots/."""
    return plot_champion_segments(ModelRegistry(settings.artifacts_path), tables, users, version)


@flow(name="segments", log_prints=True)
def segments_flow(params: SegmentsParams | None = None) -> dict[str, Any]:
    """Segment viewers, gate the new segmentation, publish segments, profiles and migration."""
    params = params or SegmentsParams()
    settings, logger = get_settings(), get_run_logger()
    run_id = str(flow_run.get_id() or "") or None
    manifest = manifest_sha256(dbt_target_dir(settings))  # the dbt build read: lineage
    inputs = load_segment_inputs_task(settings)
    seg = fit_segmenter_task(inputs.users, params)
    logger.info("k criterion (silhouette):\n%s", seg.k_scores_.to_string(index=False))
    stability = stability_task(seg, inputs.users, params)
    meta, decision = register_segmenter_task(
        settings, seg, stability, inputs, params, run_id, manifest
    )
    logger.info("promotion of %s: %s", meta.ref, decision.reason)
    result = segmenter_summary(meta, decision, seg, stability, inputs) | {"run_id": run_id}
    if ModelRegistry(settings.artifacts_path).champion_version(SEGMENTER) is None:
        logger.warning("no segmenter champion: nothing published")
        return result | {"model_version": None, "published": {}}
    tables, ref = segment_tables_task(settings, inputs)
    current = tables.assignments.assign(model_version=ref)
    migration = migration_table(inputs.previous, current, ref)
    lineage = PublishLineage(run_id, ref, manifest)
    published = publish_segments_task(settings, tables, migration, lineage)
    plots = plot_segments_task(settings, tables, inputs.users, meta.version) if params.plots else []
    profiles = tables.profiles
    result |= {
        "model_version": ref,
        "published": published,
        "migration": migration_summary(migration),
        "plots": plots,
        "segments": profiles[["segment_id", "segment_name", "size", "share"]].to_dict(
            orient="records"
        ),
    }
    create_markdown_artifact(
        key="tastemaker-segments",
        markdown=segments_markdown(result, profiles),
        description="viewer segments",
    )
    return result
