"""Audience flows: viewer segments and churn scores, fitted, gated, published.

`segments_flow` (read `user_features` → fit `UserSegmenter`, k by silhouette → bootstrap
stability → registry save + promotion gate → align segment ids with the model that wrote the
current `ml.user_segments` → segment migration → publish `ml.user_segments`,
`ml.segment_profiles`, `ml.segment_migrations` → PNG plots → markdown artifact).

`churn_flow` (read `churn_training_set` → time-validated, calibrated classifier → registry save +
promotion gate → score the current users with the champion → publish `ml.churn_scores` for that
snapshot, keeping earlier snapshots → re-engagement plan for the at-risk users with
`ml.audience.policy` (contact caps, opt-outs, quiet hours, discount budget), published as
`ml.reengagement_actions`, and its offline evaluation on the nudge log → markdown artifact).
On a service too young for time-based validation (`NotEnoughHistory`) it logs what is missing,
publishes nothing and returns `{"skipped": reason}`; other data errors fail the run.

`audience_flow` runs both, in that order; the platform flow calls it after transform.

This module is orchestration only: parameters, reading marts and publishing tables (warehouse
and lock), tasks, flows, artifacts. The logic lives in ml/ (no Prefect there, tested directly):
`ml.audience.tables` (input checks, segment tables, stable ids, migration),
`ml.audience.gates` (fit, save, promotion gates; why those metrics),
`ml.audience.reengagement` (plan rows, offline evaluation), `ml.audience.report` (markdown).
Segment plots go under `<artifacts>/segmenter/<version>/plots/` of the version this run trained
(they picture the published assignment, which is that version's when it was promoted).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from flows.artifacts.audience import (
    churn_markdown,
    churn_skipped_markdown,
    reengagement_markdown,
    segments_markdown,
)
from flows.retry import IO_RETRY
from ml.audience.churn import ChurnRun, NotEnoughHistory, score_churn
from ml.audience.gates import (
    CHURN,
    SEGMENTER,
    fit_churn,
    fit_segmenter,
    previous_segmenter,
    save_churn,
    save_segmenter,
)
from ml.audience.ips import PolicyEvaluation
from ml.audience.policy import PolicyConfig
from ml.audience.reengagement import (
    CONTACTS_MART,
    HOURS_MART,
    NUDGES_MART,
    ReengagementInputs,
    evaluate_plan,
    plan_actions,
    policy_segments,
)
from ml.audience.segments import (
    UNSEGMENTED,
    Stability,
    UserSegmenter,
    bootstrap_stability,
    plot_segments,
)
from ml.audience.tables import (
    FEATURES_MART,
    SCORING_MART,
    TRAINING_MART,
    AudienceDataError,
    ChurnInputs,
    SegmentInputs,
    SegmentTables,
    adopt_ids,
    check_user_features,
    churn_inputs,
    migration_summary,
    migration_table,
    segment_tables,
)
from ml.registry import ModelRegistry, ModelVersion, PromotionDecision
from warehouse.db import ML_SCHEMA, Session, Warehouse
from warehouse.dbtrun import dbt_target_dir, manifest_sha256
from warehouse.publish import PublishLineage
from warehouse.settings import Settings, get_settings

# --------------------------------------------------------------------------------------------
# Parameters (forms in the Prefect UI)
# --------------------------------------------------------------------------------------------


class SegmentsParams(BaseModel):
    """How viewers are segmented and when a new segmentation replaces the champion."""

    k_min: int = Field(default=3, ge=2, description="Smallest number of segments tried.")
    k_max: int = Field(default=12, ge=2, description="Largest number of segments tried.")
    min_views: int = Field(
        default=5, ge=1, description="Users with fewer plays are 'Too new to tell' (segment -1)."
    )
    n_init: int = Field(default=10, ge=1, description="K-Means restarts per k.")
    silhouette_sample: int = Field(
        default=3000, ge=50, description="Users the silhouette (k choice) is computed on."
    )
    bootstrap_resamples: int = Field(
        default=20, ge=2, description="Refits on bootstrap resamples for the stability score."
    )
    random_state: int = Field(default=0, description="Seed: same data and seed, same segments.")
    min_bootstrap_ari: float = Field(
        default=0.6, ge=0, le=1, description="Stability floor a candidate must reach."
    )
    stability_tolerance: float = Field(
        default=0.05, ge=0, le=1, description="How far below the champion's stability a "
        "candidate may be and still replace it.",
    )  # fmt: skip
    plots: bool = Field(default=True, description="Write the PCA and profile-heatmap PNGs.")


class ChurnParams(BaseModel):
    """How the churn model is validated, gated and used to score the current users."""

    valid_fraction: float = Field(
        default=0.3, gt=0, lt=1, description="Share of the latest snapshot dates held out."
    )
    embargo_days: int = Field(
        default=30, ge=0, description="Gap between training snapshots and the holdout (label "
        "horizon), so training labels never peek into it.",
    )  # fmt: skip
    C: float | None = Field(
        default=None, gt=0, description="Logistic inverse regularization; empty = chosen on "
        "user-grouped folds of the training window.",
    )  # fmt: skip
    driver_repeats: int = Field(
        default=5, ge=1, description="Permutation-importance repeats for the drivers."
    )
    min_roc_auc: float = Field(
        default=0.6, ge=0, le=1, description="Holdout ROC-AUC floor a candidate must reach."
    )
    auc_tolerance: float = Field(
        default=0.01, ge=0, le=1, description="How far below the champion's holdout ROC-AUC a "
        "candidate may be and still replace it.",
    )  # fmt: skip
    top_reasons: int = Field(default=3, ge=1, le=10, description="Reasons listed per user.")
    reengagement: bool = Field(
        default=True, description="Plan re-engagement actions for at-risk users after scoring."
    )
    evaluate_policy: bool = Field(
        default=True, description="Estimate the plan's value offline on the randomized nudge "
        "log (IPS vs nudging everyone / nobody) when the log exists.",
    )  # fmt: skip


class AudienceParams(BaseModel):
    """Both audience stages, run by the platform flow after the marts are built."""

    segments: SegmentsParams = Field(default_factory=SegmentsParams)
    churn: ChurnParams = Field(default_factory=ChurnParams)
    run_segments: bool = Field(default=True, description="Fit and publish viewer segments.")
    run_churn: bool = Field(default=True, description="Fit and publish churn scores.")


# --------------------------------------------------------------------------------------------
# Reading marts
# --------------------------------------------------------------------------------------------


def _mart(db: Session, name: str) -> pd.DataFrame:
    """A mart to learn from: missing or empty is bad data (fails fast, never retried)."""
    frame = db.read(name)
    if frame is None:
        raise AudienceDataError(f"mart {name!r} does not exist: run `tastemaker transform` first")
    if frame.empty:
        raise AudienceDataError(f"mart {name!r} is empty: nothing to learn from")
    return frame


def load_segment_inputs(settings: Settings) -> SegmentInputs:
    """Read `user_features` and the current `ml.user_segments`."""
    with Warehouse(settings).session() as db:
        users = _mart(db, FEATURES_MART)
        previous = db.read("user_segments", schema=ML_SCHEMA, order_by=None)
    return check_user_features(users, previous)


def load_churn_inputs(settings: Settings) -> ChurnInputs:
    """Read `churn_training_set` and, when dbt builds it, `churn_scoring_set` (see
    `ml.audience.tables.churn_inputs` for which rows are scored)."""
    with Warehouse(settings).session() as db:
        training = _mart(db, TRAINING_MART)
        scoring = db.read(SCORING_MART, order_by=None)
    return churn_inputs(training, scoring)


# --------------------------------------------------------------------------------------------
# Publishing
# --------------------------------------------------------------------------------------------


def publish_segments(
    settings: Settings,
    tables: SegmentTables,
    migration: pd.DataFrame | None,
    lineage: PublishLineage,
) -> dict[str, int]:
    """Publish the migration (history kept per model pair and snapshot), the assignment and the
    profiles (latest only)."""
    assert lineage.model_version is not None
    counts: dict[str, int] = {}
    with Warehouse(settings).session() as db:
        if migration is not None:
            key = {
                "from_model_version": migration["from_model_version"].iloc[0],
                "model_version": lineage.model_version,
                "snapshot_date": migration["snapshot_date"].iloc[0],
            }
            counts["segment_migrations"] = db.publish(
                "segment_migrations", migration, lineage, replace_where=key
            )
        counts["user_segments"] = db.publish("user_segments", tables.assignments, lineage)
        counts["segment_profiles"] = db.publish("segment_profiles", tables.profiles, lineage)
    return counts


def publish_churn_scores(settings: Settings, scores: pd.DataFrame, lineage: PublishLineage) -> int:
    """Replace this snapshot's scores, keep the earlier snapshots (prediction drift reads them)."""
    if scores.empty:
        raise AudienceDataError("no users to score: the scoring rows are empty")
    snapshot = scores["snapshot_date"].iloc[0]
    with Warehouse(settings).session() as db:
        return db.publish(
            "churn_scores", scores, lineage, replace_where={"snapshot_date": snapshot}
        )


