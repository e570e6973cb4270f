"""Re-engagement policy: one action per at-risk viewer, by expected value, under fatigue rules.

For each user whose churn probability is at least `PolicyConfig.risk_threshold` the policy picks
one of ``none, email, push, discount, teaser``:

    EV(a) = risk × response(segment, a) × value_of_retention − cost(a)        EV(none) = 0

`response(segment, a)` is read as the share of would-be cancellers that action `a` keeps, so
risk × response is the probability that the nudge keeps this user and × value is what that is
worth. It is measured on one of two outcomes (`PolicyConfig.response_outcome`):
- "returned_7d" (default): the absolute uplift of P(return within 7 days), rate_a − rate_none —
  a surrogate (a viewer who comes back is one the nudge re-engaged), far more frequent than a
  cancel, so far better estimated per segment; it assumes a re-engaged at-risk user is a kept
  one. On the default world's log (4,619 observed nudges, ~4.5% cancel within 30 days) returns
  recover the planted best action for 6 of 6 archetypes, cancels for 1 (their segment cells
  carry no detectable difference, so every cell falls back to the pooled value);
- "cancelled_30d": the relative reduction of P(cancel within 30 days), (rate_none − rate_a) /
  rate_none — retention itself, the right choice once the log is large enough.

Response estimation (`estimate_responses`), from the randomized log of past nudges
(`nudge_outcomes`, observed rows only):
- per (segment, action) cell the cancel rate of the action arm and of the `none` arm are
  self-normalized inverse-propensity (Hajek) means, Σ y/p / Σ 1/p, which equal plain
  difference-in-means when the propensities are constant and stay unbiased when they vary;
- raw response = (rate_none − rate_a) / rate_none for cancels, rate_a − rate_none for returns,
  clipped to [−1, 1];
- shrinkage, two levels:
  1. all segments pooled, toward the prior, pseudo-count form: with n = min(rows of the action
     arm, rows of the `none` arm) over the whole log and k = `prior_strength`,
         pooled(a) = w·raw_all(a) + (1 − w)·prior(a),   w = n / (n + k)
     so k is the number of rows per arm at which the log and the prior weigh equally;
  2. each segment toward the pooled value, empirical Bayes (precision-weighted):
         response(s, a) = w·raw(s, a) + (1 − w)·pooled(a),   w = τ²(a) / (τ²(a) + se²(s, a))
     se²(s, a) is the sampling variance of the cell's raw value (binomial, with the cell's
     outcome rate and the arms' effective sizes (Σw)²/Σw², divided by rate_none² for the
     relative cancel response); τ²(a) = max(0, variance of raw(·, a) across segments − mean
     se²(·, a)) is how much segments really differ on that action (method of moments). So a
     small or noisy cell leans on the pooled value, a segment that clearly differs keeps its
     own, and when segments do not differ detectably every cell is the pooled value. (A
     pseudo-count toward the pooled value was tried first: on the default world it dragged
     every archetype toward the discount, which works strongly for one archetype only.)
  A cell with no rows (or no cancels in its `none` arm: the ratio is undefined) takes the
  pooled value; with no log at all every response is the configured prior.
A user whose segment is unknown (not in the segments frame, or a segment the log never saw) gets
the pooled responses; the reason says so.

Fatigue and respect (`plan_reengagement`):
- contact caps: a nudge is allowed only if contacts_7d + 1 ≤ max_contacts_7d and
  contacts_30d + 1 ≤ max_contacts_30d (the history from `user_contact_history`, plus this one);
- opt-outs per channel: each action has one channel (`ACTION_CHANNELS`, the same as the nudge
  log's, so a response is never transferred to a channel it was not measured on): email → email;
  push → push; discount → email (a code and its terms read best in an e-mail); teaser → push (one
  title fits a notification that opens it). An action is possible only if the user has not opted
  out of its channel; `all` blocks every channel;
- quiet hours from the user's own viewing: the user's *usual hours* are their most-watched hours
  of the day, taken in order of share until they cover `usual_hours_coverage` of their views
  (ties: earlier hour first); every other hour is quiet. A message is sent at the first full hour
  at or after `now` that is a usual hour. A user without any recorded viewing gets
  `default_send_hour`. `user_hour_profile` counts hours on the viewer's own wall clock; when the
  profile carries `utc_offset_minutes` the search runs on that clock and `send_at` is converted
  back to `now`'s zone, else hours are read on `now`'s clock;
- discount budget: discounts cost `cost_discount` each and their total may not exceed
  `discount_budget`. When more users would take a discount, they are served greedily by what the
  discount gains over their best other action (ties by user_id); the rest get that other action;
- a teaser needs a title from the user's recommendations (the first row, by `rank` when given).
  Without one there is no teaser; the plain e-mail (always a candidate) is its fallback.
Ties in EV go to the cheaper action, then to the order of `ACTIONS`; everything is sorted by
user_id, so a plan is deterministic.

Offline evaluation (`evaluate_policy`) is in `ml.audience.ips`.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from ml.audience.policy_config import PolicyConfig
from ml.vocabulary import ACTION_CHANNEL, CONTACT_CHANNELS, NUDGE_ACTIONS

log = logging.getLogger(__name__)

ACTIONS = NUDGE_ACTIONS
NUDGES = ACTIONS[1:]
CHANNELS = CONTACT_CHANNELS
#: Channels an action may use, in order of preference (see the module docstring).
ACTION_CHANNELS: dict[str, tuple[str, ...]] = {
    action: (channel,) for action, channel in ACTION_CHANNEL.items() if channel is not None
}
UNKNOWN_SEGMENT = "unknown"
UNKNOWN_SEGMENT_NAME = "unknown segment"

OUTPUT_COLUMNS = [
    "user_id",
    "segment",
    "segment_name",
    "churn_probability",
    "action",
    "channel",
    "send_at",
    "title_id",
    "subject",
    "body",
    "expected_value",
    "reason",
]
LOG_COLUMNS = ("event_id", "user_id", "action", "propensity", "cancelled_30d")


class PolicyInputError(ValueError):
    """An input frame the policy cannot use; the message names the frame, field and rows."""


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def _require(frame: pd.DataFrame, name: str, columns: tuple[str, ...]) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise PolicyInputError(f"{name} must be a DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise PolicyInputError(f"{name} lacks column(s) {missing} (has {list(frame.columns)})")


def _some(ids: Any, k: int = 5) -> str:
    ids = [str(i) for i in list(ids)[:k]]
    return ", ".join(ids)


def prepare_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per user (the latest snapshot when several), churn_probability checked.

    Raises PolicyInputError naming `churn_probability` and the users when it is missing, NaN or
    outside [0, 1].
    """
    _require(scores, "scores", ("user_id", "churn_probability"))
    s = scores.copy()
    if s["user_id"].isna().any():
        raise PolicyInputError(f"scores.user_id is null in {int(s['user_id'].isna().sum())} row(s)")
    p = pd.to_numeric(s["churn_probability"], errors="coerce")
    nan = p.isna()
    if nan.any():
        raise PolicyInputError(
            f"scores.churn_probability is NaN or not a number for {int(nan.sum())} user(s): "
            f"{_some(s.loc[nan, 'user_id'])}"
        )
    out = (p < 0) | (p > 1)
    if out.any():
        raise PolicyInputError(
            f"scores.churn_probability outside [0, 1] for {int(out.sum())} user(s): "
            f"{_some(s.loc[out, 'user_id'])}"
        )
    s["churn_probability"] = p.astype(float)
    if "snapshot_date" in s.columns:
        s = s.sort_values(["user_id", "snapshot_date"], kind="stable")
    s = s.drop_duplicates("user_id", keep="last")
    return s[["user_id", "churn_probability"]].sort_values("user_id").reset_index(drop=True)


