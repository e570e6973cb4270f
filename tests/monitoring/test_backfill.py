"""Drift over time (`tastemaker drift --backfill`): the plan of windows per day, the statistics
without an Evidently Report equal the report's, the daily rows and chart, the mail's history
part, and on the tiny world: one dbt run for every day, the last day equal to the daily
monitor's check, re-runs without duplicates, and one-line errors for bad --days."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitoring.backfill import (
    BackfillInput,
    backfill_text,
    daily_rows,
    history_chart_png,
    run_backfill,
)
from monitoring.config import DriftThresholds, SmtpConfig
from monitoring.drift import DriftSpec, mail_content, run_drift
from monitoring.mail import build_message
from warehouse.monitoring import (
    BackfillRangeError,
    ReferencePeriod,
    backfill_plan,
    check_backfill_range,
)

D = dt.date
SPEC = DriftSpec(
    name="user_features",
    numerical=("genre_share_a", "hours"),
    categorical=("plan",),
)


def _frame(n: int, rng: np.random.Generator, *, a: float = 0.0) -> pd.DataFrame:
    share = np.clip(rng.normal(0.3 + a, 0.1, n), 0, 1)
    return pd.DataFrame(
        {
            "genre_share_a": share,
            "hours": rng.gamma(2.0, 3.0, n),
            "plan": rng.choice(["basic", "standard", "premium"], n, p=[0.5, 0.3, 0.2]),
        }
    )


# --- the plan ---------------------------------------------------------------------------------


def test_adjacent_plan_compares_each_day_with_the_window_before_it() -> None:
    plan = backfill_plan(ReferencePeriod.adjacent(), D(2026, 6, 3), 3, 28)
    assert [d.day for d in plan] == [D(2026, 6, 1), D(2026, 6, 2), D(2026, 6, 3)]
    assert [d.reference_ends for d in plan] == [
        (D(2026, 5, 4),),
        (D(2026, 5, 5),),
        (D(2026, 5, 6),),
    ]
    reference, current = plan[-1].windows(28)
    assert (current["start"], current["end"]) == ("2026-05-06", "2026-06-03")
    assert (reference["start"], reference["end"]) == ("2026-04-08", "2026-05-06")


def test_training_plan_cuts_the_reference_where_each_day_starts() -> None:
    """The daily monitor's rule (`fit_reference`) per day: the training period ends where that
    day's current window starts, in whole windows; too little left: the adjacent window."""
    training = ReferencePeriod("training", D(2026, 1, 1), D(2026, 6, 3), "churn:v1")
    plan = backfill_plan(training, D(2026, 6, 3), 60, 28)
    last = plan[-1]
    assert last.reference.kind == "training"
    assert max(last.reference_ends) == D(2026, 5, 6)  # the current window's start
    assert len(last.reference_ends) == (D(2026, 5, 6) - D(2026, 1, 1)).days // 28
    reference, _ = last.windows(28)
    assert reference["windows"] == len(last.reference_ends) and reference["kind"] == "training"
    early = backfill_plan(training, D(2026, 2, 20), 1, 28)[0]
    assert early.reference.kind == "adjacent" and early.reference.notes


def test_range_errors_name_how_many_days_fit() -> None:
    adjacent = ReferencePeriod.adjacent()
    with pytest.raises(BackfillRangeError, match="at least 1, got 0"):
        check_backfill_range(adjacent, D(2026, 6, 3), 0, 28, D(2026, 1, 1))
    # 2026-01-01 + 56 days of windows: the first day that fits ends 2026-02-26
    fits = (D(2026, 6, 3) - D(2026, 2, 26)).days + 1
    assert len(check_backfill_range(adjacent, D(2026, 6, 3), fits, 28, D(2026, 1, 1))) == fits
    with pytest.raises(BackfillRangeError, match=f"at most {fits} day"):
        check_backfill_range(adjacent, D(2026, 6, 3), fits + 1, 28, D(2026, 1, 1))


# --- statistics, rows, chart, mail ------------------------------------------------------------