def publish_actions(settings: Settings, plan: pd.DataFrame, lineage: PublishLineage) -> int:
    """Replace this snapshot's plan, keep earlier ones (what was sent when, for fatigue audits)."""
    if not len(plan):
        return 0
    snapshot = plan["snapshot_date"].iloc[0]
    with Warehouse(settings).session() as db:
        return db.publish(
            "reengagement_actions", plan, lineage, replace_where={"snapshot_date": snapshot}
        )


def _run_id() -> str | None:
    from prefect.runtime import flow_run

    rid = flow_run.get_id()
    return str(rid) if rid else None


# --------------------------------------------------------------------------------------------
# Re-engagement inputs
# --------------------------------------------------------------------------------------------


def _read_recommendations(db: Session, notes: list[str]) -> pd.DataFrame | None:
    """user_id, title_id, title, rank from `ml.recommendations` + `title_features`, or None."""
    titles = db.find("title_features")
    cols = set(db.columns("recommendations", schema=ML_SCHEMA))
    needed = {"user_id", "title_id", "rank"}
    if not titles or not needed <= cols:
        why = "does not exist" if not cols else f"lacks {sorted(needed - cols)}"
        notes.append(f"ml.recommendations {why}: teasers cannot name a title")
        return None
    order = "r.user_id, r.rank" + (", r.row_name" if "row_name" in cols else "")
    return db.con.execute(
        "select r.user_id, r.title_id, t.title_name as title, r.rank "
        f"from ml.recommendations r join {titles} t using (title_id) order by {order}"
    ).df()


