"""The windowed drift spec compares no column twice.

Inside one window of `user_feature_windows` (28 days by default) the `_28d` columns equal their
whole-window twins (`watch_hours_28d` = `watch_hours`, `sessions_28d` = `views_total`,
`active_days_28d` = `active_days_total`). Compared side by side they would count one piece of
evidence twice toward the drifted share. Checked on the rows the monitor compares, in the tiny
world's warehouse built by the real dbt project.
"""

from __future__ import annotations

import itertools

import duckdb
import numpy as np
import pandas as pd
import pytest

from monitoring.drift import user_features_spec
from warehouse.monitoring import ACTIVE_FILTER, WINDOWS_MART


def _same(a: pd.Series, b: pd.Series) -> bool:
    """Equal row for row (nulls in the same rows); numbers compared as floats."""
    if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
        x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
        return bool(np.array_equal(np.isnan(x), np.isnan(y)) and np.allclose(x, y, equal_nan=True))
    return bool(a.astype(str).reset_index(drop=True).equals(b.astype(str).reset_index(drop=True)))


def _windows(built) -> pd.DataFrame:
    con = duckdb.connect(str(built.db_path), read_only=True)
    try:
        return con.execute(f"select * from {WINDOWS_MART} where {ACTIVE_FILTER}").df()
    finally:
        con.close()


def test_windowed_spec_has_no_column_equal_to_another_within_a_window(tiny_warehouse) -> None:
    frame = _windows(tiny_warehouse)
    spec = user_features_spec(frame.columns, equal_windows=True)
    assert {"watch_hours", "views_total", "active_days_total"} <= set(spec.columns)
    for name, rows in frame.groupby("window_name"):
        assert len(rows) > 50, name
        equal = [
            (a, b) for a, b in itertools.combinations(spec.columns, 2) if _same(rows[a], rows[b])
        ]
        assert not equal, f"{name} window: spec compares equal columns {equal}"


def test_the_dropped_columns_are_the_duplicates_and_the_mart_keeps_them(tiny_warehouse) -> None:
    """What is dropped is exactly what equals another column in a 28-day window; the mart itself
    still has it (the cumulative user_features needs the 28-day columns)."""
    frame = _windows(tiny_warehouse)
    windowed = set(user_features_spec(frame.columns, equal_windows=True).columns)
    dropped = {c for c in frame.columns if c.endswith("_28d")} - windowed
    assert dropped == {"watch_hours_28d", "sessions_28d", "active_days_28d"}
    twins = {"watch_hours_28d": "watch_hours", "sessions_28d": "views_total"}
    twins["active_days_28d"] = "active_days_total"
    for _, rows in frame.groupby("window_name"):
        for col in dropped:
            assert _same(rows[col], rows[twins[col]]), col
    cumulative = user_features_spec(frame.columns)
    assert dropped <= set(cumulative.columns)


@pytest.mark.parametrize("equal_windows", [False, True])
def test_a_28d_column_without_its_twin_is_kept(equal_windows: bool) -> None:
    spec = user_features_spec(
        ["user_id", "watch_hours_28d", "genre_share_drama"], equal_windows=equal_windows
    )
    assert "watch_hours_28d" in spec.numerical
