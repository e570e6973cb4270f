"""experiment_user_metrics and experiment_user_daily_metrics, re-derived independently from `raw`
on the tiny world: the experiment's span from its exposures, each user's post-period from the
first exposure to the span's end, a pre-period of the same length ending at the first exposure,
and the session definitions (trivial tap, abandonment) from the project vars. A window or a
definition that drifts in SQL shows up here."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from ml.experiments.catalog import METRIC_COLUMNS, PRE_SUFFIX

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2] / "dbt_project" / "dbt_project.yml"
KEYS = ["experiment_id", "variant", "user_id"]


def _frame(db, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(sql).df()


def _expected(db) -> pd.DataFrame:
    """Every user row's post- and pre-period metrics, from raw.exposures and raw.views."""
    project_vars = yaml.safe_load(PROJECT.read_text())["vars"]
    tap_s, abandon_below = (
        project_vars["min_session_seconds"],
        project_vars["abandon_below_completion"],
    )
    exposures = _frame(
        db, "select experiment_id, variant, user_id, shown_at, clicked from raw.exposures"
    )
    views = _frame(db, "select user_id, started_at, watch_seconds, duration_seconds from raw.views")
    views["play"] = views.watch_seconds >= tap_s
    views["abandon"] = views.play & (views.watch_seconds / views.duration_seconds < abandon_below)

    span = exposures.groupby("experiment_id").shown_at.agg(["min", "max"])
    ends = (span["max"].dt.floor("D") + pd.Timedelta(days=1)).rename("ends_at")
    first = exposures.groupby(["experiment_id", "user_id"]).shown_at.min().rename("first_at")
    rows = exposures[KEYS].drop_duplicates().join(first, on=["experiment_id", "user_id"])
    rows = rows.join(ends, on="experiment_id")
    rows["pre_at"] = rows.first_at - (rows.ends_at - rows.first_at)

    out = []
    for r in rows.itertuples(index=False):
        mine = exposures[
            (exposures.experiment_id == r.experiment_id) & (exposures.user_id == r.user_id)
        ]
        mine = mine[mine.variant == r.variant]
        others = exposures[
            (exposures.user_id == r.user_id) & (exposures.experiment_id != r.experiment_id)
        ]
        others = others[(others.shown_at >= r.pre_at) & (others.shown_at < r.first_at)]
        seen = views[views.user_id == r.user_id]
        post = seen[(seen.started_at >= r.first_at) & (seen.started_at < r.ends_at)]
        pre = seen[(seen.started_at >= r.pre_at) & (seen.started_at < r.first_at)]
        out.append(
            {
                **{k: getattr(r, k) for k in KEYS},
                "first_exposed_at": r.first_at,
                "pre_starts_at": r.pre_at,
                "exposures": len(mine),
                "clicks": int(mine.clicked.sum()),
                "plays": int(post.play.sum()),
                "watch_minutes": post.watch_seconds.sum() / 60,
                "abandons": int(post.abandon.sum()),
                "exposures_pre": len(others),
                "clicks_pre": int(others.clicked.sum()),
                "plays_pre": int(pre.play.sum()),
                "watch_minutes_pre": pre.watch_seconds.sum() / 60,
                "abandons_pre": int(pre.abandon.sum()),
            }
        )
    return pd.DataFrame(out).sort_values(KEYS).reset_index(drop=True)


def test_user_metrics_match_raw_exposures_and_views(built_project) -> None:
    db = built_project.db_path
    mart = _frame(db, "select * from experiment_user_metrics order by all").reset_index(drop=True)
    expected = _expected(db)
    assert len(mart) == len(expected) > 200
    assert mart.experiment_id.nunique() >= 2
    # the planted world has activity in both periods, so the comparison is not of zeros
    assert (mart.plays > 0).mean() > 0.5 and (mart.plays_pre > 0).mean() > 0.3
    assert (mart.exposures_pre > 0).any() and (mart.clicks > 0).any()
    pd.testing.assert_frame_equal(
        mart[expected.columns], expected, check_dtype=False, check_exact=False, rtol=1e-9
    )


def test_pre_period_ends_at_the_first_exposure_and_matches_the_post_period(built_project) -> None:
    mart = _frame(built_project.db_path, "select * from experiment_user_metrics")
    first_any = mart.groupby(["experiment_id", "user_id"]).first_exposed_at.transform("min")
    assert (mart.first_exposed_at == first_any).all()
    assert (mart.pre_starts_at < mart.first_exposed_at).all()
    post = (mart.experiment_ends_at - mart.first_exposed_at).dt.total_seconds()
    pre = (mart.first_exposed_at - mart.pre_starts_at).dt.total_seconds()
    assert (pre == post).all()
    assert ((post / 86400 - mart.post_days).abs() < 1e-9).all()
    entry = (
        mart.first_exposed_at.dt.normalize() - pd.to_datetime(mart.experiment_started_on)
    ).dt.days
    assert (entry == mart.entry_day).all() and (mart.entry_day == 0).any()


def test_daily_metrics_cumulate_to_the_user_totals(built_project) -> None:
    db = built_project.db_path
    mart = _frame(db, "select * from experiment_user_metrics").set_index(KEYS).sort_index()
    daily = _frame(db, "select * from experiment_user_daily_metrics")
    sums = daily.groupby(KEYS)[list(METRIC_COLUMNS)].sum().sort_index()
    assert sums.index.equals(mart.index)
    pd.testing.assert_frame_equal(
        sums, mart[list(METRIC_COLUMNS)], check_dtype=False, check_exact=False, rtol=1e-9
    )
    first_day = daily.groupby(KEYS).look_day.min().sort_index()
    assert (first_day >= mart.entry_day).all()
    assert daily.look_day.nunique() > 30


def test_the_metric_vocabulary_is_the_marts(built_project) -> None:
    db = built_project.db_path
    user_cols = set(_frame(db, "select * from experiment_user_metrics limit 0").columns)
    daily_cols = set(_frame(db, "select * from experiment_user_daily_metrics limit 0").columns)
    assert {*METRIC_COLUMNS, *(m + PRE_SUFFIX for m in METRIC_COLUMNS)} <= user_cols
    assert set(METRIC_COLUMNS) <= daily_cols
    measured = {c for c in user_cols if c.endswith(PRE_SUFFIX)}
    assert measured == {m + PRE_SUFFIX for m in METRIC_COLUMNS}