def load_reengagement_inputs(settings: Settings) -> ReengagementInputs:
    """Read the policy's inputs; each is optional.

    - `ml.user_segments` → responses per segment (else pooled over everyone);
    - `user_contact_history` → contact caps and opt-outs. Without it nobody can be known to be
      over a cap or opted out, so *no one is contacted* (every row says why): the policy must
      never nudge an opted-out user;
    - `user_hour_profile` → quiet hours (else the default send hour);
    - `nudge_outcomes` → estimated responses (else the configured priors);
    - `ml.recommendations` + `title_features` → the title a teaser names (else no teasers).
    """
    notes: list[str] = []
    frames: dict[str, pd.DataFrame | None] = {}
    with Warehouse(settings).session() as db:
        for name in (CONTACTS_MART, HOURS_MART, NUDGES_MART):
            frames[name] = db.read(name)
            if frames[name] is None:
                notes.append(f"mart {name!r} does not exist")
        recommendations = _read_recommendations(db, notes)
        published = db.read("user_segments", schema=ML_SCHEMA, order_by=None)
    segments = policy_segments(published)
    if segments is None:
        notes.append("no ml.user_segments: responses are pooled over all users")
    return ReengagementInputs(
        segments=segments,
        contact_history=frames[CONTACTS_MART],
        hour_profile=frames[HOURS_MART],
        nudge_log=frames[NUDGES_MART],
        recommendations=recommendations,
        notes=notes,
    )


