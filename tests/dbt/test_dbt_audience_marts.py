"""The marts the re-engagement policy reads, re-derived independently from `raw` on the tiny world.

nudge_outcomes (7-day return, 30-day cancel, censoring), user_contact_history (contacts and
opt-outs), user_hour_profile (24 hours a user, shares) and churn_scoring_set (the training set's
feature columns at the as-of snapshot) are checked against pandas computations on the raw tables,
so a window or cut-off that drifts in SQL shows up here.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from dbtkit import query, scalar

pytestmark = pytest.mark.slow


def _frame(db, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(sql).df()


def _snapshot_at(db) -> pd.Timestamp:
    return pd.Timestamp(scalar(db, "select snapshot_at from intermediate.int_snapshot_date"))


def test_nudge_outcomes_match_raw(built_project) -> None:
    db = built_project.db_path
    snapshot_at = _snapshot_at(db)
    mart = _frame(db, "select * from nudge_outcomes").set_index("event_id").sort_index()
    nudges = _frame(db, "select event_id, user_id, sent_at, action from raw.nudges")
    nudges = nudges[nudges.sent_at < snapshot_at].set_index("event_id").sort_index()
    assert list(mart.index) == list(nudges.index)
    assert len(mart) > 100 and set(mart.action) == {"none", "email", "push", "discount", "teaser"}

    views = _frame(db, "select user_id, started_at as fact_at from raw.views")
    cancels = _frame(
        db, "select user_id, occurred_at as fact_at from raw.subscriptions where event = 'cancel'"
    )

    def any_within(facts: pd.DataFrame, days: int) -> pd.Series:
        joined = nudges.reset_index().merge(facts, on="user_id")
        hit = (
            (joined.fact_at > joined.sent_at)
            & (joined.fact_at <= joined.sent_at + pd.Timedelta(days=days))
            & (joined.fact_at < snapshot_at)
        )
        return nudges.index.isin(joined.event_id[hit])

    assert (mart.returned_7d.to_numpy() == any_within(views, 7)).all()
    assert (mart.cancelled_30d.to_numpy() == any_within(cancels, 30)).all()
    observed = (nudges.sent_at + pd.Timedelta(days=30) <= snapshot_at).to_numpy()
    assert (mart.outcome_observed.to_numpy() == observed).all()
    assert mart.outcome_observed.any() and not mart.outcome_observed.all()
    assert mart.returned_7d.any() and mart.cancelled_30d.any()


def test_user_contact_history_matches_raw(built_project) -> None:
    db = built_project.db_path
    snapshot_at = _snapshot_at(db)
    mart = _frame(db, "select * from user_contact_history").set_index("user_id").sort_index()
    users = _frame(db, "select user_id from raw.users").user_id
    assert sorted(mart.index) == sorted(users)
    nudges = _frame(db, "select user_id, sent_at, action from raw.nudges")
    contacts = nudges[(nudges.action != "none") & (nudges.sent_at < snapshot_at)]
    for days, column in ((7, "contacts_7d"), (30, "contacts_30d")):
        recent = contacts[contacts.sent_at >= snapshot_at - pd.Timedelta(days=days)]
        expected = recent.groupby("user_id").size().reindex(mart.index, fill_value=0)
        assert (mart[column] == expected).all(), column
    assert mart.contacts_30d.sum() > 0
    last = contacts.groupby("user_id").sent_at.max().reindex(mart.index)
    same = (mart.last_contact_at == last) | (mart.last_contact_at.isna() & last.isna())
    assert same.all()
    opt = _frame(db, "select user_id, channel, opted_out_at from raw.opt_outs")
    opt = opt[opt.opted_out_at < snapshot_at]
    for channel in ("email", "push"):
        blocked = set(opt.user_id[opt.channel.isin([channel, "all"])])
        assert set(mart.index[mart[f"{channel}_opt_out"]]) == blocked
    assert set(mart.index[mart.all_opt_out]) == set(opt.user_id[opt.channel == "all"])
    assert mart.email_opt_out.any()


def test_user_hour_profile_has_all_hours_and_matches_sessions(built_project) -> None:
    db = built_project.db_path
    profile = _frame(db, "select * from user_hour_profile")
    per_user = profile.groupby("user_id").agg(
        hours=("hour_of_day", "nunique"), rows=("hour_of_day", "size"), share=("share", "sum")
    )
    assert (per_user.hours == 24).all() and (per_user.rows == 24).all()
    assert ((per_user.share - 1).abs() < 1e-9).all()
    snapshot_at = _snapshot_at(db)
    views = _frame(db, "select user_id, started_at_local, started_at, watch_seconds from raw.views")
    ended = views.started_at + pd.to_timedelta(views.watch_seconds, unit="s")
    views = views[ended < snapshot_at]
    expected = views.groupby([views.user_id, views.started_at_local.dt.hour]).size()
    got = profile[profile.views > 0].set_index(["user_id", "hour_of_day"]).views
    expected.index = expected.index.set_names(["user_id", "hour_of_day"])
    assert got.sort_index().equals(expected.sort_index().astype(got.dtype))


def test_churn_scoring_set_has_the_training_features_at_the_snapshot(built_project) -> None:
    db = built_project.db_path
    columns = """
        select column_name, data_type from information_schema.columns
        where table_schema = 'main' and table_name = ? order by ordinal_position
    """
    training = query(db, columns, ["churn_training_set"])
    scoring = query(db, columns, ["churn_scoring_set"])
    assert training[-1][0] == "churned_30d"
    assert scoring == training[:-1]
    snapshot = scalar(db, "select snapshot_date from intermediate.int_snapshot_date")
    rows, users, dates = query(
        db,
        "select count(*), count(distinct user_id), count(distinct snapshot_date) "
        "from churn_scoring_set",
    )[0]
    assert rows == users > 0 and dates == 1
    assert scalar(db, "select max(snapshot_date) from churn_scoring_set") == snapshot
    # Exactly the users with an open (or not yet ended) subscription spell at the snapshot.
    active = scalar(
        db,
        """
        select count(distinct user_id) from intermediate.int_subscription_spells
        where started_at < (select snapshot_at from intermediate.int_snapshot_date)
          and (ended_at is null
               or ended_at >= (select snapshot_at from intermediate.int_snapshot_date))
        """,
    )
    assert rows == active
    late = scalar(
        db,
        "select count(*) from churn_scoring_set "
        "where features_max_event_at >= cast(snapshot_date as timestamp)",
    )
    assert late == 0


def test_nudge_outcomes_carry_the_churn_features_at_sent_at(built_project) -> None:
    db = built_project.db_path
    columns = """
        select column_name, data_type from information_schema.columns
        where table_schema = 'main' and table_name = ? order by ordinal_position
    """
    training = dict(query(db, columns, ["churn_training_set"]))
    outcomes = query(db, columns, ["nudge_outcomes"])
    names = [c for c, _ in outcomes]
    assert names[:10] == [
        "event_id", "user_id", "campaign_id", "sent_at", "action", "propensity", "title_id",
        "returned_7d", "cancelled_30d", "outcome_observed",
    ]  # fmt: skip
    features = outcomes[10:]
    assert len(features) == len(training) - 4  # not user_id, snapshot_date, max event, label
    assert all(training[name] == kind for name, kind in features)
    # Point in time: no view that ended at or after sent_at is counted in views_total.
    late = scalar(
        db,
        """
        select count(*) from nudge_outcomes as o
        where o.views_total <> (
            select count(*) from intermediate.int_views_enriched as v
            where v.user_id = o.user_id and v.ended_at < o.sent_at
        )
        """,
    )
    assert late == 0
