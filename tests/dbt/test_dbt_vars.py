"""Project vars and the profile: an explicit as-of date, a bad one, and a missing warehouse path."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from dbtkit import query, run_dbt, scalar

from warehouse import dbtrun
from warehouse.settings import Settings

pytestmark = pytest.mark.slow


def test_explicit_snapshot_date_cuts_every_feature_mart(raw_warehouse, tmp_path):
    settings = Settings(home=tmp_path / "home")
    settings.home_dir.mkdir(parents=True)
    db_path = settings.warehouse_path
    shutil.copyfile(raw_warehouse, db_path)
    first = scalar(db_path, "select min(cast(started_at_local as date)) from raw.views")
    as_of = first + dt.timedelta(days=50)
    run = dbtrun.run_dbt(
        settings,
        "build",
        extra_args=["--exclude", "test_type:unit"],
        dbt_vars={"snapshot_date": as_of.isoformat()},
    )
    assert run.success and not run.failed, [(n.unique_id, n.message) for n in run.failures]
    assert query(db_path, "select distinct snapshot_date from user_features") == [(as_of,)]
    assert query(db_path, "select distinct snapshot_date from title_features") == [(as_of,)]
    expected_hours = scalar(
        db_path,
        "select sum(watch_seconds) / 3600.0 from raw.views "
        "where started_at + to_seconds(watch_seconds) < cast(? as timestamp)",
        [as_of],
    )
    assert scalar(db_path, "select sum(watch_hours) from user_features") == pytest.approx(
        expected_hours
    )
    latest_pair = scalar(db_path, "select max(last_watched_at) from user_title_interactions")
    assert latest_pair < dt.datetime.combine(as_of, dt.time())
    # labels never look past the as-of date
    last_snapshot = scalar(db_path, "select max(snapshot_date) from churn_training_set")
    assert last_snapshot is None or last_snapshot + dt.timedelta(days=30) < as_of


def test_malformed_snapshot_date_is_a_clear_error(raw_warehouse, tmp_path):
    db_path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(raw_warehouse, db_path)
    run = run_dbt(
        ["compile", "--select", "int_snapshot_date"],
        db_path=db_path,
        work_dir=tmp_path / "work",
        dbt_vars={"snapshot_date": "March 3rd"},
    )
    assert run.returncode != 0
    assert "snapshot_date must be an ISO date" in run.output


def test_profile_requires_the_warehouse_path(tmp_path):
    run = run_dbt(["parse"], db_path=None, work_dir=tmp_path / "work")
    assert run.returncode != 0
    assert "TASTEMAKER_DUCKDB_PATH" in run.output