def policy_config(settings: Settings) -> PolicyConfig:
    """PolicyConfig from the settings named `reengage_<field>` when they exist, else defaults."""
    return PolicyConfig.from_mapping(settings.public_dict(), prefix="reengage_")


# --------------------------------------------------------------------------------------------
# Prefect wiring: segments
# --------------------------------------------------------------------------------------------


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
    return bootstrap_stability(
        segmenter, users, n_resamples=params.bootstrap_resamples, random_state=params.random_state
    )


@task(cache_policy=NO_CACHE)
def register_segmenter_task(
    settings: Settings,
    segmenter: UserSegmenter,
    stability: Stability,
    inputs: SegmentInputs,
    params: SegmentsParams,
    run_id: str | None,
) -> tuple[ModelVersion, PromotionDecision]:
    """Align ids with the published model, save the candidate, apply the stability gate."""
    registry = ModelRegistry(settings.artifacts_path)
    previous, _ = previous_segmenter(registry, inputs.previous)
    adopt_ids(segmenter, previous)
    scores = segmenter.k_scores_.set_index("k")["silhouette"]
    return save_segmenter(
        registry,
        segmenter,
        stability,
        float(scores[segmenter.k_]),
        inputs,
        params,
        run_id=run_id,
        manifest=manifest_sha256(dbt_target_dir(settings)),
    )


@task(cache_policy=NO_CACHE)
def segment_tables_task(settings: Settings, inputs: SegmentInputs) -> tuple[SegmentTables, str]:
    """Assign every user with the champion segmenter; profile and name the segments."""
    registry = ModelRegistry(settings.artifacts_path)
    champion, meta = registry.load(SEGMENTER)
    return segment_tables(champion, inputs.users, inputs.snapshot_date), meta.ref


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
    registry = ModelRegistry(settings.artifacts_path)
    champion, _ = registry.load(SEGMENTER)
    out = registry.version_dir(SEGMENTER, version) / "plots"
    if int((tables.labels >= 0).sum()) < 3:
        get_run_logger().warning("fewer than 3 segmented users: no plots")
        return []
    named = [n for n in tables.names if n.segment != UNSEGMENTED]
    paths = plot_segments(champion, users, tables.labels, tables.long_profiles, named, out)
    return [str(p) for p in paths]


@flow(name="segments", log_prints=True)
def segments_flow(params: SegmentsParams | None = None) -> dict[str, Any]:
    """Segment viewers, gate the new segmentation, publish segments, profiles and migration."""
    params = params or SegmentsParams()
    settings = get_settings()
    logger = get_run_logger()
    run_id = _run_id()
    inputs = load_segment_inputs_task(settings)
    segmenter = fit_segmenter_task(inputs.users, params)
    logger.info("k criterion (silhouette):\n%s", segmenter.k_scores_.to_string(index=False))
    stability = stability_task(segmenter, inputs.users, params)
    meta, decision = register_segmenter_task(settings, segmenter, stability, inputs, params, run_id)
    logger.info("promotion of %s: %s", meta.ref, decision.reason)
    result: dict[str, Any] = {
        "candidate": meta.ref,
        "promotion": decision.to_dict(),
        "k": segmenter.k_,
        "k_scores": segmenter.k_scores_.to_dict(orient="records"),
        "bootstrap_ari": stability.mean_ari,
        "bootstrap_ari_std": stability.std_ari,
        "users": len(inputs.users),
        "segmented": int((segmenter.labels_ >= 0).sum()),
        "snapshot_date": inputs.snapshot_date.isoformat(),
        "run_id": run_id,
    }
    if ModelRegistry(settings.artifacts_path).champion_version(SEGMENTER) is None:
        logger.warning("no segmenter champion: nothing published")
        result |= {"model_version": None, "published": {}}
        return result
    tables, champion_ref = segment_tables_task(settings, inputs)
    lineage = PublishLineage(run_id, champion_ref, manifest_sha256(dbt_target_dir(settings)))
    migration = migration_table(
        inputs.previous, tables.assignments.assign(model_version=champion_ref), champion_ref
    )
    published = publish_segments_task(settings, tables, migration, lineage)
    plots = plot_segments_task(settings, tables, inputs.users, meta.version) if params.plots else []
    result |= {
        "model_version": champion_ref,
        "published": published,
        "migration": migration_summary(migration),
        "plots": plots,
        "segments": tables.profiles[["segment_id", "segment_name", "size", "share"]].to_dict(
            orient="records"
        ),
    }
    create_markdown_artifact(
        key="tastemaker-segments",
        markdown=segments_markdown(result, tables.profiles),
        description="viewer segments",
    )
    return result


