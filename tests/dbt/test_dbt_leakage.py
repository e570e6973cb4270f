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
from dbtkit import DBT_PROJECT_DIR, LEAKAGE_TEST, copy_project

from warehouse.dbtrun import DbtSummary, run_dbt
from warehouse.settings import Settings

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


def _build_with(project: Path, raw_db: Path, tmp_path: Path) -> DbtSummary:
    """The churn mart and its tests, built by the platform's own dbt runner from `project` on a
    copy of the raw warehouse."""
    settings = Settings(home=tmp_path / "home", dbt_project_dir=project)
    settings.home_dir.mkdir(parents=True)
    shutil.copyfile(raw_db, settings.warehouse_path)
    return run_dbt(
        settings,
        "build",
        select="+churn_training_set",
        extra_args=[
            "--exclude",
            "test_type:unit",
            "int_churn_features_snapshotted_only_facts_before_the_cutoff",
            # only tests whose parents are all selected (not the relationships of other marts)
            "--indirect-selection",
            "cautious",
        ],
    )


def _status(run: DbtSummary, unique_id: str) -> str | None:
    return next((n.status for n in run.nodes if n.unique_id == unique_id), None)


def _explain(run: DbtSummary) -> str:
    return "\n".join(f"{n.unique_id}: {n.status}: {n.message}" for n in run.failures[:40])


@pytest.mark.parametrize("leak", sorted(LEAKS))
def test_leakage_test_fails_on_leaky_churn_features(raw_warehouse, tmp_path, leak):
    relative, old, new = LEAKS[leak]
    project = copy_project(tmp_path / "dbt_project")
    sql_file = project / relative
    text = sql_file.read_text()
    assert text.count(old) == 1, f"injection point not found in {relative}: {old!r}"
    sql_file.write_text(text.replace(old, new))

    run = _build_with(project, raw_warehouse, tmp_path)

    assert _status(run, "model.tastemaker.churn_training_set") == "success", _explain(run)
    assert _status(run, LEAKAGE_TEST) == "fail", _explain(run)
    assert not run.success


def test_leakage_test_passes_on_the_project_as_is(raw_warehouse, tmp_path):
    run = _build_with(DBT_PROJECT_DIR, raw_warehouse, tmp_path)
    assert run.success and not run.failed, _explain(run)
    assert _status(run, LEAKAGE_TEST) == "pass"
