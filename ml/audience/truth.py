"""Align a synthetic world's planted truth (`truth/`) with warehouse rows, for tests and benches.

Never used by the pipeline: only a generated world has a truth folder, and a model must never
see it. It answers "how good could a model possibly be here?".

Churn. `truth/churn.csv` holds, per user and month, the planted probability p_m of cancelling in
that month's window [evaluated_on, month end] (the cancel day is uniform over the window).
A `churn_training_set` row asks about [s, s + 30 days) for a user subscribed at s. Its planted
probability is

    P1 = p_m1 · (days of the window left from s) / (window days) / (1 − p_m1 · (days before s) /
         (window days))            the rest of month m1, given no cancel earlier in it
    P2 = p_m2 · (days of m2 inside [s, s + 30)) / (days in m2's window)
    P  = 1 − (1 − P1) · (1 − P2)

A month without a truth row for that user (not evaluated: e.g. reactivated mid-month) adds 0.
p_m2 is decided from behaviour up to m2's first day, after s: the truth sees a little of the
future, so its AUC is an upper reference, not a bound a model must stay under.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def planted_window_probability(
    rows: pd.DataFrame, truth_dir: Path, horizon_days: int = 30
) -> np.ndarray:
    """The planted probability of a cancel in [snapshot, snapshot + horizon) for each row.

    Args:
        rows: frame with user_id and snapshot_date.
        truth_dir: the world's `truth/` folder.
    """
    truth = pd.read_csv(truth_dir / "churn.csv", usecols=["user_id", "month", "churn_probability",
                                                          "evaluated_on"])  # fmt: skip
    truth["evaluated_on"] = pd.to_datetime(truth["evaluated_on"])
    truth["month_start"] = pd.to_datetime(truth["month"] + "-01")
    truth["month_end"] = truth["month_start"] + pd.offsets.MonthBegin(1)  # exclusive
    truth["window_days"] = (truth["month_end"] - truth["evaluated_on"]).dt.days
    by_key = truth.set_index(["user_id", "month"])

    s = pd.to_datetime(rows["snapshot_date"]).reset_index(drop=True)
    end = s + pd.Timedelta(days=horizon_days)
    users = rows["user_id"].reset_index(drop=True)
    m1 = s.dt.strftime("%Y-%m")
    m2_start = s.dt.to_period("M").dt.to_timestamp() + pd.offsets.MonthBegin(1)
    m2 = m2_start.dt.strftime("%Y-%m")

    def lookup(months: pd.Series) -> pd.DataFrame:
        idx = pd.MultiIndex.from_arrays([users, months])
        return by_key.reindex(idx)[["churn_probability", "evaluated_on", "window_days",
                                     "month_end"]].reset_index(drop=True)  # fmt: skip

    t1, t2 = lookup(m1), lookup(m2)
    n1 = t1["window_days"].to_numpy(float)
    before = np.clip((s - t1["evaluated_on"]).dt.days.to_numpy(float), 0, None)
    left = np.clip((np.minimum(end, t1["month_end"]) - s).dt.days.to_numpy(float), 0, None)
    p1 = t1["churn_probability"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        P1 = p1 * left / n1 / (1 - p1 * before / n1)
    P1 = np.nan_to_num(P1, nan=0.0)
    covered = np.clip((end - m2_start).dt.days.to_numpy(float), 0, None)
    p2 = t2["churn_probability"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        P2 = np.nan_to_num(p2 * np.minimum(covered, t2["window_days"].to_numpy(float))
                           / t2["window_days"].to_numpy(float), nan=0.0)  # fmt: skip
    return 1 - (1 - P1) * (1 - P2)


def archetypes(users: pd.Series, truth_dir: Path) -> np.ndarray:
    """The planted archetype of each user id (NaN for a user the truth does not know)."""
    truth = pd.read_csv(truth_dir / "users.csv", usecols=["user_id", "archetype"])
    return users.to_frame("user_id").merge(truth, how="left")["archetype"].to_numpy()