# --------------------------------------------------------------------------------------------
# Prefect wiring: churn
# --------------------------------------------------------------------------------------------


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
    settings: Settings, run: ChurnRun, rows: pd.DataFrame, params: ChurnParams, run_id: str | None
) -> tuple[ModelVersion, PromotionDecision]:
    """Save the candidate and apply the holdout ROC-AUC gate."""
    return save_churn(
        ModelRegistry(settings.artifacts_path),
        run,
        rows,
        params,
        run_id=run_id,
        manifest=manifest_sha256(dbt_target_dir(settings)),
    )


@task(cache_policy=NO_CACHE)
def score_churn_task(
    settings: Settings, rows: pd.DataFrame, params: ChurnParams
) -> tuple[pd.DataFrame, str]:
    """Churn probability and top reasons for every user to score, by the champion."""
    model, meta = ModelRegistry(settings.artifacts_path).load(CHURN)
    return score_churn(model, rows, meta.ref, k_reasons=params.top_reasons), meta.ref


@task(cache_policy=NO_CACHE, **IO_RETRY)
def publish_churn_task(settings: Settings, scores: pd.DataFrame, lineage: PublishLineage) -> int:
    """Publish this snapshot's ml.churn_scores (earlier snapshots kept)."""
    return publish_churn_scores(settings, scores, lineage)


@task(cache_policy=NO_CACHE, **IO_RETRY)
def load_reengagement_inputs_task(settings: Settings) -> ReengagementInputs:
    """Read segments, contact history, viewing hours, the nudge log and recommendations."""
    return load_reengagement_inputs(settings)


@task(cache_policy=NO_CACHE)
def plan_actions_task(
    scores: pd.DataFrame, inputs: ReengagementInputs, config: PolicyConfig
) -> pd.DataFrame:
    """One action (or none, with the reason) per at-risk user, under the fatigue rules."""
    return plan_actions(scores, inputs, config)


@task(cache_policy=NO_CACHE)
def evaluate_plan_task(
    settings: Settings, scores: pd.DataFrame, inputs: ReengagementInputs, config: PolicyConfig
) -> PolicyEvaluation | None:
    """IPS estimate of the policy vs nudging everyone / nobody on the randomized log, each
    logged nudge judged at its risk when sent (by the champion that scored today)."""
    model, _ = ModelRegistry(settings.artifacts_path).load(CHURN)
    return evaluate_plan(scores, inputs, config, model)


@task(cache_policy=NO_CACHE, **IO_RETRY)
def publish_actions_task(settings: Settings, plan: pd.DataFrame, lineage: PublishLineage) -> int:
    """Publish this snapshot's ml.reengagement_actions (earlier snapshots kept)."""
    return publish_actions(settings, plan, lineage)


