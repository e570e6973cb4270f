"""What an experiment readout reads: `experiment_user_metrics` and `experiment_user_daily_metrics`
(dbt) in, the engine's per-user frame and its daily looks out (`ml.experiments.readout`).

dbt computes every metric; this module only selects one experiment's rows in a fixed order and
cumulates the daily increments into looks, because a table of users × days would grow with the
length of every experiment while the increments grow with activity only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ml.experiments.catalog import METRIC_COLUMNS, PRE_SUFFIX
from warehouse.db import Session, Warehouse
from warehouse.settings import Settings

#: The dbt marts read here.
USER_MART = "experiment_user_metrics"
DAILY_MART = "experiment_user_daily_metrics"
#: Columns of the per-user frame besides the metrics.
KEY_COLUMNS: tuple[str, ...] = ("experiment_id", "variant", "user_id")
USER_COLUMNS: tuple[str, ...] = (
    *KEY_COLUMNS,
    "is_multi_variant",
    "entry_day",
    *METRIC_COLUMNS,
    *(f"{m}{PRE_SUFFIX}" for m in METRIC_COLUMNS),
)
_ORDER = "variant, user_id"


class UnknownExperiment(LookupError):
    """An experiment id the warehouse has no exposures for; the message lists the known ids."""


@dataclass(frozen=True)
class ExperimentSummary:
    """One experiment as the warehouse sees it (for listings)."""

    experiment_id: str
    variants: tuple[str, ...]
    users: dict[str, int]
    multi_variant_users: int
    started_on: date
    days: int


@dataclass(frozen=True)
class ExperimentData:
    """One experiment's readout inputs.

    Attributes:
        frame: one row per (variant, user) with USER_COLUMNS, ordered by variant and user; a
            user exposed to two variants has two rows (`is_multi_variant`), which the readout
            counts and excludes.
        looks: cumulative daily snapshots `(day, frame)` for day 0 .. days − 1, each with the
            users first exposed by that day and their post-period metrics through that day
            (pre-period columns as in `frame`); the last look's metrics equal `frame`'s.
        days: the experiment's days so far (its span in the exposures).
    """

    experiment_id: str
    variants: tuple[str, ...]
    started_on: date
    days: int
    frame: pd.DataFrame
    looks: list[tuple[int, pd.DataFrame]]


def _require(db: Session, name: str) -> None:
    if db.find(name) is None:
        from warehouse.db import MissingTable

        raise MissingTable(
            f"mart {name} is not in {db.path}: run `tastemaker run` (or `tastemaker transform`) "
            "first"
        )


def _summaries(db: Session) -> list[ExperimentSummary]:
    _require(db, USER_MART)
    table = db.find(USER_MART)
    per_variant = db.con.execute(
        f"select experiment_id, variant, count(*) from {table} group by all order by all"
    ).fetchall()
    # a user in two variants has a flagged row in each: count the user once
    per_experiment = db.con.execute(
        f"""
        select
            experiment_id,
            min(experiment_started_on),
            max(experiment_ends_at),
            count(distinct case when is_multi_variant then user_id end)
        from {table}
        group by experiment_id
        order by experiment_id
        """
    ).fetchall()
    out = []
    for experiment_id, started_on, ends_at, multi in per_experiment:
        users = {v: int(n) for e, v, n in per_variant if e == experiment_id}
        out.append(
            ExperimentSummary(
                experiment_id=experiment_id,
                variants=tuple(users),
                users=users,
                multi_variant_users=int(multi),
                started_on=started_on,
                days=(ends_at.date() - started_on).days,
            )
        )
    return out


def list_experiments(settings: Settings) -> list[ExperimentSummary]:
    """Every experiment with exposures in the warehouse, by id."""
    with Warehouse(settings, reader=True).session() as db:
        return _summaries(db)


def cumulative_looks(
    frame: pd.DataFrame, daily: pd.DataFrame, days: int
) -> list[tuple[int, pd.DataFrame]]:
    """Daily looks from per-user rows and their daily increments.

    Look d holds the rows of `frame` with `entry_day <= d`, whose METRIC_COLUMNS are replaced
    by the sum of the user's `daily` rows with `look_day <= d` (0 without any); every other
    column is kept. Row order follows `frame`, so the looks are as deterministic as it is.

    Args:
        frame: one row per (variant, user) with `entry_day` and METRIC_COLUMNS.
        daily: increments with `variant`, `user_id`, `look_day` and METRIC_COLUMNS.
        days: the number of looks (days 0 .. days − 1).
    """
    keys = ["variant", "user_id"]
    metrics = list(METRIC_COLUMNS)
    row = pd.MultiIndex.from_frame(frame[keys]).get_indexer(pd.MultiIndex.from_frame(daily[keys]))
    if (row < 0).any():
        raise ValueError(f"{int((row < 0).sum())} daily rows belong to no user of the frame")
    # one running total per user, advanced a day at a time: the cost grows with the looks'
    # rows (which the readout needs anyway), not with a users x days grid
    day = daily["look_day"].to_numpy()
    order = np.argsort(day, kind="stable")
    day, row = day[order], row[order]
    increments = daily[metrics].to_numpy(dtype=float)[order]
    # ends[d]: the first row after day d (rows are sorted by day)
    ends = np.searchsorted(day, np.arange(days), side="right")
    totals = np.zeros((len(frame), len(metrics)))
    entry = frame["entry_day"].to_numpy()
    # integer counts stay integers (float sums of integers are exact below 2**53); a float
    # increment makes its column float
    dtypes = {m: np.result_type(frame[m].dtype, daily[m].dtype) for m in metrics}
    looks = []
    start = 0
    for d in range(days):
        np.add.at(totals, row[start : ends[d]], increments[start : ends[d]])
        start = ends[d]
        entered = entry <= d
        snapshot = frame.loc[entered].copy()
        for j, m in enumerate(metrics):
            snapshot[m] = totals[entered, j].astype(dtypes[m])
        looks.append((d, snapshot))
    return looks


def load_experiment(settings: Settings, experiment_id: str) -> ExperimentData:
    """One experiment's per-user frame and daily looks.

    Raises:
        UnknownExperiment: the warehouse has no exposures for `experiment_id` (the message
            names the ids it has).
        MissingTable: the marts are not built.
    """
    with Warehouse(settings, reader=True).session() as db:
        summaries = {s.experiment_id: s for s in _summaries(db)}
        if experiment_id not in summaries:
            known = ", ".join(sorted(summaries)) or "none"
            raise UnknownExperiment(
                f"unknown experiment {experiment_id!r}; the warehouse has: {known}"
            )
        _require(db, DAILY_MART)
        where, params = "experiment_id = ?", [experiment_id]
        frame = db.read(
            USER_MART, columns=USER_COLUMNS, where=where, params=params, order_by=_ORDER
        )
        daily = db.read(
            DAILY_MART,
            columns=("variant", "user_id", "look_day", *METRIC_COLUMNS),
            where=where,
            params=params,
            order_by=f"{_ORDER}, look_day",
        )
    summary = summaries[experiment_id]
    assert frame is not None and daily is not None  # both found above
    return ExperimentData(
        experiment_id=experiment_id,
        variants=summary.variants,
        started_on=summary.started_on,
        days=summary.days,
        frame=frame,
        looks=cumulative_looks(frame, daily, summary.days),
    )


__all__ = (
    "DAILY_MART",
    "USER_MART",
    "ExperimentData",
    "ExperimentSummary",
    "UnknownExperiment",
    "cumulative_looks",
    "list_experiments",
    "load_experiment",
)
