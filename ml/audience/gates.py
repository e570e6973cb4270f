"""Audience models: candidates fitted from the run's parameters, saved and gated; the champions
used to assign segments, plot them, score churn and judge the re-engagement plan.

No Prefect here; the flows call these inside tasks. The parameters are anything carrying the
named attributes (`SegmentRules`, `ChurnRules`): the flows pass their Prefect parameter models.

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
`evaluation.json` under `<artifacts>/<model>/<version>/`. Only `model.pkl` is checksummed by the
registry, so adding files beside it does not break `load`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from ml.audience.churn import (
    LABEL,
    ChurnClassifier,
    ChurnRun,
    churn_features,
    fit_validate_churn,
    score_churn,
    time_split,
)
from ml.audience.ips import PolicyEvaluation
from ml.audience.policy import PolicyConfig
from ml.audience.reengagement import ReengagementInputs, evaluate_plan
from ml.audience.segments import UNSEGMENTED, Stability, UserSegmenter, plot_segments
from ml.audience.tables import (
    ChurnInputs,
    SegmentInputs,
    SegmentTables,
    adopt_ids,
    segment_ids,
    segment_tables,
)
from ml.registry import (
    REFERENCE_SCORES,
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


class SegmentRules(Protocol):
    """How a segmenter is fitted and gated (the flows' `SegmentsParams` has these fields)."""

    @property
    def k_min(self) -> int: ...
    @property
    def k_max(self) -> int: ...
    @property
    def min_views(self) -> int: ...
    @property
    def n_init(self) -> int: ...
    @property
    def silhouette_sample(self) -> int: ...
    @property
    def random_state(self) -> int: ...
    @property
    def bootstrap_resamples(self) -> int: ...
    @property
    def min_bootstrap_ari(self) -> float: ...
    @property
    def stability_tolerance(self) -> float: ...


class ChurnRules(Protocol):
    """How a churn model is validated and gated (the flows' `ChurnParams` has these fields)."""

    @property
    def valid_fraction(self) -> float: ...
    @property
    def embargo_days(self) -> int: ...
    @property
    def C(self) -> float | None: ...  # the estimator's parameter name
    @property
    def driver_repeats(self) -> int: ...
    @property
    def min_roc_auc(self) -> float: ...
    @property
    def auc_tolerance(self) -> float: ...


# --------------------------------------------------------------------------------------------
# Segmenter
# --------------------------------------------------------------------------------------------


def fit_segmenter(users: pd.DataFrame, params: SegmentRules) -> UserSegmenter:
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
    params: SegmentRules,
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


def register_segmenter(
    registry: ModelRegistry,
    segmenter: UserSegmenter,
    stability: Stability,
    inputs: SegmentInputs,
    params: SegmentRules,
    *,
    run_id: str | None,
    manifest: str | None,
) -> tuple[ModelVersion, PromotionDecision]:
    """Align the candidate's ids with the model that wrote the published segments, save it and
    apply the stability gate. Ids first, so the registry entry and every table the candidate
    writes use the published ids (migration tables then compare like with like)."""
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
        manifest=manifest,
    )


def segmenter_summary(
    meta: ModelVersion,
    decision: PromotionDecision,
    segmenter: UserSegmenter,
    stability: Stability,
    inputs: SegmentInputs,
) -> dict[str, Any]:
    """The candidate segmenter and its gate, as the segments flow reports them (JSON-ready)."""
    return {
        "candidate": meta.ref,
        "promotion": decision.to_dict(),
        "k": segmenter.k_,
        "k_scores": segmenter.k_scores_.to_dict(orient="records"),
        "bootstrap_ari": stability.mean_ari,
        "bootstrap_ari_std": stability.std_ari,
        "users": len(inputs.users),
        "segmented": int((segmenter.labels_ >= 0).sum()),
        "snapshot_date": inputs.snapshot_date.isoformat(),
    }


def champion_segment_tables(
    registry: ModelRegistry, inputs: SegmentInputs
) -> tuple[SegmentTables, str]:
    """Every user assigned by the champion segmenter (whichever version the gate left there),
    with the segments profiled and named; and the champion's reference."""
    champion, meta = registry.load(SEGMENTER)
    return segment_tables(champion, inputs.users, inputs.snapshot_date), meta.ref