def _segment_map(segments: pd.DataFrame | None) -> pd.DataFrame:
    """user_id → segment (as given), segment_key (str), segment_name."""
    cols = ["user_id", "segment", "segment_key", "segment_name"]
    if segments is None or len(segments) == 0:
        return pd.DataFrame(columns=cols)
    _require(segments, "segments", ("user_id", "segment"))
    s = segments.drop_duplicates("user_id", keep="last").copy()
    s["segment_key"] = np.where(s["segment"].isna(), UNKNOWN_SEGMENT, s["segment"].astype(str))
    if "segment_name" not in s.columns:
        s["segment_name"] = "segment " + s["segment_key"]
    s["segment_name"] = s["segment_name"].fillna("segment " + s["segment_key"]).astype(str)
    return s[cols]


def _attach_segments(frame: pd.DataFrame, segments: pd.DataFrame | None) -> pd.DataFrame:
    seg = _segment_map(segments)
    out = frame.merge(seg, on="user_id", how="left")
    unknown = out["segment_key"].isna()
    out.loc[unknown, "segment_key"] = UNKNOWN_SEGMENT
    out.loc[unknown, "segment_name"] = UNKNOWN_SEGMENT_NAME
    return out


def prepare_log(nudge_log: pd.DataFrame | None) -> pd.DataFrame:
    """The usable rows of `nudge_outcomes`: observed outcomes only, fields checked.

    Raises PolicyInputError naming the field (and event ids) for an unknown action, a
    propensity outside (0, 1] or a null outcome on an observed row.
    """
    if nudge_log is None or len(nudge_log) == 0:
        return pd.DataFrame(columns=[*LOG_COLUMNS, "returned_7d"])
    _require(nudge_log, "nudge_log", LOG_COLUMNS)
    lg = nudge_log
    if "outcome_observed" in lg.columns:
        obs = lg["outcome_observed"].fillna(False).astype(bool)
        lg = lg[obs]
    lg = lg.copy()
    bad = ~lg["action"].isin(ACTIONS)
    if bad.any():
        raise PolicyInputError(
            f"nudge_log.action has unknown value(s) "
            f"{sorted(map(str, lg.loc[bad, 'action'].unique()))}"
            f" (events {_some(lg.loc[bad, 'event_id'])}); expected one of {list(ACTIONS)}"
        )
    p = pd.to_numeric(lg["propensity"], errors="coerce")
    bad = p.isna() | (p <= 0) | (p > 1)
    if bad.any():
        raise PolicyInputError(
            f"nudge_log.propensity must be in (0, 1]; {int(bad.sum())} row(s) are not "
            f"(events {_some(lg.loc[bad, 'event_id'])})"
        )
    lg["propensity"] = p.astype(float)
    for col in ("cancelled_30d", "returned_7d"):
        if col not in lg.columns:
            continue
        if lg[col].isna().any():
            raise PolicyInputError(
                f"nudge_log.{col} is null on {int(lg[col].isna().sum())} observed row(s) "
                f"(events {_some(lg.loc[lg[col].isna(), 'event_id'])})"
            )
        lg[col] = lg[col].astype(float)
    if "returned_7d" not in lg.columns:
        lg["returned_7d"] = np.nan
    return lg.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Response estimation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseEstimates:
    """Shrunk responses per (segment, action) and per action over all segments.

    `cells`: segment_key, action, n, n_none, cancel_rate, none_cancel_rate, raw_response, se,
    weight (of the raw value against the pooled one), pooled, response, return_uplift,
    cancel_reduction (both raw, absolute, for reading), source (log | pooled | prior).
    `pooled`: action, n, n_none, raw_response, weight, prior, response, source.
    """

    cells: pd.DataFrame
    pooled: pd.DataFrame

    def lookup(self, segment_keys: Any, action: str) -> np.ndarray:
        """The response of `action` for each segment key (pooled for a segment not in the log)."""
        if action == "none":
            return np.zeros(len(segment_keys))
        pooled = float(self.pooled.set_index("action").loc[action, "response"])
        cells = self.cells[self.cells["action"] == action].set_index("segment_key")["response"]
        return (
            pd.Series(np.asarray(segment_keys, dtype=object))
            .map(cells)
            .fillna(pooled)
            .to_numpy(float)
        )

    def known_segments(self) -> set[str]:
        return set(self.cells["segment_key"])


