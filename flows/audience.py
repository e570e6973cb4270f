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

`audience_flow` runs both, in that order; the platform flow calls it after transform.

The plain functions here carry the logic (tests and the CLI call them); tasks wrap them and the
flows only wire tasks, as in flows/monitor.py. ml/ stays free of Prefect.

Promotion gates (why these metrics):
- *segmenter*: bootstrap stability (mean ARI of refits on resamples against the model's own
  labels). Segments are only worth naming and acting on if they come back on another sample of
  the same people. The candidate must reach `min_bootstrap_ari` and be no more than
  `stability_tolerance` below the champion's stability. Silhouette picks k inside a run but is
  not the gate: it falls naturally with more segments and with a more varied population, so a
  better segmentation of richer data can score lower.
- *churn*: ROC-AUC on the candidate's time-based holdout (later snapshots than it trained on).
  The candidate must reach `min_roc_auc` and be no more than `auc_tolerance` below the champion
  on the *same* holdout. When the holdout changed (new snapshots arrived) the champion's recipe
  (its pickled estimator's parameters) is refit on the candidate's training window and scored on
  the candidate's holdout: the champion artifact itself was refit on every labelled row, some of
  which are in the new holdout, and scoring it there would reward memorising.

Where things go: the model, `metadata.json` and (not checksummed, informational)
`evaluation.json` under `<artifacts>/<model>/<version>/`; the segment plots under
`<artifacts>/segmenter/<version>/plots/` of the version this run trained (they picture the
published assignment, which is that version's when it was promoted). Only `model.pkl` is
checksummed by the registry, so adding files beside it does not break `load`.

Segment ids are stable across runs: a new segmenter's clusters are matched to the centres of the
model that wrote the current `ml.user_segments` (Hungarian matching, `align_segments`) and take
its ids; the mapping is kept on the model (`segment_ids_`), so migration tables compare like with
like.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from flows.settings import Settings, get_settings
from flows.tasks.dbtrun import dbt_target_dir, manifest_sha256
from flows.tasks.lock import warehouse_lock
from flows.tasks.publish import PublishError, PublishLineage, publish_table, read_table
from flows.tasks.warehouse import connect
from ml.audience.churn import (
    LABEL,
    ChurnClassifier,
    ChurnRun,
    churn_features,
    fit_validate_churn,
    score_churn,
    time_split,
)
from ml.audience.ips import PolicyEvaluation, evaluate_policy
from ml.audience.policy import PolicyConfig, PolicyInputError, plan_reengagement
from ml.audience.segments import (
    UNSEGMENTED,
    UNSEGMENTED_NAME,
    SegmentName,
    Stability,
    UserSegmenter,
    align_segments,
    bootstrap_stability,
    name_segments,
    plot_segments,
    profile_segments,
    segment_migration,
)
from ml.registry import (
    DataWindow,
    ModelNotFoundError,
    ModelRegistry,
    ModelVersion,
    PromotionDecision,
    PromotionGate,
)

log = logging.getLogger(__name__)

SEGMENTER = "segmenter"
CHURN = "churn"
FEATURES_MART = "user_features"
TRAINING_MART = "churn_training_set"
SCORING_MART = "churn_scoring_set"
ABSENT = -2  # segment_migration's id for "not in that run"
#: Marts the re-engagement policy reads when dbt builds them (each optional, see below).
CONTACTS_MART = "user_contact_history"
HOURS_MART = "user_hour_profile"
NUDGES_MART = "nudge_outcomes"


class AudienceDataError(ValueError):
    """A mart the audience flows read is missing, empty or lacks a column."""


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


def _find_table(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """`schema.name` of a mart (any schema but raw and ml), or None when it is not built."""
    row = con.execute(
        "select table_schema from information_schema.tables where table_name = ? "
        "and table_schema not in ('raw', 'ml') order by table_schema = 'main' desc limit 1",
        [name],
    ).fetchone()
    return f'"{row[0]}"."{name}"' if row else None


def _read_mart(con: duckdb.DuckDBPyConnection, name: str) -> pd.DataFrame:
    table = _find_table(con, name)
    if table is None:
        raise AudienceDataError(f"mart {name!r} does not exist: run `tastemaker transform` first")
    frame = con.execute(f"select * from {table}").df()
    if frame.empty:
        raise AudienceDataError(f"mart {name!r} is empty: nothing to learn from")
    return frame


@dataclass(frozen=True)
class SegmentInputs:
    """`user_features` as of its snapshot date, and the assignment published before this run."""

    users: pd.DataFrame
    snapshot_date: dt.date
    previous: pd.DataFrame | None  # ml.user_segments as published, or None


def load_segment_inputs(settings: Settings) -> SegmentInputs:
    """Read `user_features` and the current `ml.user_segments` (under the warehouse lock)."""
    with warehouse_lock(settings.lock_path, settings.warehouse_lock_timeout_s):
        con = connect(settings.warehouse_path)
        try:
            users = _read_mart(con, FEATURES_MART)
        finally:
            con.close()
        previous = read_table(settings.warehouse_path, "user_segments")
    for col in ("user_id", "snapshot_date"):
        if col not in users.columns:
            raise AudienceDataError(f"mart {FEATURES_MART!r} lacks the column {col!r}")
    if users["user_id"].duplicated().any():
        dup = users.loc[users["user_id"].duplicated(), "user_id"].iloc[0]
        raise AudienceDataError(f"mart {FEATURES_MART!r} holds user_id {dup!r} more than once")
    snapshot = pd.Timestamp(users["snapshot_date"].max()).date()
    users = users.sort_values("user_id", ignore_index=True)
    return SegmentInputs(users=users, snapshot_date=snapshot, previous=previous)


@dataclass(frozen=True)
class ChurnInputs:
    """Labelled snapshots to train on, the rows to score and where the latter came from."""

    training: pd.DataFrame
    scoring: pd.DataFrame
    scoring_source: str
    notes: list[str] = field(default_factory=list)


def load_churn_inputs(settings: Settings) -> ChurnInputs:
    """Read `churn_training_set` and the rows to score.

    The rows to score are the mart `churn_scoring_set` (the users subscribed at the marts'
    snapshot date, same feature columns, no label) when dbt builds it; until then the latest
    labelled snapshot of `churn_training_set`, which is at least one label horizon old (a note
    says so).
    """
    notes: list[str] = []
    with warehouse_lock(settings.lock_path, settings.warehouse_lock_timeout_s):
        con = connect(settings.warehouse_path)
        try:
            training = _read_mart(con, TRAINING_MART)
            scoring: pd.DataFrame | None = None
            scoring_table = _find_table(con, SCORING_MART)
            if scoring_table is not None:
                scoring = con.execute(f"select * from {scoring_table}").df()
        finally:
            con.close()
    for col in ("user_id", "snapshot_date", LABEL):
        if col not in training.columns:
            raise AudienceDataError(f"mart {TRAINING_MART!r} lacks the column {col!r}")
    if scoring is not None and not scoring.empty:
        missing = [c for c in churn_features(training).columns if c not in scoring.columns]
        if missing:
            raise AudienceDataError(
                f"mart {SCORING_MART!r} lacks the feature columns {missing} of {TRAINING_MART!r}"
            )
        latest = scoring["snapshot_date"].max()
        scoring = scoring[scoring["snapshot_date"] == latest].reset_index(drop=True)
        source = SCORING_MART
    else:
        why = "does not exist" if scoring is None else "is empty"
        latest = training["snapshot_date"].max()
        scoring = training[training["snapshot_date"] == latest].drop(columns=[LABEL])
        scoring = scoring.reset_index(drop=True)
        source = f"{TRAINING_MART} (latest labelled snapshot)"
        notes.append(
            f"mart {SCORING_MART!r} {why}: scoring the latest "
            f"labelled snapshot of {TRAINING_MART} ({pd.Timestamp(latest).date()}), which is at "
            "least one label horizon behind the marts"
        )
        log.warning(notes[-1])
    return ChurnInputs(training=training, scoring=scoring, scoring_source=source, notes=notes)


# --------------------------------------------------------------------------------------------
# Segments: fit, align, tables
# --------------------------------------------------------------------------------------------


def fit_segmenter(users: pd.DataFrame, params: SegmentsParams) -> UserSegmenter:
    """K-Means with k chosen by silhouette over [k_min, k_max] (see ml.audience.segments)."""
    if params.k_max < params.k_min:
        raise ValueError(f"k_max ({params.k_max}) must be >= k_min ({params.k_min})")
    return UserSegmenter(
        k_range=(params.k_min, params.k_max),
        min_views=params.min_views,
        n_init=params.n_init,
        silhouette_sample=params.silhouette_sample,
        random_state=params.random_state,
    ).fit(users)


def segment_ids(segmenter: UserSegmenter) -> dict[int, int]:
    """Raw K-Means label → published segment id (identity for a model never aligned)."""
    ids = getattr(segmenter, "segment_ids_", None)
    k = segmenter.kmeans_.n_clusters
    return {int(r): int(ids[r]) for r in range(k)} if ids is not None else {r: r for r in range(k)}


def align_to_previous(candidate: UserSegmenter, previous: UserSegmenter | None) -> dict[int, int]:
    """Published ids for the candidate's clusters: those of the previous model's closest
    centres; clusters with no partner get ids above every previous one."""
    if previous is None:
        return {r: r for r in range(candidate.kmeans_.n_clusters)}
    prev_ids = segment_ids(previous)
    mapping = align_segments(previous.centers_, candidate.centers_)
    n_prev = previous.kmeans_.n_clusters
    next_id = max(prev_ids.values()) + 1
    out: dict[int, int] = {}
    for raw in sorted(mapping):
        if mapping[raw] < n_prev:
            out[raw] = prev_ids[mapping[raw]]
        else:
            out[raw] = next_id
            next_id += 1
    return out


@dataclass(frozen=True)
class SegmentTables:
    """What a segmenter says about a set of users, ready to publish."""

    assignments: pd.DataFrame  # ml.user_segments rows
    profiles: pd.DataFrame  # ml.segment_profiles rows
    long_profiles: pd.DataFrame = field(repr=False)  # profile_segments output (published ids)
    names: list[SegmentName] = field(repr=False, default_factory=list)
    labels: np.ndarray = field(repr=False, default_factory=lambda: np.array([]))


def _top_features(grp: pd.DataFrame, n: int = 5) -> list[dict[str, Any]]:
    ranked = grp[grp["z"].abs() > 1e-9].reindex(grp["z"].abs().sort_values(ascending=False).index)
    ranked = ranked[ranked["z"].abs() > 1e-9].head(n)
    return [
        {
            "feature": r.feature,
            "segment_mean": round(float(r.segment_mean), 4),
            "population_mean": round(float(r.population_mean), 4),
            "lift": None if pd.isna(r.lift) else round(float(r.lift), 3),
            "z": round(float(r.z), 3),
        }
        for r in ranked.itertuples()
    ]


def _top_features_text(items: list[dict[str, Any]]) -> str:
    def one(i: dict[str, Any]) -> str:
        lift = "n/a" if i["lift"] is None else f"{i['lift']:.1f}x"
        return f"{i['feature']} {i['segment_mean']:.3g} vs {i['population_mean']:.3g} ({lift})"

    return "; ".join(one(i) for i in items)


def segment_tables(
    segmenter: UserSegmenter, users: pd.DataFrame, snapshot_date: dt.date
) -> SegmentTables:
    """Assignments (with distance to the own centre and the margin to the next one) and one
    profile row per segment of the model, plus the not-segmented group.

    A segment nobody falls into this time keeps a row (size 0, "no members this run") rather
    than vanishing, so a consumer joining on segment_id never loses one silently.
    """
    ids = segment_ids(segmenter)
    raw = segmenter.predict(users)
    labels = np.array([ids[int(r)] if r >= 0 else UNSEGMENTED for r in raw])
    mask = raw >= 0
    distance = np.full(len(users), np.nan)
    margin = np.full(len(users), np.nan)
    if mask.any():
        d = segmenter.kmeans_.transform(segmenter.transform(users[mask]))
        own = d[np.arange(len(d)), raw[mask]]
        distance[mask] = own
        if d.shape[1] > 1:
            margin[mask] = np.partition(d, 1, axis=1)[:, 1] - own
    long = profile_segments(users, labels, segmenter.feature_names_)
    names = name_segments(long)
    name_of = {n.segment: n for n in names}
    for seg in ids.values():
        if seg not in name_of:
            name_of[seg] = SegmentName(
                seg, f"Segment {seg} (no members this run)", "Nobody falls into this segment "
                "in this run's data.", 0, 0.0,
            )  # fmt: skip
    name_of[UNSEGMENTED] = SegmentName(
        UNSEGMENTED,
        UNSEGMENTED_NAME,
        f"Fewer than {segmenter.min_views} plays: not enough viewing to tell their taste yet.",
        int((~mask).sum()),
        0.0,
    )
    assignments = pd.DataFrame(
        {
            "user_id": users["user_id"].to_numpy(),
            "snapshot_date": snapshot_date,
            "segment_id": labels.astype(int),
            "segment_name": [name_of[s].name for s in labels],
            "distance_to_center": distance,
            "margin_to_next_center": margin,
        }
    )
    n_all, n_seg = len(users), int(mask.sum())
    rows = []
    for seg in sorted(name_of, key=lambda s: (s == UNSEGMENTED, s)):
        info = name_of[seg]
        size = int((labels == seg).sum())
        top = _top_features(long[long["segment"] == seg]) if seg != UNSEGMENTED else []
        rows.append(
            {
                "segment_id": seg,
                "segment_name": info.name,
                "description": info.description,
                "size": size,
                "share": size / n_all if n_all else 0.0,
                "share_of_segmented": (size / n_seg if n_seg else 0.0)
                if seg != UNSEGMENTED
                else None,
                "top_features": _top_features_text(top),
                "top_features_json": json.dumps(top),
                "snapshot_date": snapshot_date,
            }
        )
    profiles = pd.DataFrame(rows)
    return SegmentTables(assignments, profiles, long, list(name_of.values()), labels)


def migration_table(
    previous: pd.DataFrame | None, current: pd.DataFrame, model_version: str
) -> pd.DataFrame | None:
    """Who moved where between the published assignment and this one (ids are aligned).

    Columns: from_model_version, from_segment, from_name, to_segment, to_name, users,
    share_of_from, snapshot_date, model_version. Users only in one of the two appear with
    segment -2 ("absent"): arrivals and departures. None when nothing was published before.
    """
    if previous is None or previous.empty:
        return None
    prev = previous.rename(columns={"segment_id": "segment"})
    cur = current.rename(columns={"segment_id": "segment"})
    table = segment_migration(prev, cur)
    prev_names = prev.groupby("segment")["segment_name"].first().to_dict()
    cur_names = cur.groupby("segment")["segment_name"].first().to_dict()
    prev_names[ABSENT] = cur_names[ABSENT] = "(absent)"
    from_versions = sorted(previous["model_version"].dropna().astype(str).unique())
    table.insert(0, "from_model_version", ", ".join(from_versions) or None)
    table.insert(2, "from_name", table["from_segment"].map(prev_names))
    table.insert(4, "to_name", table["to_segment"].map(cur_names))
    table["snapshot_date"] = current["snapshot_date"].iloc[0]
    table["model_version"] = model_version
    return table


# --------------------------------------------------------------------------------------------
# Registry: save, gate, champion
# --------------------------------------------------------------------------------------------


def previous_segmenter(
    registry: ModelRegistry, previous: pd.DataFrame | None
) -> tuple[UserSegmenter | None, str | None]:
    """The model that wrote the published `ml.user_segments` (else the champion), or None."""
    ref: str | None = None
    if previous is not None and not previous.empty and "model_version" in previous.columns:
        refs = previous["model_version"].dropna().astype(str).unique()
        ref = refs[0] if len(refs) == 1 else None
    try:
        if ref and ":" in ref:
            model, version = ref.split(":", 1)
            obj, meta = registry.load(model, version)
            return obj, meta.ref
        if registry.champion_version(SEGMENTER):
            obj, meta = registry.load(SEGMENTER)
            return obj, meta.ref
    except ModelNotFoundError as exc:
        log.warning("previous segmenter %s not in the registry (%s): ids start afresh", ref, exc)
    return None, None


def _refuse(
    meta: ModelVersion, metric: str, reason: str, champion: str | None
) -> PromotionDecision:
    return PromotionDecision(
        model=meta.model,
        candidate=meta.ref,
        previous_champion=champion,
        promoted=False,
        metric=metric,
        candidate_score=meta.metrics[metric],
        champion_score=None,
        reason=reason,
    )


def _write_json(path: Path, payload: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    tmp.replace(path)


def save_segmenter(
    registry: ModelRegistry,
    segmenter: UserSegmenter,
    stability: Stability,
    silhouette: float,
    inputs: SegmentInputs,
    params: SegmentsParams,
    *,
    run_id: str | None,
    manifest: str | None,
) -> tuple[ModelVersion, PromotionDecision]:
    """Save the candidate (with its aligned ids) and apply the stability gate."""
    n_seg = int((segmenter.labels_ >= 0).sum())
    meta = registry.save(
        segmenter,
        SEGMENTER,
        metrics={
            "silhouette": silhouette,
            "bootstrap_ari": stability.mean_ari,
            "bootstrap_ari_std": stability.std_ari,
            "k": float(segmenter.k_),
        },
        holdout_id=None,  # stability is measured on the model's own data: no shared holdout
        data_window=DataWindow(
            start=None,
            end=inputs.snapshot_date.isoformat(),
            snapshot_date=inputs.snapshot_date.isoformat(),
        ),
        row_counts={"users": len(inputs.users), "segmented": n_seg},
        manifest_sha256=manifest,
        parameters={
            **segmenter.get_params(),
            "segment_ids": segment_ids(segmenter),
            "features": list(segmenter.feature_names_),
            "bootstrap_resamples": params.bootstrap_resamples,
        },
        run_id=run_id,
    )
    folder = registry.version_dir(SEGMENTER, meta.version)
    _write_json(
        folder / "evaluation.json",
        {
            "k_scores": segmenter.k_scores_.to_dict(orient="records"),
            "bootstrap_aris": list(stability.aris),
        },
    )
    champion = registry.champion_version(SEGMENTER)
    champion_ref = f"{SEGMENTER}:{champion}" if champion else None
    if stability.mean_ari < params.min_bootstrap_ari:
        decision = _refuse(
            meta,
            "bootstrap_ari",
            f"bootstrap ARI {stability.mean_ari:.3f} is below the floor "
            f"{params.min_bootstrap_ari:.3f}: these segments would not come back on another "
            "sample",
            champion_ref,
        )
    else:
        gate = PromotionGate("bootstrap_ari", True, params.stability_tolerance)
        decision = registry.promote(SEGMENTER, meta.version, gate)
    return meta, decision


def churn_holdout_id(validation: pd.DataFrame) -> str:
    """Identity of a holdout: hash of its sorted (user_id, snapshot_date, label) rows."""
    keys = validation[["user_id", "snapshot_date", "label"]].astype(str)
    blob = "\n".join(sorted("|".join(r) for r in keys.itertuples(index=False)))
    return "churn-holdout:" + hashlib.sha256(blob.encode()).hexdigest()[:16]


def champion_on_holdout(
    champion: ChurnClassifier, rows: pd.DataFrame, params: ChurnParams
) -> float:
    """The champion's recipe refit on the candidate's training window, scored on its holdout."""
    from sklearn.base import clone
    from sklearn.metrics import roc_auc_score

    rows = rows.reset_index(drop=True)
    train, valid = time_split(rows["snapshot_date"], params.valid_fraction, params.embargo_days)
    X, y = churn_features(rows), rows[LABEL].astype(int).to_numpy()
    refit = clone(champion).fit(X[train], y[train])
    return float(roc_auc_score(y[valid], refit.predict_proba(X[valid])[:, 1]))


def fit_churn(rows: pd.DataFrame, params: ChurnParams) -> ChurnRun:
    """Time-validated, calibrated churn model (see ml.audience.churn.fit_validate_churn)."""
    estimator = (
        ChurnClassifier(model="logistic", calibration="sigmoid", C=params.C)
        if params.C is not None
        else None
    )
    return fit_validate_churn(
        rows,
        estimator=estimator,
        valid_fraction=params.valid_fraction,
        embargo_days=params.embargo_days,
        n_repeats=params.driver_repeats,
    )


def save_churn(
    registry: ModelRegistry,
    run: ChurnRun,
    rows: pd.DataFrame,
    params: ChurnParams,
    *,
    run_id: str | None,
    manifest: str | None,
) -> tuple[ModelVersion, PromotionDecision]:
    """Save the candidate churn model and apply the holdout ROC-AUC gate."""
    m = run.metrics
    dates = pd.to_datetime(rows["snapshot_date"])
    meta = registry.save(
        run.model,
        CHURN,
        metrics={
            "roc_auc": m.roc_auc,
            "pr_auc": m.pr_auc,
            "brier": m.brier,
            "top_decile_lift": m.top_decile_lift,
            "base_rate": m.base_rate,
            "holdout_rows": float(m.n),
        },
        holdout_id=churn_holdout_id(run.validation),
        data_window=DataWindow(
            start=dates.min().date().isoformat(),
            end=(dates.max() + pd.Timedelta(days=params.embargo_days)).date().isoformat(),
            snapshot_date=dates.max().date().isoformat(),
        ),
        row_counts={
            "rows": len(rows),
            "holdout_rows": m.n,
            "users": int(rows["user_id"].nunique()),
            "snapshots": int(dates.nunique()),
        },
        manifest_sha256=manifest,
        parameters={
            **run.model.get_params(),
            "train_dates": list(run.train_dates),
            "valid_dates": list(run.valid_dates),
            "valid_fraction": params.valid_fraction,
            "embargo_days": params.embargo_days,
        },
        run_id=run_id,
    )
    _write_json(
        registry.version_dir(CHURN, meta.version) / "evaluation.json",
        {
            "metrics": m.to_dict(),
            "drivers": run.drivers.to_dict(orient="records"),
            "train_dates": list(run.train_dates),
            "valid_dates": list(run.valid_dates),
        },
    )
    champion = registry.champion_version(CHURN)
    champion_ref = f"{CHURN}:{champion}" if champion else None
    if m.roc_auc < params.min_roc_auc:
        return meta, _refuse(
            meta,
            "roc_auc",
            f"holdout ROC-AUC {m.roc_auc:.3f} is below the floor {params.min_roc_auc:.3f}",
            champion_ref,
        )
    gate = PromotionGate("roc_auc", True, params.auc_tolerance)
    champion_score = None
    if champion and champion != meta.version:
        current = registry.metadata(CHURN, champion)
        if current.holdout_id != meta.holdout_id:
            model, _ = registry.load(CHURN, champion)
            champion_score = champion_on_holdout(model, rows, params)
            log.info(
                "champion %s refit on the candidate's training window: holdout ROC-AUC %.4f",
                current.ref,
                champion_score,
            )
    return meta, registry.promote(CHURN, meta.version, gate, champion_score=champion_score)


# --------------------------------------------------------------------------------------------
# Publishing and markdown
# --------------------------------------------------------------------------------------------


def publish_segments(
    settings: Settings,
    tables: SegmentTables,
    migration: pd.DataFrame | None,
    lineage: PublishLineage,
) -> dict[str, int]:
    """Publish the migration (history kept per model pair and snapshot), the assignment and the
    profiles (latest only), under the warehouse lock."""
    assert lineage.model_version is not None
    counts: dict[str, int] = {}
    db = settings.warehouse_path
    with warehouse_lock(settings.lock_path, settings.warehouse_lock_timeout_s):
        if migration is not None:
            key = {
                "from_model_version": migration["from_model_version"].iloc[0],
                "model_version": lineage.model_version,
                "snapshot_date": migration["snapshot_date"].iloc[0],
            }
            counts["segment_migrations"] = publish_table(
                db, "segment_migrations", migration, lineage, replace_where=key
            )
        counts["user_segments"] = publish_table(db, "user_segments", tables.assignments, lineage)
        counts["segment_profiles"] = publish_table(db, "segment_profiles", tables.profiles, lineage)
    return counts


def publish_churn_scores(settings: Settings, scores: pd.DataFrame, lineage: PublishLineage) -> int:
    """Replace this snapshot's scores, keep the earlier snapshots (prediction drift reads them)."""
    if scores.empty:
        raise AudienceDataError("no users to score: the scoring rows are empty")
    snapshot = scores["snapshot_date"].iloc[0]
    with warehouse_lock(settings.lock_path, settings.warehouse_lock_timeout_s):
        return publish_table(
            settings.warehouse_path,
            "churn_scores",
            scores,
            lineage,
            replace_where={"snapshot_date": snapshot},
        )


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


def _run_id() -> str | None:
    from prefect.runtime import flow_run

    rid = flow_run.get_id()
    return str(rid) if rid else None


def _migration_summary(migration: pd.DataFrame | None) -> dict[str, Any] | None:
    if migration is None:
        return None
    f, t, n = migration["from_segment"], migration["to_segment"], migration["users"]
    return {
        "from_model_version": migration["from_model_version"].iloc[0],
        "stayed": int(n[(f == t) & (f != ABSENT)].sum()),
        "moved": int(n[(f != t) & (f != ABSENT) & (t != ABSENT)].sum()),
        "arrived": int(n[f == ABSENT].sum()),
        "left": int(n[t == ABSENT].sum()),
    }


# --------------------------------------------------------------------------------------------
# Re-engagement
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReengagementInputs:
    """What the policy reads besides the scores; None = that input is not available."""

    segments: pd.DataFrame | None
    contact_history: pd.DataFrame | None
    hour_profile: pd.DataFrame | None
    nudge_log: pd.DataFrame | None
    recommendations: pd.DataFrame | None
    notes: list[str] = field(default_factory=list)


def _read_recommendations(con: duckdb.DuckDBPyConnection, notes: list[str]) -> pd.DataFrame | None:
    """user_id, title_id, title, rank from `ml.recommendations` + `title_features`, or None."""
    titles = _find_table(con, "title_features")
    cols = {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'ml' and table_name = 'recommendations'"
        ).fetchall()
    }
    needed = {"user_id", "title_id", "rank"}
    if not titles or not needed <= cols:
        why = "does not exist" if not cols else f"lacks {sorted(needed - cols)}"
        notes.append(f"ml.recommendations {why}: teasers cannot name a title")
        return None
    order = "r.user_id, r.rank" + (", r.row_name" if "row_name" in cols else "")
    return con.execute(
        "select r.user_id, r.title_id, t.title_name as title, r.rank "
        f"from ml.recommendations r join {titles} t using (title_id) order by {order}"
    ).df()


def load_reengagement_inputs(settings: Settings) -> ReengagementInputs:
    """Read the policy's inputs (under the warehouse lock); each is optional.

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
    with warehouse_lock(settings.lock_path, settings.warehouse_lock_timeout_s):
        con = connect(settings.warehouse_path)
        try:
            for name in (CONTACTS_MART, HOURS_MART, NUDGES_MART):
                table = _find_table(con, name)
                frames[name] = con.execute(f"select * from {table}").df() if table else None
                if table is None:
                    notes.append(f"mart {name!r} does not exist")
            recommendations = _read_recommendations(con, notes)
        finally:
            con.close()
        published = read_table(settings.warehouse_path, "user_segments")
    segments = (
        published[["user_id", "segment_id", "segment_name"]].rename(
            columns={"segment_id": "segment"}
        )
        if published is not None
        else None
    )
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


_PLAN_TEXT = ("segment_name", "action", "channel", "title_id", "subject", "body", "reason")


def plan_actions(
    scores: pd.DataFrame,
    inputs: ReengagementInputs,
    config: PolicyConfig,
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """The `ml.reengagement_actions` rows for this snapshot's scores (`plan_reengagement`),
    with stable column types so later snapshots append to the same table."""
    contacts = inputs.contact_history
    if contacts is None:
        # unknown fatigue and opt-outs: treat every user as unreachable rather than risk it
        contacts = pd.DataFrame(
            {
                "user_id": scores["user_id"],
                "contacts_7d": 0,
                "contacts_30d": 0,
                "email_opt_out": True,
                "push_opt_out": True,
                "all_opt_out": True,
            }
        )
    plan = plan_reengagement(
        scores,
        inputs.segments,
        contacts,
        inputs.hour_profile,
        inputs.nudge_log,
        inputs.recommendations,
        config,
        now,
    )
    if inputs.contact_history is None and len(plan):
        plan["reason"] = plan["reason"] + f" ({CONTACTS_MART} not built: contact rules unknown)"
    plan["segment"] = pd.to_numeric(plan["segment"], errors="coerce").astype("Int64")
    for col in _PLAN_TEXT:
        plan[col] = plan[col].astype("string")
    plan["send_at"] = pd.to_datetime(plan["send_at"], utc=True)
    plan.insert(1, "snapshot_date", scores["snapshot_date"].iloc[0])
    return plan


def evaluate_plan(
    scores: pd.DataFrame, inputs: ReengagementInputs, config: PolicyConfig
) -> PolicyEvaluation | None:
    """Offline value of the policy vs everyone / nobody on the randomized log, if there is one."""
    if inputs.nudge_log is None or inputs.nudge_log.empty:
        return None
    try:
        return evaluate_policy(inputs.nudge_log, scores, inputs.segments, config)
    except PolicyInputError as exc:
        inputs.notes.append(f"policy not evaluated: {exc}")
        log.warning(inputs.notes[-1])
        return None


def publish_actions(settings: Settings, plan: pd.DataFrame, lineage: PublishLineage) -> int:
    """Replace this snapshot's plan, keep earlier ones (what was sent when, for fatigue audits)."""
    snapshot = plan["snapshot_date"].iloc[0] if len(plan) else None
    with warehouse_lock(settings.lock_path, settings.warehouse_lock_timeout_s):
        if snapshot is None:
            return 0
        return publish_table(
            settings.warehouse_path,
            "reengagement_actions",
            plan,
            lineage,
            replace_where={"snapshot_date": snapshot},
        )


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
            f"\nBeats nobody: {evaluation.beats_nobody}; beats everyone "
            f"({evaluation.everyone_action}): {evaluation.beats_everyone}."
        )
    for note in notes:
        lines += ["", f"> {_md_cell(note)}"]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Prefect wiring: segments
# --------------------------------------------------------------------------------------------

#: Failures no retry can fix: a missing or malformed mart, a frame the publisher refuses.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    AudienceDataError,
    FileNotFoundError,
    PublishError,
    PolicyInputError,
)


def _is_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only what may pass (a busy warehouse, a file system hiccup), not bad data."""
    try:
        state.result()
    except PERMANENT_ERRORS:
        return False
    except BaseException:
        return True
    return True


_RETRY: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": [5, 30],
    "retry_condition_fn": _is_transient,
}


@task(cache_policy=NO_CACHE, **_RETRY)
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
    segmenter.segment_ids_ = np.array(
        [align_to_previous(segmenter, previous)[r] for r in range(segmenter.kmeans_.n_clusters)]
    )
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


@task(cache_policy=NO_CACHE, **_RETRY)
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
        log.warning("fewer than 3 segmented users: no plots")
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
        "migration": _migration_summary(migration),
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


@task(cache_policy=NO_CACHE, **_RETRY)
def load_churn_inputs_task(settings: Settings) -> ChurnInputs:
    """Read churn_training_set and the rows to score."""
    return load_churn_inputs(settings)


@task(cache_policy=NO_CACHE)
def fit_churn_task(rows: pd.DataFrame, params: ChurnParams) -> ChurnRun:
    """Train on earlier snapshots, validate on later ones, calibrate, explain, refit on all."""
    return fit_churn(rows, params)


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


@task(cache_policy=NO_CACHE, **_RETRY)
def publish_churn_task(settings: Settings, scores: pd.DataFrame, lineage: PublishLineage) -> int:
    """Publish this snapshot's ml.churn_scores (earlier snapshots kept)."""
    return publish_churn_scores(settings, scores, lineage)


@task(cache_policy=NO_CACHE, **_RETRY)
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
    scores: pd.DataFrame, inputs: ReengagementInputs, config: PolicyConfig
) -> PolicyEvaluation | None:
    """IPS estimate of the policy vs nudging everyone / nobody on the randomized log."""
    return evaluate_plan(scores, inputs, config)


@task(cache_policy=NO_CACHE, **_RETRY)
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
            evaluate_plan_task(scores, reinputs, config) if params.evaluate_policy else None
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
