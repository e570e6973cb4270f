"""The dbt mart `user_feature_windows` and how the monitor flow reads it.

Checked against the tiny world's warehouse (built by the real dbt project): the default windows
(two adjacent 28-day windows ending at the marts' snapshot date), watch time per window against
the views themselves, the shared feature model's equivalence with `user_features` when a window
covers all history, other windows rebuilt by dbt on a scratch copy, and a bad var named in the
error.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from flows.steps.monitor import drift_step
from monitoring.config import DriftConfig
from tests.homes import clone_home
from warehouse.dbtrun import run_dbt
from warehouse.monitoring import ACTIVE_FILTER, WINDOWS_MART, load_feature_windows
from warehouse.settings import Settings


def _clone(built, home: Path) -> Settings:
    clone_home(built, home)
    return Settings(home=home, drift=DriftConfig(permutations=10))


def _ro(built) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(built.db_path), read_only=True)


def test_default_build_holds_two_adjacent_28_day_windows(tiny_warehouse) -> None:
    con = _ro(tiny_warehouse)
    try:
        bounds = dict(
            (name, (start, end))
            for name, start, end in con.execute(
                f"select distinct window_name, window_start, window_end from {WINDOWS_MART}"
            ).fetchall()
        )
        (snapshot,) = con.execute("select snapshot_date from user_features limit 1").fetchone()
        users = con.execute("select count(*) from user_features").fetchone()[0]
        per_window = dict(
            con.execute(
                f"select window_name, count(*) from {WINDOWS_MART} group by window_name"
            ).fetchall()
        )
        # watch hours per window, recomputed from the views themselves
        for name, (start, end) in bounds.items():
            mart, direct = con.execute(
                f"select (select sum(watch_hours) from {WINDOWS_MART} where window_name = ?), "
                "(select sum(watch_seconds) / 3600.0 from intermediate.int_views_enriched "
                " where ended_at >= cast(? as timestamp) and ended_at < cast(? as timestamp))",
                [name, start, end],
            ).fetchone()
            assert mart == pytest.approx(direct, rel=1e-9), name
    finally:
        con.close()
    assert set(bounds) == {"reference", "current"}
    assert bounds["current"][1] == snapshot
    assert bounds["current"][0] == snapshot - dt.timedelta(days=28)
    assert bounds["reference"] == (snapshot - dt.timedelta(days=56), bounds["current"][0])
    assert per_window["current"] == users  # everyone who signed up before the end has a row
    assert per_window["reference"] <= users


def test_default_windows_are_read_without_a_dbt_run(tiny_warehouse, tmp_path: Path) -> None:
    settings = _clone(tiny_warehouse, tmp_path / "home")
    windows = load_feature_windows(settings)
    assert windows.source == WINDOWS_MART and windows.windowed and not windows.notes
    assert not (settings.home_dir / "monitoring" / "scratch").exists()
    assert windows.reference_window["end"] == windows.current_window["start"]
    assert (windows.current["watch_hours"] > 0).all()
    assert (windows.reference["watch_hours"] > 0).all()
    summary = drift_step(settings, windows, run_id="r")
    names = {c.column for c in summary.columns}
    assert {"watch_hours", "views_total", "genre_share_drama", "plan"} <= names
    assert not names & {"window_name", "window_start", "window_end", "user_id", "snapshot_date"}
    assert summary.current_window["start"] == windows.current_window["start"]


@pytest.mark.slow
def test_other_windows_are_rebuilt_by_dbt_on_a_scratch_copy(tiny_warehouse, tmp_path: Path) -> None:
    """A window covering all history reproduces user_features exactly (one feature model holds the
    logic), and the shared mart is left as the platform built it."""
    settings = _clone(tiny_warehouse, tmp_path / "home")
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    before = con.execute(f"select count(*), max(window_end) from {WINDOWS_MART}").fetchone()
    cumulative = con.execute(
        f"select * from user_features where {ACTIVE_FILTER} order by user_id"
    ).df()
    con.close()
    end = before[1]
    windows = load_feature_windows(settings, window_days=1000, current_end=end)
    assert windows.source.startswith(WINDOWS_MART) and "scratch" in windows.source
    assert "drift_window_days" in windows.notes[0]
    assert windows.current_window["start"] == (end - dt.timedelta(days=1000)).isoformat()
    assert windows.current_window["end"] == end.isoformat()
    assert windows.reference.empty  # nobody watched 1000-2000 days ago
    current = windows.current.drop(columns=["window_name", "window_start", "window_end"])
    pd.testing.assert_frame_equal(current.sort_values("user_id").reset_index(drop=True), cumulative)
    # the scratch copy is gone and the warehouse's mart is untouched
    assert not (settings.home_dir / "monitoring" / "scratch" / "warehouse.duckdb").exists()
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    assert con.execute(f"select count(*), max(window_end) from {WINDOWS_MART}").fetchone() == before
    con.close()


@pytest.mark.slow
def test_a_bad_window_var_is_named_in_the_error(tiny_warehouse, tmp_path: Path) -> None:
    settings = _clone(tiny_warehouse, tmp_path / "home")
    for bad, pattern in (
        ({"drift_window_days": "four"}, r"var drift_window_days must be .* got 'four'"),
        ({"drift_current_end": "31/12/2026"}, r"var drift_current_end must be .* got '31/12/2026'"),
    ):
        with pytest.raises(ValueError, match=pattern):
            run_dbt(settings, "compile", select=WINDOWS_MART, dbt_vars=bad)
