"""`dbt build` on a tiny generated world: everything passes and the marts hold what they promise."""

from __future__ import annotations

import math

import pytest
from dbtkit import LEAKAGE_TEST, MARTS, query, scalar

pytestmark = pytest.mark.slow


def test_build_passes_every_node(built_project):
    run = built_project.run
    assert run.ok, run.explain()
    kinds = {uid.split(".")[0] for uid in run.statuses}
    assert {"seed", "model", "test", "unit_test"} <= kinds
    assert sum(uid.startswith("unit_test.") for uid in run.statuses) >= 5


def test_leakage_test_ran_and_passed(built_project):
    assert built_project.run.status(LEAKAGE_TEST) == "pass"


@pytest.mark.parametrize("mart", MARTS)
def test_marts_are_tables_in_main_and_not_empty(built_project, mart):
    kind = scalar(
        built_project.db_path,
        "select table_type from information_schema.tables "
        "where table_schema = 'main' and table_name = ?",
        [mart],
    )
    assert kind == "BASE TABLE"
    assert scalar(built_project.db_path, f"select count(*) from main.{mart}") > 0


def test_user_features_one_row_per_user(built_project):
    db = built_project.db_path
    users = scalar(db, "select count(*) from raw.users")
    rows, distinct = query(db, "select count(*), count(distinct user_id) from user_features")[0]
    assert rows == distinct == users


def test_default_snapshot_is_day_after_last_view(built_project):
    db = built_project.db_path
    snapshot = scalar(db, "select distinct snapshot_date from user_features")
    last_local = scalar(db, "select max(cast(started_at_local as date)) from raw.views")
    assert (snapshot - last_local).days in (1, 2)  # 2 only if a session ends a UTC day later
    assert scalar(db, "select max(watch_hours) from user_features") > 0


def test_share_families_sum_to_one(built_project):
    db = built_project.db_path
    cols = [
        r[0]
        for r in query(
            db,
            "select column_name from information_schema.columns "
            "where table_name = 'user_features' order by ordinal_position",
        )
    ]
    for prefix, expected in [("genre_share_", 15), ("device_share_", 4), ("hour_share_", 5)]:
        family = [c for c in cols if c.startswith(prefix)]
        assert len(family) == expected, family
        totals = query(
            db,
            f"select {' + '.join(family)} from user_features where watch_hours > 0",
        )
        assert totals and all(math.isclose(t, 1.0, abs_tol=1e-9) for (t,) in totals)


def test_users_without_views_have_zeros_and_nulls(built_project):
    db = built_project.db_path
    rows = query(
        db,
        "select watch_hours, genre_share_drama, mean_completion, days_since_last_view "
        "from user_features where views_total = 0",
    )
    assert all(r == (0.0, 0.0, None, None) for r in rows)


def test_churn_training_set_has_both_labels_and_respects_windows(built_project):
    db = built_project.db_path
    labels = dict(query(db, "select churned_30d, count(*) from churn_training_set group by 1"))
    assert labels.get(0, 0) > 0 and labels.get(1, 0) > 0, labels
    # every snapshot leaves a full label window inside the observed period
    latest, observed_to = query(
        db,
        "select max(snapshot_date), (select observed_to from intermediate.int_snapshot_date) "
        "from churn_training_set",
    )[0]
    assert (observed_to - latest).days >= 30
    step = scalar(
        db,
        "select min(d) from (select snapshot_date - lag(snapshot_date) over "
        "(order by snapshot_date) as d from (select distinct snapshot_date "
        "from churn_training_set)) where d is not null",
    )
    assert step is None or step == 14


def test_churn_rows_only_for_subscribed_users(built_project):
    db = built_project.db_path
    bad = scalar(
        db,
        """
        select count(*) from churn_training_set as c
        where not exists (
            select 1 from intermediate.int_subscription_spells as s
            where s.user_id = c.user_id
              and s.started_at < cast(c.snapshot_date as timestamp)
              and (s.ended_at is null or s.ended_at >= cast(c.snapshot_date as timestamp))
        )
        """,
    )
    assert bad == 0


def test_interactions_cover_every_viewed_pair(built_project):
    db = built_project.db_path
    pairs = scalar(db, "select count(*) from (select distinct user_id, title_id from raw.views)")
    viewed = scalar(db, "select count(*) from user_title_interactions where views > 0")
    assert pairs == viewed
    assert scalar(db, "select min(confidence) from user_title_interactions") >= 1.0


def test_experiment_marts_reconcile_with_raw(built_project):
    db = built_project.db_path
    raw = query(db, "select count(*), count(*) filter (where clicked) from raw.exposures")[0]
    per_user = query(db, "select sum(exposures), sum(clicks) from experiment_user_exposures")[0]
    per_variant = query(db, "select sum(exposures), sum(clicks) from experiment_variant_metrics")[0]
    assert tuple(raw) == tuple(per_user) == tuple(per_variant)
