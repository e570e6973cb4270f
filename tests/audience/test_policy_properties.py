"""Property tests: whatever the inputs, the plan never breaks a fatigue or respect rule.

Rules checked on every generated case (see ml.audience.policy): contact caps including the
history, opt-outs per channel (and `all`), sends only in the user's usual hours (or the default
hour for a user without viewing), the discount budget, one row per at-risk user, no control
characters in messages.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml.audience.policy import ACTION_CHANNELS, ACTIONS, PolicyConfig, plan_reengagement
from tests.tiers import max_examples

NOW = pd.Timestamp("2026-11-29T10:17:00Z")


def usual_hours_by_hand(views: dict[int, int], coverage: float) -> set[int]:
    """The documented rule, written independently: most-watched hours (earlier first on ties)
    until they cover `coverage` of the views."""
    total = sum(views.values())
    if total == 0:
        return set()
    ranked = sorted((h for h in views if views[h] > 0), key=lambda h: (-views[h], h))
    out, covered = set(), 0.0
    for h in ranked:
        out.add(h)
        covered += views[h] / total
        if covered >= coverage - 1e-12:
            break
    return out


user_strategy = st.fixed_dictionaries(
    {
        "p": st.floats(0, 1),
        "segment": st.sampled_from([0, 1, 2, None]),
        "contacts_7d": st.integers(0, 4),
        "extra_30d": st.integers(0, 4),
        "email_opt_out": st.booleans(),
        "push_opt_out": st.booleans(),
        "all_opt_out": st.booleans(),
        "has_history_row": st.booleans(),
        "hours": st.dictionaries(st.integers(0, 23), st.integers(0, 20), max_size=6),
        "title": st.one_of(st.none(), st.text(max_size=12)),
    }
)

config_strategy = st.builds(
    PolicyConfig,
    risk_threshold=st.floats(0, 1),
    value_of_retention=st.floats(0, 100),
    cost_discount=st.floats(0, 10),
    cost_email=st.floats(0, 1),
    prior_discount=st.floats(-0.2, 1),
    prior_teaser=st.floats(-0.2, 1),
    prior_email=st.floats(-0.2, 1),
    max_contacts_7d=st.integers(0, 4),
    max_contacts_30d=st.integers(0, 6),
    discount_budget=st.floats(0, 30),
    usual_hours_coverage=st.floats(0.05, 1),
    default_send_hour=st.integers(0, 23),
)


def frames(users: list[dict]) -> dict[str, pd.DataFrame]:
    ids = [f"u{i:03d}" for i in range(len(users))]
    contact = [
        {
            "user_id": uid,
            "contacts_7d": u["contacts_7d"],
            "contacts_30d": u["contacts_7d"] + u["extra_30d"],
            "email_opt_out": u["email_opt_out"],
            "push_opt_out": u["push_opt_out"],
            "all_opt_out": u["all_opt_out"],
        }
        for uid, u in zip(ids, users, strict=True)
        if u["has_history_row"]
    ]
    hours = [
        {"user_id": uid, "hour_of_day": h, "views": v}
        for uid, u in zip(ids, users, strict=True)
        for h, v in u["hours"].items()
    ]
    recs = [
        {"user_id": uid, "title_id": f"t{i}", "title": u["title"], "rank": 1}
        for i, (uid, u) in enumerate(zip(ids, users, strict=True))
        if u["title"] is not None
    ]
    return {
        "scores": pd.DataFrame({"user_id": ids, "churn_probability": [u["p"] for u in users]}),
        "segments": pd.DataFrame(
            [{"user_id": uid, "segment": u["segment"]} for uid, u in zip(ids, users, strict=True)]
        ),
        "contact_history": pd.DataFrame(
            contact,
            columns=[
                "user_id",
                "contacts_7d",
                "contacts_30d",
                "email_opt_out",
                "push_opt_out",
                "all_opt_out",
            ],
        ),
        "hour_profile": pd.DataFrame(hours, columns=["user_id", "hour_of_day", "views"]),
        "recommendations": pd.DataFrame(recs, columns=["user_id", "title_id", "title", "rank"]),
    }


@settings(
    max_examples=max_examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(users=st.lists(user_strategy, min_size=1, max_size=25), config=config_strategy)
def test_plan_never_breaks_a_rule(users: list[dict], config: PolicyConfig) -> None:
    f = frames(users)
    plan = plan_reengagement(
        f["scores"], f["segments"], f["contact_history"], f["hour_profile"], None,
        f["recommendations"], config, NOW,
    )  # fmt: skip
    at_risk = {f"u{i:03d}" for i, u in enumerate(users) if u["p"] >= config.risk_threshold}
    assert set(plan["user_id"]) == at_risk and plan["user_id"].is_unique
    assert set(plan["action"]) <= set(ACTIONS)
    by_id = dict(zip([f"u{i:03d}" for i in range(len(users))], users, strict=True))
    n_discounts = 0
    for r in plan.itertuples():
        u = by_id[r.user_id]
        if r.action == "none":
            assert r.channel is None and pd.isna(r.send_at) and r.subject == "" and r.body == ""
            continue
        assert r.expected_value > 0
        hist = u if u["has_history_row"] else {"contacts_7d": 0, "extra_30d": 0}
        # caps, counting the history and this contact
        assert hist["contacts_7d"] + 1 <= config.max_contacts_7d
        assert hist["contacts_7d"] + hist["extra_30d"] + 1 <= config.max_contacts_30d
        # opt-outs
        assert r.channel in ACTION_CHANNELS[r.action]
        if u["has_history_row"]:
            assert not u["all_opt_out"]
            assert not u[f"{r.channel}_opt_out"]
        # quiet hours
        usual = usual_hours_by_hand(u["hours"], config.usual_hours_coverage)
        allowed = usual or {config.default_send_hour}
        assert r.send_at.hour in allowed and r.send_at.minute == 0
        assert NOW <= r.send_at < NOW + pd.Timedelta(hours=25)
        # teaser only with a real title of that user's
        if r.action == "teaser":
            assert u["title"] is not None and r.title_id == f"t{int(r.user_id[1:])}"
        # messages: plain text, no control characters but the paragraph breaks
        assert r.subject and not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in r.subject)
        assert all(c == "\n" or not (ord(c) < 32 or 127 <= ord(c) < 160) for c in r.body)
        n_discounts += r.action == "discount"
    assert n_discounts * config.cost_discount <= config.discount_budget + 1e-9


@settings(max_examples=max_examples(60), deadline=None)
@given(
    users=st.lists(user_strategy, min_size=1, max_size=15),
    channel=st.sampled_from(["email", "push", "all"]),
)
def test_an_opted_out_user_is_never_nudged_on_that_channel(users: list[dict], channel: str) -> None:
    for u in users:
        u |= {"has_history_row": True, f"{channel}_opt_out": True, "p": max(u["p"], 0.5)}
    f = frames(users)
    cfg = PolicyConfig(risk_threshold=0.5, prior_discount=0.9, prior_teaser=0.9, cost_discount=0.1)
    plan = plan_reengagement(
        f["scores"], f["segments"], f["contact_history"], f["hour_profile"], None,
        f["recommendations"], cfg, NOW,
    )  # fmt: skip
    nudged = plan[plan["action"] != "none"]
    if channel == "all":
        assert nudged.empty
    else:
        assert (nudged["channel"] != channel).all()
        assert np.isin(nudged["action"], ["discount", "teaser", "email", "push"]).all()
