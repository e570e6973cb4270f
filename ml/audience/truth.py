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


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def planted_policy_retention(
    log: pd.DataFrame,
    chosen: pd.DataFrame,
    truth_dir: Path,
    costs: dict[str, float],
    value_of_retention: float,
    best_for: pd.Series | None = None,
) -> pd.DataFrame:
    """What each policy really gains in 30-day retention on the logged rows, by the planted truth.

    The offline evaluation estimates this from outcomes; here it is computed from the mechanism
    the world planted, so a bench can say how far the estimate is from the truth and whether a
    small log *could* have shown a difference at all.

    For a logged nudge sent on day s to a user of archetype k, every month-start cancel-hazard
    evaluation e of that user on a day in (s, s + 30] (truth/churn.csv) carries the logged
    action's cancel-logit shift. Under another action a the logit is
        logit(p_e) − shift(k, logged action) + shift(k, a)
    (the shifts of truth/nudges.json include annoyance), and the planted cancel falls on a day
    uniform over [evaluated_on, month end), so it counts toward `cancelled_30d` with the share
    of those days that lie on or before s + 30. P(cancel in 30 days | a) = 1 − Π_e (1 − P_e(a)).
    Cancels decided before the nudge do not depend on the action and drop out of differences,
    so only differences are reported. Approximation: the fatigue term (+0.2 logit per extra
    contact in 30 days) is left as logged; the logging campaign's 28-day contact gap makes
    stacked contacts rare.

    Args:
        log: `nudge_outcomes` rows (event_id, user_id, sent_at, action; observed rows only if
            an `outcome_observed` column is given).
        chosen: index event_id, one column of actions per policy; a column "nobody" (all
            none) is the reference, else all-none is used.
        truth_dir: the world's truth/ folder.
        costs: cost per action (none: 0).
        value_of_retention: what one retained user is worth (for the net value).
        best_for: optional bool per event_id: add a row "planted best" that sends, on those
            rows, the action with the highest planted net value (the best any policy could do).

    Returns one row per policy: incremental_retained (expected cancels avoided vs nobody),
    cost, retained_per_cost, net_value.
    """
    import json

    effects = json.loads((truth_dir / "nudges.json").read_text())["effects"]
    lg = log
    if "outcome_observed" in lg.columns:
        lg = lg[lg["outcome_observed"].fillna(False).astype(bool)]
    lg = lg[lg["event_id"].isin(chosen.index)][["event_id", "user_id", "sent_at", "action"]]
    chosen = chosen[chosen.index.isin(lg["event_id"])]
    lg = lg.assign(
        sent_day=pd.to_datetime(lg["sent_at"], utc=True).dt.tz_localize(None).dt.normalize(),
        archetype=archetypes(lg["user_id"], truth_dir),
    )
    churn = pd.read_csv(
        truth_dir / "churn.csv", usecols=["user_id", "churn_probability", "evaluated_on"]
    )
    churn["evaluated_on"] = pd.to_datetime(churn["evaluated_on"])
    m = lg.merge(churn, on="user_id")
    m = m[(m["evaluated_on"] > m["sent_day"])
          & (m["evaluated_on"] <= m["sent_day"] + pd.Timedelta(days=30))].copy()  # fmt: skip
    month_end = m["evaluated_on"].dt.to_period("M").dt.to_timestamp() + pd.offsets.MonthBegin(1)
    window = (month_end - m["evaluated_on"]).dt.days.to_numpy(float)
    inside = ((m["sent_day"] + pd.Timedelta(days=30)) - m["evaluated_on"]).dt.days.to_numpy(float)
    frac = np.clip(inside + 1, 0, window) / window

    def shift(arch: pd.Series, actions: pd.Series) -> np.ndarray:
        return np.array(
            [
                effects[k][a]["cancel_logit_shift"] if isinstance(k, str) else 0.0
                for k, a in zip(arch, actions, strict=True)
            ]
        )

    base = _logit(m["churn_probability"].to_numpy(float)) - shift(m["archetype"], m["action"])

    def p_cancel(actions: pd.Series) -> pd.Series:
        """P(cancel within 30 days) per event_id when each row gets `actions` (by event)."""
        acts = m["event_id"].map(actions).fillna("none")
        p = frac / (1 + np.exp(-(base + shift(m["archetype"], acts))))
        keep = pd.Series(np.log1p(-np.clip(p, 0, 1 - 1e-12)), index=m["event_id"].to_numpy())
        return 1 - np.exp(keep.groupby(level=0).sum()).reindex(chosen.index, fill_value=1.0)

    none = pd.Series("none", index=chosen.index)
    reference = chosen["nobody"] if "nobody" in chosen.columns else none
    p_ref = p_cancel(reference)
    policies = {c: chosen[c] for c in chosen.columns}
    if best_for is not None:
        mask = best_for.reindex(chosen.index).fillna(False).astype(bool)
        gains = pd.DataFrame(
            {
                a: (p_ref - p_cancel(pd.Series(a, index=chosen.index))) * value_of_retention
                - costs.get(a, 0.0)
                for a in effects[next(iter(effects))]
            }
        )
        gains["none"] = 0.0
        best = gains.idxmax(axis=1).where(mask, "none")
        policies["planted best"] = best
    rows = []
    for name, acts in policies.items():
        inc = float((p_ref - p_cancel(acts)).sum())
        cost = float(acts.map(lambda a: costs.get(a, 0.0) if a != "none" else 0.0).sum())
        rows.append({
            "policy": name,
            "incremental_retained": inc,
            "cost": cost,
            "retained_per_cost": inc / cost if cost > 0 else float("nan"),
            "net_value": inc * value_of_retention - cost,
        })  # fmt: skip
    return pd.DataFrame(rows)
