"""Typed flow parameters: Prefect renders these pydantic models as forms in the UI."""

from __future__ import annotations

import dataclasses
import datetime as dt

from pydantic import BaseModel, Field

from ml.world.config import WorldConfig


class WorldParams(BaseModel):
    """Size and seed of the synthetic world generated when the landing folder is empty.

    An empty field takes the installation's setting (`TASTEMAKER_WORLD__USERS`, ...), whose
    default is `ml.world.WorldConfig`'s: the one place the world's defaults are declared.
    """

    users: int | None = Field(default=None, ge=1, description="Number of users; empty = setting.")
    titles: int | None = Field(
        default=None, ge=1, description="Number of titles in the catalog; empty = setting."
    )
    days: int | None = Field(
        default=None, ge=14, description="Length of the simulated period in days; empty = setting."
    )
    seed: int | None = Field(
        default=None, description="Random seed (same seed, same world); empty = setting."
    )
    drift: bool | None = Field(
        default=None,
        description="Shift device mix and genre tastes in the last quarter; empty = setting.",
    )

    def config(self, base: WorldConfig) -> WorldConfig:
        """`base` (the settings' world) with the fields given here; checked like any world."""
        world = dataclasses.replace(base, **self.model_dump(exclude_none=True))
        world.validate()
        return world


class TransformParams(BaseModel):
    """What dbt builds."""

    select: str | None = Field(
        default=None, description="dbt selector (e.g. `+user_features`); empty = everything."
    )
    full_refresh: bool = Field(
        default=False, description="Rebuild incremental models from scratch."
    )
    snapshot_date: dt.date | None = Field(
        default=None,
        description="As-of date for feature marts; empty = the day after the last view.",
    )

    skip_unchanged: bool = Field(
        default=False,
        description="Skip the build when no data, dbt file, var or version changed since the "
        "last successful full build (the 15-minute refresh sets it).",
    )

    def dbt_vars(self) -> dict[str, str]:
        return {"snapshot_date": self.snapshot_date.isoformat()} if self.snapshot_date else {}


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