def plot_champion_segments(
    registry: ModelRegistry, tables: SegmentTables, users: pd.DataFrame, version: str
) -> list[str]:
    """PCA scatter and profile heatmap of the published assignment, under
    `<artifacts>/segmenter/<version>/plots/` of the version this run trained; none (with a
    warning) when fewer than 3 users are segmented."""
    champion, _ = registry.load(SEGMENTER)
    out = registry.version_dir(SEGMENTER, version) / "plots"
    if int((tables.labels >= 0).sum()) < 3:
        log.warning("fewer than 3 segmented users: no plots")
        return []
    named = [n for n in tables.names if n.segment != UNSEGMENTED]
    paths = plot_segments(champion, users, tables.labels, tables.long_profiles, named, out)
    return [str(p) for p in paths]


# --------------------------------------------------------------------------------------------
# Churn
# --------------------------------------------------------------------------------------------


def churn_holdout_id(validation: pd.DataFrame) -> str:
    """Identity of a holdout: hash of its sorted (user_id, snapshot_date, label) rows."""
    keys = validation[["user_id", "snapshot_date", "label"]].astype(str)
    blob = "\n".join(sorted("|".join(r) for r in keys.itertuples(index=False)))
    return "churn-holdout:" + hashlib.sha256(blob.encode()).hexdigest()[:16]


def champion_on_holdout(champion: ChurnClassifier, rows: pd.DataFrame, params: ChurnRules) -> float:
    """The champion's recipe refit on the candidate's training window, scored on its holdout."""
    from sklearn.base import clone
    from sklearn.metrics import roc_auc_score

    rows = rows.reset_index(drop=True)
    train, valid = time_split(rows["snapshot_date"], params.valid_fraction, params.embargo_days)
    X, y = churn_features(rows), rows[LABEL].astype(int).to_numpy()
    refit = clone(champion).fit(X[train], y[train])
    return float(roc_auc_score(y[valid], refit.predict_proba(X[valid])[:, 1]))


def fit_churn(rows: pd.DataFrame, params: ChurnRules) -> ChurnRun:
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


def reference_scores(model: ChurnClassifier, rows: pd.DataFrame) -> dict[str, Any]:
    """The model's calibrated probabilities and the labels on its latest labelled snapshot:
    the reference against which the monitor states the estimated ROC-AUC change of new scores
    (CBPE of the same model on both sides, so the change is the score distribution's, not a
    second model's; monitoring/performance.py). In-sample for this model, which is refit on
    every labelled snapshot; the holdout AUC in the metrics is the out-of-sample figure."""
    last = rows["snapshot_date"].max()
    latest = rows[rows["snapshot_date"] == last]
    proba = model.predict_proba(churn_features(latest))[:, 1]
    return {
        "snapshot_date": str(pd.Timestamp(last).date()),
        "label": latest[LABEL].astype(int).tolist(),
        "churn_probability": [round(float(p), 6) for p in proba],
    }


def save_churn(
    registry: ModelRegistry,
    run: ChurnRun,
    rows: pd.DataFrame,
    params: ChurnRules,
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
            REFERENCE_SCORES: reference_scores(run.model, rows),
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


def churn_summary(
    meta: ModelVersion, decision: PromotionDecision, run: ChurnRun, inputs: ChurnInputs
) -> dict[str, Any]:
    """The candidate churn model, its holdout metrics and its gate, and where the rows to score
    come from, as the churn flow reports them (JSON-ready; the calibration table apart from
    the scalar metrics)."""
    return {
        "candidate": meta.ref,
        "promotion": decision.to_dict(),
        "metrics": {k: v for k, v in run.metrics.to_dict().items() if k != "calibration"},
        "calibration": run.metrics.calibration.to_dict(orient="records"),
        "drivers": run.drivers.head(10).to_dict(orient="records"),
        "train_dates": list(run.train_dates),
        "valid_dates": list(run.valid_dates),
        "scoring_source": inputs.scoring_source,
        "notes": list(inputs.notes),
    }


# --------------------------------------------------------------------------------------------
# Using the churn champion
# --------------------------------------------------------------------------------------------


def score_with_champion(
    registry: ModelRegistry, rows: pd.DataFrame, top_reasons: int
) -> tuple[pd.DataFrame, str]:
    """Churn probability and top reasons for every row to score, by the champion (whichever
    version the gate left there); and the champion's reference."""
    model, meta = registry.load(CHURN)
    return score_churn(model, rows, meta.ref, k_reasons=top_reasons), meta.ref


def evaluate_plan_with_champion(
    registry: ModelRegistry,
    scores: pd.DataFrame,
    inputs: ReengagementInputs,
    config: PolicyConfig,
) -> PolicyEvaluation | None:
    """IPS estimate of the policy vs nudging everyone / nobody on the randomized log, each
    logged nudge judged at its risk when sent by the champion that scored today."""
    model, _ = registry.load(CHURN)
    return evaluate_plan(scores, inputs, config, model)