@flow(name="churn", log_prints=True)
def churn_flow(params: ChurnParams | None = None) -> dict[str, Any]:
    """Fit and gate the churn model; score the current users with the champion and publish."""
    params = params or ChurnParams()
    settings = get_settings()
    logger = get_run_logger()
    run_id = _run_id()
    inputs = load_churn_inputs_task(settings)
    for note in inputs.notes:
        logger.warning(note)
    run = fit_churn_task(inputs.training, params)
    if isinstance(run, NotEnoughHistory):
        # a young service, not bad data: the run goes on, and churn waits for more snapshots
        reason = f"churn skipped, not enough history yet: {run}"
        logger.warning(reason)
        create_markdown_artifact(
            key="tastemaker-churn",
            markdown=churn_skipped_markdown(reason),
            description="churn risk (skipped)",
        )
        return {"skipped": reason}
    meta, decision = register_churn_task(settings, run, inputs.training, params, run_id)
    logger.info("promotion of %s: %s", meta.ref, decision.reason)
    result: dict[str, Any] = {
        "candidate": meta.ref,
        "promotion": decision.to_dict(),
        "metrics": {k: v for k, v in run.metrics.to_dict().items() if k != "calibration"},
        "calibration": run.metrics.calibration.to_dict(orient="records"),
        "drivers": run.drivers.head(10).to_dict(orient="records"),
        "train_dates": list(run.train_dates),
        "valid_dates": list(run.valid_dates),
        "scoring_source": inputs.scoring_source,
        "notes": list(inputs.notes),
        "run_id": run_id,
    }
    if ModelRegistry(settings.artifacts_path).champion_version(CHURN) is None:
        logger.warning("no churn champion: no scores published")
        result |= {"model_version": None, "scored": 0, "snapshot_date": None}
        return result
    scores, champion_ref = score_churn_task(settings, inputs.scoring, params)
    lineage = PublishLineage(run_id, champion_ref, manifest_sha256(dbt_target_dir(settings)))
    scored = publish_churn_task(settings, scores, lineage)
    result |= {
        "model_version": champion_ref,
        "scored": scored,
        "snapshot_date": str(scores["snapshot_date"].iloc[0]),
        "mean_probability": float(scores["churn_probability"].mean()),
    }
    markdown = churn_markdown(result, run)
    if params.reengagement:
        config = policy_config(settings)
        reinputs = load_reengagement_inputs_task(settings)
        plan = plan_actions_task(scores, reinputs, config)
        evaluation = (
            evaluate_plan_task(settings, scores, reinputs, config)
            if params.evaluate_policy
            else None
        )
        published = publish_actions_task(settings, plan, lineage)
        for note in reinputs.notes:
            logger.warning("re-engagement: %s", note)
        result["reengagement"] = {
            "at_risk": len(plan),
            "published": published,
            "actions": {str(k): int(v) for k, v in plan["action"].value_counts().items()},
            "evaluation": evaluation.to_dict() if evaluation is not None else None,
            "notes": list(reinputs.notes),
        }
        markdown += "\n\n" + reengagement_markdown(plan, evaluation, reinputs.notes)
    create_markdown_artifact(key="tastemaker-churn", markdown=markdown, description="churn risk")
    return result


@flow(name="audience", log_prints=True)
def audience_flow(params: AudienceParams | None = None) -> dict[str, Any]:
    """Segments, then churn scores: what the platform flow runs after the marts are built."""
    params = params or AudienceParams()
    logger = get_run_logger()
    out: dict[str, Any] = {}
    failed = []
    stages = [
        ("segments", segments_flow, params.segments, params.run_segments),
        ("churn", churn_flow, params.churn, params.run_churn),
    ]
    for name, stage, stage_params, wanted in stages:
        if not wanted:
            continue
        # a failed stage does not stop the other (churn scores do not need today's segments);
        # the run still ends failed, with the first stage's own exception
        state = stage(stage_params, return_state=True)
        if state.is_completed():
            out[name] = state.result()
        else:
            logger.error("audience stage %s failed: %s", name, state.message)
            failed.append(state)
    if failed:
        failed[0].result()  # re-raises the stage's exception
    return out