def test_direct_statistics_equal_the_evidently_report(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ref, cur = _frame(400, rng), _frame(300, rng, a=0.08)
    thresholds = DriftThresholds(permutations=10)
    report = run_drift(ref, cur, SPEC, thresholds, tmp_path, write_html=False)
    direct = run_drift(
        ref, cur, SPEC, thresholds, tmp_path, write_html=False, evidently_report=False
    )
    assert [c.statistic for c in direct.columns] == pytest.approx(
        [c.statistic for c in report.columns], rel=1e-12
    )
    assert direct.alerts == report.alerts and direct.alerts  # the planted share alerts
    assert direct.html_path is None


def _history(tmp_path: Path) -> pd.DataFrame:
    """Five days; the share moves 8 points from the fourth day on."""
    rng = np.random.default_rng(5)
    ref = _frame(400, rng)
    days = [D(2026, 5, 1) + dt.timedelta(days=i) for i in range(5)]
    inputs = [
        BackfillInput(
            day,
            ref,
            _frame(300, rng, a=0.08 if i >= 3 else 0.0),
            {"start": "2026-03-06", "end": "2026-04-03", "kind": "adjacent"},
            {"start": (day - dt.timedelta(days=28)).isoformat(), "end": day.isoformat()},
        )
        for i, day in enumerate(days)
    ]
    summaries = run_backfill(
        inputs,
        lambda _: SPEC,
        DriftThresholds(permutations=20),
        tmp_path,
        key_columns=["hours"],
        lineage={"run_id": "r1"},
    )
    return daily_rows(summaries, window_days=28)


def test_daily_rows_chart_and_text(tmp_path: Path) -> None:
    rows = _history(tmp_path)
    assert len(rows) == 5 * len(SPEC.columns)
    per_day = rows.groupby("day")["day_alerts"].first()
    assert per_day.isna().tolist() == [True, True, True, False, False]
    alerted = rows[rows["alerted"]]
    assert set(alerted["column_name"]) == {"genre_share_a"}
    assert set(alerted["alert_rule"]) == {"large_drift"}
    assert rows["run_id"].eq("r1").all()
    # each day's JSON summary is where the daily monitor would have put it that day
    assert Path(rows["report_json"].iloc[-1]).parent.name == "2026-05-05"
    assert backfill_text(rows).startswith("5 days 2026-05-01 to 2026-05-05: alerts on 2 day(s)")
    assert "first 2026-05-04 (large_drift, dataset_share: genre_share_a)" in backfill_text(rows)
    png = history_chart_png(rows, "test")
    assert png is not None and png.startswith(b"\x89PNG")


def test_mail_carries_the_drift_over_time(tmp_path: Path) -> None:
    rows = _history(tmp_path)
    rng = np.random.default_rng(9)
    summary = run_drift(
        _frame(400, rng), _frame(300, rng), SPEC, DriftThresholds(permutations=5), tmp_path
    )
    with_history = build_message(
        mail_content(summary, history=rows), SmtpConfig(), max_attachment_bytes=0
    )
    without = build_message(mail_content(summary), SmtpConfig(), max_attachment_bytes=0)
    parsed = email.message_from_bytes(bytes(with_history), policy=email.policy.default)
    names = [p.get_filename() for p in parsed.walk()]
    assert "drift_daily.png" in names and "drift.png" in names
    text = parsed.get_body(("plain",)).get_content()
    assert "Drift over time: 5 days 2026-05-01 to 2026-05-05: alerts on 2 day(s)" in text
    assert "drift_daily.png" not in [p.get_filename() for p in without.walk()]


def test_report_html_carries_the_drift_over_time(tmp_path: Path) -> None:
    from monitoring.backfill import embed_history

    rows = _history(tmp_path)
    rng = np.random.default_rng(9)
    summary = run_drift(
        _frame(400, rng), _frame(300, rng), SPEC, DriftThresholds(permutations=5), tmp_path
    )
    path = Path(summary.html_path)
    assert embed_history(path, rows, summary.dataset)
    text = path.read_text(encoding="utf-8")
    banner, history = text.find("Reference: "), text.find("<b>Drift over time</b>")
    assert 0 < banner < history  # under the verdict banner, at the top
    assert "data:image/png;base64,iVBOR" in text and "alerts on 2 day(s)" in text


# --- on the tiny world's warehouse (slow: dbt) ------------------------------------------------


def test_backfill_on_the_tiny_world(tiny_warehouse, tmp_path: Path) -> None:
    """One scratch dbt run for every day; the last day's statistics are the daily monitor's on
    the same windows; a re-run of overlapping days replaces them (one row per day and column)."""
    import duckdb

    from flows.steps.monitor import backfill_chart_path, backfill_step, drift_step
    from monitoring.config import DriftConfig
    from tests.homes import clone_home
    from warehouse.monitoring import load_feature_windows
    from warehouse.settings import Settings

    home = clone_home(tiny_warehouse, tmp_path / "home")
    settings = Settings(home=home, drift=DriftConfig(permutations=10, reference="adjacent"))
    rows, notes = backfill_step(settings, days=4, run_id="bf-1")
    assert any("4 day(s)" in n and "one scratch dbt run" in n for n in notes)
    days = sorted(rows["day"].unique())
    assert len(days) == 4 and (days[-1] - days[0]).days == 3
    assert backfill_chart_path(settings).is_file()

    daily = drift_step(settings, load_feature_windows(settings, current_end=days[-1]))
    assert daily.current_window["end"] == days[-1].isoformat()
    last = rows[rows["day"] == days[-1]].set_index("column_name")
    assert sorted(last.index) == sorted(c.column for c in daily.columns)
    for c in daily.columns:
        assert last.loc[c.column, "statistic"] == pytest.approx(c.statistic, rel=1e-9), c.column
        assert last.loc[c.column, "effect"] == pytest.approx(c.effect, rel=1e-9), c.column
    assert int(last["current_rows"].iloc[0]) == daily.current_rows
    assert int(last["reference_rows"].iloc[0]) == daily.reference_rows

    backfill_step(settings, days=2, run_id="bf-2")  # the last two days again
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        counts = con.execute(
            "select count(*), count(distinct (day, column_name)), "
            "count(*) filter (where run_id = 'bf-2') from monitoring.drift_daily"
        ).fetchone()
    finally:
        con.close()
    per_day = len(last)
    assert counts == (4 * per_day, 4 * per_day, 2 * per_day)


def test_backfill_bad_days_are_one_line_errors(tiny_warehouse, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from flows.cli import app
    from tests.homes import clone_home

    home = clone_home(tiny_warehouse, tmp_path / "home")
    for days, message in (("0", "--days must be at least 1, got 0"), ("500", "at most ")):
        result = CliRunner().invoke(
            app, ["--home", str(home), "drift", "--backfill", "--days", days]
        )
        assert result.exit_code != 0, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), result.output
        assert message in lines[0], lines[0]
        assert "Traceback" not in result.output


def test_a_quiet_first_back_fill_leaves_room_for_later_alerts(tmp_path: Path) -> None:
    """The first back-fill of a home creates monitoring.drift_daily from its rows: with no
    alert anywhere its rule columns are all null, and must still be text for the next run."""
    from warehouse.monitoring import load_drift_daily, save_drift_daily
    from warehouse.settings import Settings

    rows = _history(tmp_path / "reports")
    quiet = rows[rows["day"] < D(2026, 5, 4)]
    assert quiet["alert_rule"].isna().all() and quiet["day_alerts"].isna().all()
    settings = Settings(home=tmp_path / "home")
    save_drift_daily(settings, quiet)
    save_drift_daily(settings, rows)  # the alert days land beside them
    stored = load_drift_daily(settings, window_days=28)
    assert len(stored) == len(rows)
    assert set(stored["alert_rule"].dropna()) == {"large_drift"}
    assert stored["day"].tolist() == sorted(stored["day"].tolist())
