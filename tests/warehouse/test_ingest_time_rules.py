"""Plausibility in time: each rule quarantines a planted row with its reason while the good row
beside it loads; the settings move the rules; a re-run changes nothing."""

# ruff: noqa: E501  (tables of cases read best one case a line)

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from ingest_helpers import (
    quarantine,
    query,
    rating,
    subscription,
    title,
    user,
    view,
    write_csv,
    write_dims,
    write_jsonl,
)

from warehouse.ingest import ingest_path
from warehouse.settings import Settings
from warehouse.validate import TimeRules

# Every test here reads its warehouse back several times: keep it open (see the fixture).
pytestmark = pytest.mark.usefixtures("warehouse_kept_open")

RULES = Settings().ingest


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


def _reasons(db: Path) -> list[str]:
    return [r[3] for r in quarantine(db)]


def _views(db: Path) -> list[str]:
    return [r[0] for r in query(db, "select event_id from raw.views order by event_id")]


def test_the_defaults_come_from_settings() -> None:
    assert TimeRules(24.0, date(2000, 1, 1), 300) == RULES


# (id, bad view overrides, reason fragment)
VIEW_CASES = [
    ("year-2500", {"started_at": "2500-01-01T20:00:00Z"}, "is in the future: after the ingest time"),
    ("epoch", {"started_at": "1970-01-01T00:00:00Z"}, "before the earliest plausible date 2000-01-01"),
    ("before-release", {"title_id": "t2", "started_at": "2026-03-31T23:00:00-05:00"}, "before the title's release_date 2026-04-01"),
    ("before-signup", {"user_id": "u2", "started_at": "2026-02-27T22:00:00-03:00"}, "before the user's signup_date 2026-02-28"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "over", "reason"), VIEW_CASES, ids=[c[0] for c in VIEW_CASES])
def test_an_implausible_view_is_quarantined_and_the_good_one_loads(
    tmp_path: Path, case: str, over: dict, reason: str
) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_csv(
        landing / "titles" / "titles.csv", [title("t1"), title("t2", release_date="2026-04-01")]
    )
    write_csv(landing / "users" / "users.csv", [user("u1"), user("u2", signup_date="2026-02-28")])
    write_jsonl(landing / "views" / "d.jsonl", [view("good"), view("bad", **over)])
    report = ingest_path(db, landing, rules=RULES)
    assert report.tables["views"].loaded == 1
    assert _views(db) == ["good"]
    (got,) = _reasons(db)
    assert reason in got
    # a real fault: it waits for nothing
    assert query(db, "select waiting_for from raw.quarantine") == [(None,)]


def test_the_local_calendar_day_decides_release_and_signup(tmp_path: Path) -> None:
    """23:30 on the eve in New York is already the release day in UTC: still before it."""
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_csv(landing / "titles" / "titles.csv", [title("t1", release_date="2026-04-01")])
    write_csv(landing / "users" / "users.csv", [user("u1")])
    rows = [
        view("eve", started_at="2026-03-31T23:30:00-05:00"),  # 04:30Z on the 1st
        view("day", started_at="2026-04-01T00:30:00+09:00"),  # 15:30Z on March 31
    ]
    write_jsonl(landing / "views" / "d.jsonl", rows)
    ingest_path(db, landing, rules=RULES)
    assert _views(db) == ["day"]


