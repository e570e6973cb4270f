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