def _hajek(y: np.ndarray, w: np.ndarray) -> float:
    s = w.sum()
    return float((y * w).sum() / s) if s > 0 else float("nan")


def _arm_stats(group: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per action: rows, Hajek cancel rate and return rate."""
    out = {}
    for a in ACTIONS:
        g = group[group["action"] == a]
        w = 1.0 / g["propensity"].to_numpy(float)
        out[a] = {
            "n": float(len(g)),
            "n_eff": float(w.sum() ** 2 / (w**2).sum()) if len(g) else 0.0,
            "cancel": _hajek(g["cancelled_30d"].to_numpy(float), w),
            "ret": _hajek(g["returned_7d"].to_numpy(float), w) if len(g) else float("nan"),
        }
    return out


def _raw_response(
    stats: dict[str, dict[str, float]], a: str, outcome: str = "cancelled_30d"
) -> tuple[float, float, float]:
    """(raw response, n, sampling variance) of action a vs none (module docstring); NaN when
    undefined."""
    n = min(stats[a]["n"], stats["none"]["n"])
    key = "ret" if outcome == "returned_7d" else "cancel"
    base, rate = stats["none"][key], stats[a][key]
    if n == 0 or np.isnan(base) or np.isnan(rate) or (key == "cancel" and not base > 0):
        return float("nan"), 0.0, float("nan")
    pbar = (base * stats["none"]["n"] + rate * stats[a]["n"]) / (stats["none"]["n"] + stats[a]["n"])
    pbar = min(max(pbar, 0.5 / (stats["none"]["n"] + stats[a]["n"])), 1 - 1e-6)  # never 0
    var = pbar * (1 - pbar) * (1 / stats[a]["n_eff"] + 1 / stats["none"]["n_eff"])
    if key == "ret":
        return float(np.clip(rate - base, -1.0, 1.0)), n, var
    return float(np.clip((base - rate) / base, -1.0, 1.0)), n, var / base**2


def _shrink(raw: float, n: float, target: float, k: float) -> tuple[float, float]:
    if np.isnan(raw) or n == 0:
        return target, 0.0
    w = n / (n + k) if (n + k) > 0 else 1.0
    return w * raw + (1 - w) * target, w


def estimate_responses(
    nudge_log: pd.DataFrame | None,
    segments: pd.DataFrame | None,
    config: PolicyConfig | None = None,
) -> ResponseEstimates:
    """Responses per action × segment from the randomized log, shrunk toward the priors.

    See the module docstring for the estimator and the shrinkage. With an empty (or absent) log
    every response is the configured prior (source = "prior").
    """
    config = config or PolicyConfig()
    lg = prepare_log(nudge_log)
    if len(lg) and config.response_outcome == "returned_7d" and lg["returned_7d"].isna().all():
        raise PolicyInputError(
            "nudge_log.returned_7d is missing, but response_outcome = 'returned_7d' needs it"
        )
    if len(lg):
        lg = _attach_segments(lg, segments)
    all_stats = _arm_stats(lg) if len(lg) else None
    pooled_rows = []
    for a in NUDGES:
        raw, n, _ = (
            _raw_response(all_stats, a, config.response_outcome)
            if all_stats
            else (float("nan"), 0.0, float("nan"))
        )
        resp, w = _shrink(raw, n, config.prior(a), config.prior_strength)
        pooled_rows.append(
            {
                "action": a,
                "n": int(all_stats[a]["n"]) if all_stats else 0,
                "n_none": int(all_stats["none"]["n"]) if all_stats else 0,
                "raw_response": raw,
                "weight": w,
                "prior": config.prior(a),
                "response": resp,
                "source": "log" if w > 0 else "prior",
            }
        )
    pooled = pd.DataFrame(pooled_rows)
    pooled_by = pooled.set_index("action")["response"]
    cell_rows = []
    if len(lg):
        stats = {str(k): _arm_stats(g) for k, g in lg.groupby("segment_key", sort=True)}
        raws = {
            (key, a): _raw_response(st, a, config.response_outcome)
            for key, st in stats.items()
            for a in NUDGES
        }
        # one between-segment variance for all actions: deviations of each cell from its
        # action's mean across segments (a per-action estimate from ~7 cells is too noisy)
        devs, variances = [], []
        for a in NUDGES:
            vals = [(r, v) for (_, b), (r, _, v) in raws.items() if b == a and np.isfinite(r)]
            if len(vals) >= 2:
                r_arr, v_arr = np.array(vals).T
                devs.extend((r_arr - r_arr.mean()) * np.sqrt(len(r_arr) / (len(r_arr) - 1)))
                variances.extend(v_arr)
        tau2_all = max(0.0, float(np.mean(np.square(devs)) - np.mean(variances))) if devs else 0.0
        tau2 = dict.fromkeys(NUDGES, tau2_all)
        for key, st in stats.items():
            for a in NUDGES:
                raw, n, var = raws[(key, a)]
                ok = np.isfinite(raw) and n > 0 and tau2[a] > 0
                w = tau2[a] / (tau2[a] + var) if ok else 0.0
                resp = w * raw + (1 - w) * float(pooled_by[a]) if w > 0 else float(pooled_by[a])
                cell_rows.append(
                    {
                        "segment_key": key,
                        "action": a,
                        "n": int(st[a]["n"]),
                        "n_none": int(st["none"]["n"]),
                        "cancel_rate": st[a]["cancel"],
                        "none_cancel_rate": st["none"]["cancel"],
                        "raw_response": raw,
                        "se": float(np.sqrt(var)) if np.isfinite(var) else float("nan"),
                        "weight": w,
                        "pooled": float(pooled_by[a]),
                        "response": resp,
                        "return_uplift": st[a]["ret"] - st["none"]["ret"],
                        "cancel_reduction": st["none"]["cancel"] - st[a]["cancel"],
                        "source": "log" if w > 0 else "pooled",
                    }
                )
    cells = pd.DataFrame(
        cell_rows,
        columns=["segment_key", "action", "n", "n_none", "cancel_rate", "none_cancel_rate",
                 "raw_response", "se", "weight", "pooled", "response", "return_uplift",
                 "cancel_reduction",
                 "source"],
    )  # fmt: skip
    return ResponseEstimates(cells=cells, pooled=pooled)


# --------------------------------------------------------------------------------------------
# Expected values and action choice
# --------------------------------------------------------------------------------------------


def expected_values(
    risk: Any, segment_keys: Any, responses: ResponseEstimates, config: PolicyConfig
) -> pd.DataFrame:
    """EV of every action for each row (columns = ACTIONS; none = 0) and the responses used
    (columns `response_<action>`)."""
    risk = np.asarray(risk, dtype=float)
    out: dict[str, np.ndarray] = {}
    for a in ACTIONS:
        r = responses.lookup(segment_keys, a)
        out[f"response_{a}"] = r
        out[a] = risk * r * config.value_of_retention - config.cost(a) if a != "none" else 0.0 * r
    return pd.DataFrame(out)


def _argbest(ev: np.ndarray, allowed: np.ndarray, config: PolicyConfig) -> np.ndarray:
    """Index into ACTIONS of the best allowed action per row: highest EV, which must beat
    `none` (EV 0) strictly; ties → cheaper, then ACTIONS order."""
    costs = np.array([config.cost(a) for a in ACTIONS])
    order = np.lexsort((np.arange(len(ACTIONS)), costs))  # preference among equal EVs
    masked = np.where(allowed, ev, -np.inf)
    masked[:, 0] = np.where(allowed[:, 0], 0.0, -np.inf)
    best = np.zeros(len(ev), dtype=int)
    best_val = masked[:, 0].copy()
    for j in order:
        if j == 0:
            continue
        better = masked[:, j] > best_val + 1e-12
        best = np.where(better, j, best)
        best_val = np.where(better, masked[:, j], best_val)
    return best


def choose_actions(
    risk: Any, segment_keys: Any, responses: ResponseEstimates, config: PolicyConfig
) -> np.ndarray:
    """The unconstrained decision rule (no caps, opt-outs, budget): best-EV action for each
    at-risk row, `none` below the threshold. The offline evaluation judges this rule."""
    risk = np.asarray(risk, dtype=float)
    ev = expected_values(risk, segment_keys, responses, config)[list(ACTIONS)].to_numpy(float)
    at_risk = np.nan_to_num(risk, nan=-1.0) >= config.risk_threshold
    allowed = np.ones_like(ev, dtype=bool)
    allowed[~at_risk, 1:] = False
    return np.asarray(ACTIONS, dtype=object)[_argbest(ev, allowed, config)]


# --------------------------------------------------------------------------------------------
# Quiet hours
# --------------------------------------------------------------------------------------------


def usual_hours(hour_profile: pd.DataFrame, coverage: float) -> dict[Any, np.ndarray]:
    """user_id → boolean[24] of usual (non-quiet) hours; see the module docstring.

    Shares are recomputed from `views` when present (so they always sum to 1 per user); a user
    whose views sum to 0 has no usual hours (and is absent from the result).
    """
    if hour_profile is None or len(hour_profile) == 0:
        return {}
    _require(hour_profile, "hour_profile", ("user_id", "hour_of_day"))
    if "views" not in hour_profile.columns and "share" not in hour_profile.columns:
        raise PolicyInputError("hour_profile needs a 'views' or a 'share' column")
    hp = hour_profile.copy()
    h = pd.to_numeric(hp["hour_of_day"], errors="coerce")
    bad = h.isna() | (h < 0) | (h > 23) | (h != h.round())
    if bad.any():
        raise PolicyInputError(
            f"hour_profile.hour_of_day must be an integer 0-23; {int(bad.sum())} row(s) are not "
            f"(users {_some(hp.loc[bad, 'user_id'])})"
        )
    hp["hour_of_day"] = h.astype(int)
    weight_col = "views" if "views" in hp.columns else "share"
    wv = pd.to_numeric(hp[weight_col], errors="coerce").fillna(0.0)
    if (wv < 0).any():
        raise PolicyInputError(
            f"hour_profile.{weight_col} is negative for users {_some(hp.loc[wv < 0, 'user_id'])}"
        )
    hp["_w"] = wv
    grid = hp.pivot_table(index="user_id", columns="hour_of_day", values="_w", aggfunc="sum")
    grid = grid.reindex(columns=range(24), fill_value=0.0).fillna(0.0)
    mat = grid.to_numpy(float)
    totals = mat.sum(axis=1)
    out: dict[Any, np.ndarray] = {}
    for uid, row, tot in zip(grid.index, mat, totals, strict=True):
        if tot <= 0:
            continue
        share = row / tot
        order = np.lexsort((np.arange(24), -share))  # by share desc, then earlier hour
        cum = np.cumsum(share[order])
        n_keep = int(np.searchsorted(cum, coverage - 1e-12) + 1)
        mask = np.zeros(24, dtype=bool)
        mask[order[: min(n_keep, 24)]] = True
        mask &= share > 0
        out[uid] = mask
    return out


def next_send_time(now: pd.Timestamp, usual: np.ndarray) -> pd.Timestamp:
    """The first full hour at or after `now` whose hour of day is usual."""
    start = now.ceil("h")
    for k in range(24):
        t = start + pd.Timedelta(hours=k)
        if usual[t.hour]:
            return t
    raise PolicyInputError("a user has no usual hour at all")  # unreachable: ≥ 1 usual hour


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------


def clean_text(text: Any) -> str:
    """Text safe to put in a plain-text message: every control / format / separator character
    becomes a space, runs of spaces collapse, ends are trimmed."""
    s = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text)
    s = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in s)
    return " ".join(s.split())


def compose_message(action: str, title: str | None, config: PolicyConfig) -> tuple[str, str]:
    """(subject, body) of one action, plain text. The body's only control character is the line
    feed between paragraphs; the subject has none."""
    t = clean_text(title) if title else ""
    if action == "email":
        subject = "New on Tastemaker this week, picked for you"
        body = [
            "Hi,",
            "We have added shows and films we think you will enjoy since your last visit.",
            "Open Tastemaker to see what is new on your home page.",
        ]
    elif action == "push":
        subject = "Your next watch is ready"
        body = ["Fresh picks are waiting on your home page. Tap to take a look."]
    elif action == "discount":
        offer = clean_text(config.discount_text)
        subject = f"{offer[:1].upper()}{offer[1:]}, just for you"
        body = [
            "Hi,",
            f"As a thank-you for watching with us, here is {offer}.",
            "It is applied automatically at your next renewal; nothing to do.",
        ]
    elif action == "teaser":
        subject = f"{t} is waiting for you"
        body = [f"Based on what you watch, we think you will like {t}.", "Tap to start watching."]
    else:
        return "", ""
    return clean_text(subject), "\n\n".join(clean_text(p) for p in body)


# --------------------------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------------------------


def _contacts(contact_history: pd.DataFrame | None, users: pd.Series) -> pd.DataFrame:
    cols = ("contacts_7d", "contacts_30d", "email_opt_out", "push_opt_out", "all_opt_out")
    base = pd.DataFrame({"user_id": users.to_numpy()})
    if contact_history is None or len(contact_history) == 0:
        for c in cols:
            base[c] = 0 if c.startswith("contacts") else False
        return base
    _require(contact_history, "contact_history", ("user_id", *cols))
    ch = contact_history.drop_duplicates("user_id", keep="last")[["user_id", *cols]].copy()
    for c in ("contacts_7d", "contacts_30d"):
        v = pd.to_numeric(ch[c], errors="coerce")
        bad = v.notna() & ((v < 0) | (v != v.round()))
        if bad.any():
            raise PolicyInputError(
                f"contact_history.{c} must be a count >= 0; not for users "
                f"{_some(ch.loc[bad, 'user_id'])}"
            )
        ch[c] = v
    out = base.merge(ch, on="user_id", how="left")
    for c in ("contacts_7d", "contacts_30d"):
        out[c] = out[c].fillna(0).astype(int)  # no history row / null = never contacted
    for c in ("email_opt_out", "push_opt_out", "all_opt_out"):
        out[c] = out[c].astype("boolean").fillna(False).astype(bool)
    return out


def _first_titles(recommendations: pd.DataFrame | None) -> pd.DataFrame:
    if recommendations is None or len(recommendations) == 0:
        return pd.DataFrame(columns=["user_id", "title_id", "title"])
    _require(recommendations, "recommendations", ("user_id", "title_id", "title"))
    rec = recommendations.reset_index(drop=True)
    rec = rec[rec["title"].map(clean_text) != ""]
    if "rank" in rec.columns:
        rec = rec.sort_values(["user_id", "rank"], kind="stable")
    return rec.drop_duplicates("user_id", keep="first")[["user_id", "title_id", "title"]]


def plan_reengagement(
    scores: pd.DataFrame,
    segments: pd.DataFrame | None,
    contact_history: pd.DataFrame | None,
    hour_profile: pd.DataFrame | None,
    nudge_log: pd.DataFrame | None,
    recommendations: pd.DataFrame | None,
    config: PolicyConfig | None = None,
    now: datetime | pd.Timestamp | None = None,
    responses: ResponseEstimates | None = None,
) -> pd.DataFrame:
    """The `ml.reengagement_actions` rows: one per at-risk user, the action and its message.

    Args:
        scores: `ml.churn_scores`-shaped (user_id, churn_probability[, snapshot_date]); the
            latest snapshot per user is used.
        segments: user_id, segment[, segment_name] (`ml.user_segments`); None = all unknown.
        contact_history: `user_contact_history` (user_id, contacts_7d, contacts_30d,
            email_opt_out, push_opt_out, all_opt_out); a user without a row was never contacted.
        hour_profile: `user_hour_profile` (user_id, hour_of_day, views and/or share
            [, utc_offset_minutes]).
        nudge_log: `nudge_outcomes` (only outcome_observed rows are used); None/empty = priors.
        recommendations: user_id, title_id, title[, rank] for teasers; None = no teasers.
        config: thresholds, costs, limits.
        now: planning time (tz-aware recommended; naive is taken as UTC).
        responses: precomputed estimates (else estimated from `nudge_log` and `segments`).

    Returns columns `OUTPUT_COLUMNS`, sorted by user_id; `action` = none rows keep the reason
    (below break-even, contact cap, opted out, ...) and have no channel, send time or message.
    """
    config = config or PolicyConfig()
    now_ts = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    if now_ts.tzinfo is None:
        now_ts = now_ts.tz_localize("UTC")
    sc = prepare_scores(scores)
    at_risk = sc[sc["churn_probability"] >= config.risk_threshold].reset_index(drop=True)
    if at_risk.empty:
        log.info("no user at or above risk %.2f: nothing to plan", config.risk_threshold)
        return _empty_plan()
    if responses is None:
        responses = estimate_responses(nudge_log, segments, config)
    df = _attach_segments(at_risk, segments)
    known = responses.known_segments()
    df["pooled_only"] = ~df["segment_key"].isin(known)
    evs = expected_values(df["churn_probability"], df["segment_key"], responses, config)
    ct = _contacts(contact_history, df["user_id"])
    df = pd.concat([df, ct.drop(columns="user_id")], axis=1)
    titles = _first_titles(recommendations)
    df = df.merge(titles, on="user_id", how="left")

    n = len(df)
    cap7 = df["contacts_7d"].to_numpy() + 1 <= config.max_contacts_7d
    cap30 = df["contacts_30d"].to_numpy() + 1 <= config.max_contacts_30d
    may_contact = cap7 & cap30
    open_ch = {
        "email": ~(df["email_opt_out"].to_numpy() | df["all_opt_out"].to_numpy()),
        "push": ~(df["push_opt_out"].to_numpy() | df["all_opt_out"].to_numpy()),
    }
    has_title = df["title_id"].notna().to_numpy() & df["title"].notna().to_numpy()
    allowed = np.ones((n, len(ACTIONS)), dtype=bool)
    for j, a in enumerate(ACTIONS[1:], start=1):
        reach = np.zeros(n, dtype=bool)
        for ch in ACTION_CHANNELS[a]:
            reach |= open_ch[ch]
        allowed[:, j] = may_contact & reach
    allowed[:, ACTIONS.index("teaser")] &= has_title
    ev = evs[list(ACTIONS)].to_numpy(float)
    best = _argbest(ev, allowed, config)
    # discount budget: greedy by what the discount adds over the user's best other action
    jd = ACTIONS.index("discount")
    no_disc = allowed.copy()
    no_disc[:, jd] = False
    alt = _argbest(ev, no_disc, config)
    wants = np.flatnonzero(best == jd)
    budget_cut = np.zeros(n, dtype=bool)
    cost_d = config.cost_discount
    affordable = np.inf if cost_d <= 0 else np.floor(config.discount_budget / cost_d + 1e-9)
    max_discounts = int(min(len(wants), affordable))
    if len(wants) > max_discounts:
        gain = ev[wants, jd] - ev[wants, alt[wants]]
        order = np.lexsort((df["user_id"].to_numpy()[wants].astype(str), -gain))
        cut = wants[order[max_discounts:]]
        best[cut] = alt[cut]
        budget_cut[cut] = True

    usual = usual_hours(hour_profile, config.usual_hours_coverage)
    offsets: dict[Any, float] = {}
    if hour_profile is not None and "utc_offset_minutes" in getattr(hour_profile, "columns", []):
        off = hour_profile.dropna(subset=["utc_offset_minutes"]).drop_duplicates("user_id")
        offsets = dict(zip(off["user_id"], off["utc_offset_minutes"].astype(float), strict=True))
    default_mask = np.zeros(24, dtype=bool)
    default_mask[config.default_send_hour] = True
    rows = []
    for i, r in enumerate(df.itertuples(index=False)):
        action = ACTIONS[best[i]]
        seg_name = clean_text(r.segment_name)
        row: dict[str, Any] = {
            "user_id": r.user_id,
            "segment": r.segment,
            "segment_name": seg_name,
            "churn_probability": float(r.churn_probability),
            "action": action,
            "channel": None,
            "send_at": pd.NaT,
            "title_id": None,
            "subject": "",
            "body": "",
            "expected_value": float(ev[i, best[i]]),
        }
        risk_txt = f"risk {r.churn_probability:.2f}"
        seg_txt = f"segment '{seg_name}'" + (" (pooled responses)" if r.pooled_only else "")
        if action == "none":
            row["reason"] = risk_txt + ", " + _why_none(i, r, ev, allowed, may_contact, config)
        else:
            channel = next(ch for ch in ACTION_CHANNELS[action] if open_ch[ch][i])
            mask = usual.get(r.user_id)
            hours_txt = ""
            if mask is None:
                mask = default_mask
                hours_txt = (
                    f"; no viewing on record, sent at the default {config.default_send_hour:02d}:00"
                )
            row["channel"] = channel
            shift = pd.Timedelta(minutes=offsets.get(r.user_id, 0.0))
            row["send_at"] = next_send_time(now_ts + shift, mask) - shift
            title = r.title if action == "teaser" else None
            if action == "teaser":
                row["title_id"] = r.title_id
            row["subject"], row["body"] = compose_message(action, title, config)
            resp = evs[f"response_{action}"].iloc[i]
            row["reason"] = (
                f"{risk_txt}, {action} response {resp:+.2f} in {seg_txt}, cost "
                f"{config.cost(action):.2f}, expected value {ev[i, best[i]]:.2f}"
                + (f", via {channel}" if len(ACTION_CHANNELS[action]) > 1 else "")
                + hours_txt
            )
        if budget_cut[i]:
            row["reason"] += "; discount budget spent on users it helps more"
        rows.append(row)
    out = pd.DataFrame(rows, columns=OUTPUT_COLUMNS)
    out["send_at"] = pd.to_datetime(out["send_at"], utc=True).dt.tz_convert(now_ts.tz)
    return out.sort_values("user_id", kind="stable").reset_index(drop=True)


def _why_none(
    i: int, r: Any, ev: np.ndarray, allowed: np.ndarray, may_contact: np.ndarray, cfg: PolicyConfig
) -> str:
    if not may_contact[i]:
        return (
            f"no contact: {r.contacts_7d} in 7 days (limit {cfg.max_contacts_7d}), "
            f"{r.contacts_30d} in 30 days (limit {cfg.max_contacts_30d}) already"
        )
    if r.all_opt_out or (r.email_opt_out and r.push_opt_out):
        return "no contact: opted out of every channel"
    j = int(np.argmax(np.where(allowed[i, 1:], ev[i, 1:], -np.inf))) + 1
    return f"no action pays: best is {ACTIONS[j]} with expected value {ev[i, j]:.2f}"


def _empty_plan() -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in OUTPUT_COLUMNS})
    out["churn_probability"] = out["churn_probability"].astype(float)
    out["expected_value"] = out["expected_value"].astype(float)
    out["send_at"] = pd.to_datetime(out["send_at"], utc=True)
    return out
