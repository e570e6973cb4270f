"""The leakage test's own test: break the churn cut-off on purpose and watch the build catch it.

The copy is built without the unit tests and without the data test
`int_churn_features_snapshotted_only_facts_before_the_cutoff`: the unit test on
int_churn_features_snapshotted pins the same boundary and the data test checks each row's latest
fact against its cut-off, so either would fail first, and dbt would then skip the marts and the
data tests after them. Here we want the marts built with the leak, so that the singular data test
`assert_churn_features_before_snapshot` (which re-derives the features independently) is what has
to catch it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dbtkit import LEAKAGE_TEST, copy_project, run_dbt

pytestmark = pytest.mark.slow

# The churn features (and their cut-off) live in one model read by churn_training_set,
# churn_scoring_set and nudge_outcomes, so a leak injected there reaches all three marts.
CHURN_SQL = Path("models/intermediate/int_churn_features_snapshotted.sql")
EVENTS_SQL = Path("models/intermediate/int_user_events.sql")
CUT_OFF = "and events.event_at < snapshots.snapshot_at  -- point-in-time cut-off"

LEAKS = {
    # the classic off-by-one-day: features may use the snapshot day itself
    "cut-off one day late": (
        CHURN_SQL,
        CUT_OFF,
        "and events.event_at < {{ dbt.dateadd('day', 1, 'snapshots.snapshot_at') }}",
    ),
    # no cut-off at all: the whole future feeds the features
    "no cut-off": (CHURN_SQL, CUT_OFF, ""),
    # a session counted when it starts: a session running across the snapshot leaks its watch
    # time (the singular test re-derives from int_views_enriched.ended_at, not int_user_events)
    "sessions known at start": (
        EVENTS_SQL,
        "        ended_at as event_at,",
        "        started_at as event_at,",
    ),
}


def _build_with(source: Path, raw_db: Path, tmp_path: Path) -> object:
    db_path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(raw_db, db_path)
    return run_dbt(
        [
            "build",
            "--select",
            "+churn_training_set",
            "--exclude",
            "test_type:unit",
            "int_churn_features_snapshotted_only_facts_before_the_cutoff",
            # only tests whose parents are all selected (not the relationships of other marts)
            "--indirect-selection",
            "cautious",
        ],
        project_dir=source,
        db_path=db_path,
        work_dir=tmp_path / "work",
    )


@pytest.mark.parametrize("leak", sorted(LEAKS))
def test_leakage_test_fails_on_leaky_churn_features(raw_warehouse, tmp_path, leak):
    relative, old, new = LEAKS[leak]
    project = copy_project(tmp_path / "dbt_project")
    sql_file = project / relative
    text = sql_file.read_text()
    assert text.count(old) == 1, f"injection point not found in {relative}: {old!r}"
    sql_file.write_text(text.replace(old, new))

    run = _build_with(project, raw_warehouse, tmp_path)

    assert run.status("model.tastemaker.churn_training_set") == "success", run.explain()
    assert run.status(LEAKAGE_TEST) == "fail", run.explain()
    assert run.returncode != 0


def test_leakage_test_passes_on_the_project_as_is(raw_warehouse, tmp_path):
    project = copy_project(tmp_path / "dbt_project")
    run = _build_with(project, raw_warehouse, tmp_path)
    assert run.ok, run.explain()
    assert run.status(LEAKAGE_TEST) == "pass"
