"""Logged nudges and opt-outs: a randomized log that honours opt-outs, and planted responses.

Contract and logging rules run on the tiny world; the planted effects on the default world, where
there are enough logged decisions per archetype for the differences to stand out of the noise.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from world_helpers import TINY, World

from ml.world.archetypes import ARCHETYPE_NAMES
from ml.world.nudges import (
    ACTIONS,
    CHANNEL_OF,
    LOGGING_PROPENSITY,
    NUDGE_FIELDS,
    OPT_OUT_FIELDS,
    is_campaign_day,
)

STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")


def test_nudge_and_opt_out_files_follow_the_contract(tiny_world: World) -> None:
    nudges, opt_outs = tiny_world.nudges, tiny_world.opt_outs
    for p in (tiny_world.landing / "nudges").glob("*.csv"):
        assert p.read_text().splitlines()[0].split(",") == list(NUDGE_FIELDS)
    header = (tiny_world.landing / "opt_outs" / "opt_outs.csv").read_text().splitlines()[0]
    assert header.split(",") == list(OPT_OUT_FIELDS)
    assert len(nudges) == tiny_world.summary.rows["nudges"] > 100
    assert len(opt_outs) == tiny_world.summary.rows["opt_outs"] > 0
    assert nudges.event_id.is_unique and nudges.event_id.str.fullmatch(r"n\d{10}").all()
    assert set(nudges.action) == set(ACTIONS)
    assert nudges.sent_at.str.match(STAMP).all() and opt_outs.opted_out_at.str.match(STAMP).all()
    p = nudges.propensity.astype(float)
    assert ((p > 0) & (p <= 1)).all()
    assert set(nudges.user_id) <= set(tiny_world.users.user_id)
    assert set(opt_outs.user_id) <= set(tiny_world.users.user_id)
    assert opt_outs.user_id.is_unique and set(opt_outs.channel) <= {"email", "push", "all"}
    # Teasers name a released title; other actions name none.
    teaser = nudges.action == "teaser"
    assert (nudges.title_id[~teaser] == "").all()
    titles = tiny_world.titles.set_index("title_id")
    released = titles.release_date.loc[nudges.title_id[teaser]].to_numpy()
    assert (released <= nudges.sent_at[teaser].str[:10].to_numpy()).all()
    # One campaign per campaign day, every row of a file from that day's campaign.
    days = pd.to_datetime(nudges.campaign_id.str.removeprefix("reengage-")).dt.date
    assert all(is_campaign_day(d) for d in days)
    assert (nudges.sent_at.str[:10] == days.astype(str)).all()
    # Nobody is nudged twice in one campaign, and only subscribers signed up 14+ days before.
    assert not nudges.duplicated(["campaign_id", "user_id"]).any()
    signup = tiny_world.users.set_index("user_id").signup_date.loc[nudges.user_id]
    tenure = days.to_numpy() - pd.to_datetime(signup.to_numpy()).date
    assert min(t.days for t in tenure) >= 14


def test_opted_out_users_are_never_nudged_on_that_channel(tiny_world: World) -> None:
    nudges = tiny_world.nudges.merge(
        tiny_world.opt_outs[["user_id", "channel", "ts"]].rename(columns={"ts": "opt_ts"}),
        on="user_id",
    )
    opted = nudges[nudges.opt_ts <= nudges.ts]
    assert len(opted) > 0
    channel = opted.action.map(CHANNEL_OF)
    assert not ((channel == opted.channel) | (opted.channel.eq("all") & channel.notna())).any()
    # The logged propensity is the logging rule renormalized over the allowed actions.
    allowed = {
        "email": [a for a in ACTIONS if CHANNEL_OF[a] != "email"],
        "push": [a for a in ACTIONS if CHANNEL_OF[a] != "push"],
    }
    for row in opted.itertuples():
        total = sum(LOGGING_PROPENSITY[a] for a in allowed[row.channel])
        assert float(row.propensity) == pytest.approx(LOGGING_PROPENSITY[row.action] / total, 1e-5)
    assert (opted.channel != "all").all()  # fully opted-out users are not in campaigns
    free = tiny_world.nudges[~tiny_world.nudges.event_id.isin(opted.event_id)]
    expected = free.action.map(LOGGING_PROPENSITY)
    assert np.allclose(free.propensity.astype(float), expected)


def test_truth_records_effects_costs_propensities(tiny_world: World) -> None:
    truth = tiny_world.json("nudges.json")
    assert truth["actions"] == list(ACTIONS)
    assert truth["logging_propensity"] == LOGGING_PROPENSITY
    assert set(truth["costs"]) == set(ACTIONS) and truth["costs"]["none"] == 0
    assert truth["value_of_retained_month"] > 0
    assert set(truth["effects"]) == set(ARCHETYPE_NAMES)
    for effects in truth["effects"].values():
        assert effects["none"] == {
            "p_return": 0.0,
            "cancel_logit_response": 0.0,
            "cancel_logit_shift": 0.0,
        }
    # Some archetypes answer discounts, some push, one answers nothing at all.
    best = {
        a: max(e, key=lambda x: e[x]["p_return"]) for a, e in truth["effects"].items()
    }  # fmt: skip
    assert best["casual_dabbler"] == "discount" and best["commuter_comedy"] == "push"
    assert all(e["p_return"] == 0 for e in truth["effects"]["documentary_learner"].values())
    realized = truth["realized"]
    decisions = sum(c["decisions"] for arch in realized.values() for c in arch.values())
    assert decisions == len(tiny_world.nudges)
    assert set(truth["campaigns"]["campaign_ids"]) == set(tiny_world.nudges.campaign_id)


def test_churn_truth_includes_the_nudge_shift(tiny_world: World) -> None:
    churn = tiny_world.churn
    assert "nudge_logit" in churn
    shifted = churn[churn.nudge_logit != 0]
    assert len(shifted) > 0
    # Only users nudged within the 30 days before the evaluation carry a shift.
    nudges = tiny_world.nudges
    merged = shifted.merge(nudges[["user_id", "ts"]], on="user_id")
    evaluated = pd.to_datetime(merged.evaluated_on).dt.tz_localize("UTC")
    age = (evaluated - merged.ts).dt.total_seconds() / 86_400
    recent = merged[(age > -1) & (age <= 31)]
    assert set(recent.user_id) == set(shifted.user_id)


def test_nudges_before_the_drift_are_the_same_world(
    tiny_world: World, tiny_drift_world: World
) -> None:
    cutoff = (TINY.start_date + pd.Timedelta(days=TINY.days - round(TINY.days * 0.25))).isoformat()
    plain = tiny_world.nudges[tiny_world.nudges.sent_at.str[:10] < cutoff]
    drifted = tiny_drift_world.nudges[tiny_drift_world.nudges.sent_at.str[:10] < cutoff]
    assert len(plain) > 0
    pd.testing.assert_frame_equal(plain.reset_index(drop=True), drifted.reset_index(drop=True))
    pd.testing.assert_frame_equal(tiny_world.opt_outs, tiny_drift_world.opt_outs)


def _outcomes(world: World) -> pd.DataFrame:
    """returned_7d / cancelled_30d per logged decision, from the landing files alone."""
    nudges = world.nudges[["event_id", "user_id", "action", "ts"]]
    views = world.views[["user_id", "ts"]].rename(columns={"ts": "v_ts"})
    joined = nudges.merge(views, on="user_id")
    age = joined.v_ts - joined.ts
    hit = joined[(age > pd.Timedelta(0)) & (age <= pd.Timedelta(days=7))]
    subs = world.subscriptions
    cancels = subs[subs.event == "cancel"][["user_id", "ts"]].rename(columns={"ts": "c_ts"})
    joined = nudges.merge(cancels, on="user_id")
    age = joined.c_ts - joined.ts
    gone = joined[(age > pd.Timedelta(0)) & (age <= pd.Timedelta(days=30))]
    out = nudges.assign(
        returned_7d=nudges.event_id.isin(hit.event_id),
        cancelled_30d=nudges.event_id.isin(gone.event_id),
    )
    return out.merge(world.truth_users[["user_id", "archetype"]], on="user_id")


@pytest.mark.slow
def test_planted_responses_show_in_the_log(default_world: World) -> None:
    out = _outcomes(default_world)
    assert len(out) > 3000
    rate = out.groupby(["archetype", "action"]).returned_7d.mean()
    # The strongest planted responses lift the 7-day return over the logged control.
    assert rate["casual_dabbler", "discount"] > rate["casual_dabbler", "none"] + 0.05
    pooled = out.groupby("action").returned_7d.mean()
    assert pooled.drop("none").max() > pooled["none"]
    # Cancels within 30 days: responders' best actions beat the control pooled over archetypes.
    truth = default_world.json("nudges.json")["effects"]
    best = {a: max(e, key=lambda x: e[x]["p_return"]) for a, e in truth.items()}
    is_best = (out.action == out.archetype.map(best)) & (out.action != "none")
    assert out.cancelled_30d[is_best].mean() < out.cancelled_30d[out.action == "none"].mean()
