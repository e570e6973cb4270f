"""The recommendation sets the monitor keeps, and which periods it compares (tiny frames, fast)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from monitoring.checks import Skipped
from monitoring.history import RecsysHistory, made_on, recsys_periods, tracked_row

DAY = dt.date(2026, 5, 1)


def _recs(day: dt.date, version: str, rows: dict[str, list[str]] | None = None) -> pd.DataFrame:
    rows = rows or {"top_picks": ["u1", "u2", "u3"]}
    return pd.DataFrame(
        [
            {"user_id": u, "row_name": row, "rank": 1, "title_id": "t1", "snapshot_date": day,
             "model_version": version, "run_id": f"run-{version}"}
            for row, users in rows.items()
            for u in users
        ]
    )  # fmt: skip


def _watched(*firsts: tuple[str, str, dt.date]) -> pd.DataFrame:
    frame = pd.DataFrame(firsts, columns=["user_id", "title_id", "first_watched_at"])
    frame["first_watched_at"] = pd.to_datetime(frame["first_watched_at"])
    return frame


def test_previous_is_the_latest_set_made_before_the_cutoff(tmp_path: Path) -> None:
    history = RecsysHistory(tmp_path / "recsys")
    assert history.previous(DAY) is None  # nothing kept yet, folder absent
    for days, version in ((-20, "rec:v1"), (-10, "rec:v2"), (0, "rec:v3")):
        day = DAY + dt.timedelta(days=days)
        history.remember(_recs(day, version), day)
    (tmp_path / "recsys" / "notes.parquet").write_bytes(b"")  # not a kept set: ignored
    frame, made = history.previous(DAY)
    assert made == DAY - dt.timedelta(days=10)
    assert set(frame["model_version"]) == {"rec:v2"}
    assert history.previous(DAY - dt.timedelta(days=20)) is None


def test_a_set_is_kept_once_per_day_and_version(tmp_path: Path) -> None:
    history = RecsysHistory(tmp_path)
    first = history.remember(_recs(DAY, "rec:v1"), DAY)
    again = history.remember(_recs(DAY, "rec:v1", {"top_picks": ["u9"]}), DAY)
    assert first == again and first.name == "2026-05-01__rec_v1.parquet"
    assert list(pd.read_parquet(first)["user_id"]) == ["u1", "u2", "u3"]  # the first one stays
    assert history.remember(_recs(DAY, "rec:v2"), DAY) != first


def test_the_row_most_users_get_is_tracked() -> None:
    recs = _recs(DAY, "rec:v1", {"top_picks": ["u1", "u2", "u3"], "because": ["u1"]})
    assert set(tracked_row(recs)["row_name"]) == {"top_picks"}
    assert made_on(recs) == DAY
    assert made_on(recs.drop(columns="snapshot_date")) is None


def test_periods_pair_the_latest_set_with_the_one_it_replaced(tmp_path: Path) -> None:
    history = RecsysHistory(tmp_path)
    before = DAY - dt.timedelta(days=10)
    watched = _watched(
        ("u1", "t0", before - dt.timedelta(days=1)),  # known before both sets
        ("u1", "t1", before + dt.timedelta(days=2)),  # judges the reference set
        ("u2", "t1", DAY + dt.timedelta(days=3)),  # judges the current set
        ("u3", "t1", DAY + dt.timedelta(days=30)),  # after the current window
    )
    first = recsys_periods(_recs(before, "rec:v1"), watched, history, days=7)
    assert isinstance(first, Skipped) and "no earlier recommendations" in first.reason
    reference, current = recsys_periods(_recs(DAY, "rec:v2"), watched, history, days=7)
    assert reference.window["holdout"] == [str(before), str(DAY)]
    assert current.window["holdout"] == [str(DAY), str(DAY + dt.timedelta(days=7))]
    assert reference.window["model_version"] == "rec:v1"
    assert current.window["run_id"] == "run-rec:v2"
    assert list(reference.holdout["user_id"]) == ["u1"] and list(current.holdout["user_id"]) == [
        "u2"
    ]
    assert len(reference.train) == 1 and len(current.train) == 2


def test_no_first_watch_since_the_set_was_made_skips(tmp_path: Path) -> None:
    history = RecsysHistory(tmp_path)
    history.remember(_recs(DAY - dt.timedelta(days=5), "rec:v1"), DAY - dt.timedelta(days=5))
    watched = _watched(("u1", "t1", DAY - dt.timedelta(days=1)))
    skipped = recsys_periods(_recs(DAY, "rec:v2"), watched, history, days=7)
    assert isinstance(skipped, Skipped) and "nobody has started a title" in skipped.reason