def test_the_future_tolerance_is_a_setting(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    write_dims(landing)
    soon = _iso(datetime.utcnow() + timedelta(hours=2))
    write_jsonl(landing / "views" / "d.jsonl", [view("soon", started_at=soon)])
    strict = TimeRules(future_tolerance_hours=1, earliest_event_date=date(2000, 1, 1),
                       session_overlap_tolerance_s=300)  # fmt: skip
    ingest_path(tmp_path / "strict.duckdb", landing, rules=strict)
    assert _views(tmp_path / "strict.duckdb") == []
    assert (
        "plus 1 h (setting ingest.future_tolerance_hours)"
        in _reasons(tmp_path / "strict.duckdb")[0]
    )
    ingest_path(tmp_path / "default.duckdb", landing, rules=RULES)
    assert _views(tmp_path / "default.duckdb") == ["soon"]


def test_the_earliest_date_is_a_setting_and_holds_signups_too(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    write_csv(landing / "users" / "users.csv", [user("u1", signup_date="2009-05-01"), user("u2")])
    later = TimeRules(24, date(2010, 1, 1), 300)
    ingest_path(tmp_path / "w.duckdb", landing, rules=later)
    assert query(tmp_path / "w.duckdb", "select user_id from raw.users") == [("u2",)]
    assert (
        "signup_date '2009-05-01' is before the earliest plausible date 2010-01-01"
        in (_reasons(tmp_path / "w.duckdb")[0])
    )


def test_a_signup_date_in_the_future_is_quarantined(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    write_csv(landing / "users" / "users.csv", [user("u1", signup_date="2999-01-01"), user("u2")])
    ingest_path(tmp_path / "w.duckdb", landing, rules=RULES)
    assert query(tmp_path / "w.duckdb", "select user_id from raw.users") == [("u2",)]
    assert "signup_date '2999-01-01' is in the future" in _reasons(tmp_path / "w.duckdb")[0]


def test_a_rating_before_the_user_first_played_the_title(tmp_path: Path) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    # views land in the same batch as the ratings: they are loaded first
    write_jsonl(landing / "views" / "d.jsonl", [view("v1", started_at="2026-03-10T20:00:00Z")])
    rows = [
        rating("u1", title_id="t1", rated_at="2026-03-10T21:00:00Z"),  # after playing: loads
        rating("u1", title_id="t1", rated_at="2026-03-09T21:00:00Z"),  # before: quarantined
        rating("u2", title_id="t2", rated_at="2026-03-09T21:00:00Z"),  # no view known: loads
    ]
    write_csv(landing / "ratings" / "r.csv", rows)
    report = ingest_path(db, landing, rules=RULES)
    assert (report.tables["ratings"].loaded, report.tables["ratings"].quarantined) == (2, 1)
    (got,) = _reasons(db)
    assert "rated_at 2026-03-09 21:00:00 UTC is before the user first played the title" in got


SUBSCRIPTION_CASES = [
    ("cancel-first", [("cancel", "2026-02-01T10:00:00Z")], "cancel at 2026-02-01 10:00:00 UTC is out of order: no signup before it"),
    ("second-signup", [("signup", "2026-01-01T09:00:00Z"), ("signup", "2026-02-01T10:00:00Z")], "signup at 2026-02-01 10:00:00 UTC is out of order: the user has earlier"),
    ("reactivate-active", [("signup", "2026-01-01T09:00:00Z"), ("reactivate", "2026-02-01T10:00:00Z")], "reactivate at 2026-02-01 10:00:00 UTC is out of order: it follows signup"),
    ("double-cancel", [("signup", "2026-01-01T09:00:00Z"), ("cancel", "2026-02-01T10:00:00Z"), ("cancel", "2026-02-03T10:00:00Z")], "cancel at 2026-02-03 10:00:00 UTC is out of order: it follows cancel"),
    ("change-cancelled", [("signup", "2026-01-01T09:00:00Z"), ("cancel", "2026-02-01T10:00:00Z"), ("plan_change", "2026-02-03T10:00:00Z")], "plan_change at 2026-02-03 10:00:00 UTC is out of order: it follows cancel"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "events", "reason"), SUBSCRIPTION_CASES, ids=[c[0] for c in SUBSCRIPTION_CASES]
)
def test_subscription_events_out_of_order_are_quarantined(
    tmp_path: Path, case: str, events: list[tuple[str, str]], reason: str
) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    good = [
        subscription("u2", event="signup", occurred_at="2026-01-01T09:00:00Z"),
        subscription("u2", event="plan_change", occurred_at="2026-01-10T09:00:00Z"),
        subscription("u2", event="cancel", occurred_at="2026-02-01T09:00:00Z"),
        subscription("u2", event="reactivate", occurred_at="2026-03-01T09:00:00Z"),
    ]
    bad = [subscription("u1", event=e, occurred_at=t) for e, t in events]
    write_csv(landing / "subscriptions" / "s.csv", good + bad)
    ingest_path(db, landing, rules=RULES)
    assert query(db, "select count(*) from raw.subscriptions where user_id = 'u2'") == [(4,)]
    (got,) = _reasons(db)
    assert reason in got


def test_a_late_event_that_would_break_the_loaded_order_is_blamed(tmp_path: Path) -> None:
    """A loaded row is never taken back: the newcomer that puts it out of order is quarantined."""
    db = tmp_path / "w.duckdb"
    write_dims(tmp_path / "a")
    rows = [
        subscription("u1", event="signup", occurred_at="2026-01-01T09:00:00Z"),
        subscription("u1", event="plan_change", occurred_at="2026-03-01T09:00:00Z"),
    ]
    write_csv(tmp_path / "a" / "subscriptions" / "s.csv", rows)
    ingest_path(db, tmp_path / "a", rules=RULES)
    late = [subscription("u1", event="cancel", occurred_at="2026-02-01T09:00:00Z")]
    write_csv(tmp_path / "b" / "subscriptions" / "late.csv", late)
    report = ingest_path(db, tmp_path / "b", rules=RULES)
    assert report.tables["subscriptions"].quarantined == 1
    assert "the loaded plan_change after it would follow cancel" in _reasons(db)[0]


def test_overlapping_sessions_on_one_device_beyond_the_tolerance(tmp_path: Path) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    rows = [
        view("a", started_at="2026-03-01T20:00:00Z", watch_seconds=1200),
        view("b", started_at="2026-03-01T20:19:00Z", watch_seconds=600),  # 60 s: tolerated
        view("c", started_at="2026-03-01T20:10:00Z", device="mobile"),  # another device
        view("d", started_at="2026-03-01T20:25:00Z", watch_seconds=600),  # 240 s into b: tolerated
        view("e", started_at="2026-03-01T20:26:00Z", watch_seconds=900),  # 540 s into d
    ]
    write_jsonl(landing / "views" / "d.jsonl", rows)
    ingest_path(db, landing, rules=RULES)
    assert _views(db) == ["a", "b", "c", "d"]
    (got,) = _reasons(db)
    assert "overlaps session 'd' of this user on this device by 540 s (more than 300 s" in got
    strict = TimeRules(24, date(2000, 1, 1), 30)
    ingest_path(tmp_path / "strict.duckdb", landing, rules=strict)
    assert _views(tmp_path / "strict.duckdb") == ["a", "c"]


def test_a_late_session_overlapping_a_loaded_one_is_the_one_quarantined(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    write_dims(tmp_path / "a")
    loaded = view("loaded", started_at="2026-03-01T20:30:00Z", watch_seconds=1200)
    write_jsonl(tmp_path / "a" / "views" / "d.jsonl", [loaded])
    ingest_path(db, tmp_path / "a", rules=RULES)
    early = view("early", started_at="2026-03-01T20:00:00Z", watch_seconds=3600)
    write_jsonl(tmp_path / "b" / "views" / "late.jsonl", [early])
    ingest_path(db, tmp_path / "b", rules=RULES)
    assert _views(db) == ["loaded"]
    assert "overlaps the loaded session 'loaded'" in _reasons(db)[0]


def test_relanding_the_same_rows_changes_nothing(tmp_path: Path) -> None:
    """Rules that look at neighbours must not judge a row against its own loaded copy."""
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    future = view("v9", started_at="2500-01-01T00:00:00Z")
    write_jsonl(landing / "views" / "a.jsonl", [view("v1"), view("v2"), future])
    subs = [subscription("u1"), subscription("u1", event="cancel", occurred_at="2026-02-01T09:00:00Z")]  # fmt: skip
    write_csv(landing / "subscriptions" / "s.csv", subs)
    ingest_path(db, landing, rules=RULES)
    before = (query(db, "select count(*) from raw.views"), quarantine(db))
    # the same rows again, in new files (new hashes): duplicates, and nothing more
    write_jsonl(landing / "views" / "b.jsonl", [view("v2"), view("v1"), "\n"])
    write_csv(landing / "subscriptions" / "t.csv", list(reversed(subs)))
    report = ingest_path(db, landing, rules=RULES)
    assert report.tables["views"].duplicate == 2 and report.tables["views"].quarantined == 0
    assert report.tables["subscriptions"].duplicate == 2
    assert (query(db, "select count(*) from raw.views"), quarantine(db)) == before


def test_dbt_repeats_the_future_tolerance_of_settings() -> None:
    """dbt_project.yml repeats the default for a bare `dbt build`; every run passes settings'."""
    import yaml

    settings = Settings()
    project = yaml.safe_load((settings.dbt_project_dir / "dbt_project.yml").read_text())
    assert project["vars"]["future_tolerance_hours"] == settings.ingest.future_tolerance_hours
    assert settings.dbt_vars()["future_tolerance_hours"] == settings.ingest.future_tolerance_hours
