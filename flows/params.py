"""Typed flow parameters: Prefect renders these pydantic models as forms in the UI."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class WorldParams(BaseModel):
    """Size and seed of the synthetic world generated when the landing folder is empty."""

    users: int = Field(default=2000, ge=1, description="Number of users.")
    titles: int = Field(default=400, ge=1, description="Number of titles in the catalog.")
    days: int = Field(default=180, ge=14, description="Length of the simulated period in days.")
    seed: int = Field(default=42, description="Random seed: same seed, same world.")
    drift: bool = Field(
        default=False, description="Shift device mix and genre tastes in the last quarter."
    )


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
