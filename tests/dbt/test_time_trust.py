"""Time you can trust, end to end through dbt (issue 18).

A tiny world is landed twice: clean (the session's `tiny_warehouse`) and with a batch of every
time fault beside it, plus views that pass ingest but lie far from the rest (one months after
the world's end, one in the year 2500 loaded under a relaxed tolerance). The faults are
quarantined with their reasons, the outliers cannot move `snapshot_date`, and every mart has
the same row count as the clean build. A view that arrived before its user is re-admitted
when the user lands and ends up in the marts exactly once.
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ml.world import WorldConfig, generate_world
from warehouse.dbtrun import run_dbt
from warehouse.ingest import ingest_path
from warehouse.settings import Settings
from warehouse.validate import TimeRules

pytestmark = pytest.mark.slow

RULES = Settings().ingest


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _marts(db: Path) -> dict[str, int]:
    """Row count of every mart (tables in the target schema)."""
    names = [
        r[0]
        for r in _rows(
            db,
            "select table_name from information_schema.tables "
            "where table_schema = 'main' and table_type = 'BASE TABLE'",
        )
    ]
    return {n: _rows(db, f'select count(*) from main."{n}"')[0][0] for n in sorted(names)}


def _snapshot(db: Path) -> tuple[Any, ...]:
    return _rows(
        db, "select snapshot_date, observed_from, observed_to from intermediate.int_snapshot_date"
    )[0]


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _csv(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _z(moment: Any) -> str:
    return moment.isoformat() + "Z"


def _view(event_id: str, user_id: str, title_id: str, started_at: str, **over: Any) -> dict:
    row = {"event_id": event_id, "user_id": user_id, "title_id": title_id, "device": "tv",
           "started_at": started_at, "watch_seconds": 1800, "duration_seconds": 3000}  # fmt: skip
    return {**row, **over}


def plant_faults(clean_db: Path, landing: Path) -> dict[str, list[str]]:
    """Write one file per entity of time faults referencing the world's own users and titles;
    return the reason fragment expected for each planted row, per entity."""
    start = _rows(clean_db, "select min(cast(started_at_local as date)) from raw.views")[0][0]
    old_title, _ = _rows(
        clean_db, "select title_id, release_date from raw.titles order by release_date limit 1"
    )[0]
    new_title, released = _rows(
        clean_db,
        "select title_id, release_date from raw.titles where release_date > date "
        f"'{start}' + 7 order by release_date desc limit 1",
    )[0]
    old_user = _rows(
        clean_db, "select user_id from raw.users order by signup_date, user_id limit 1"
    )[0][0]
    new_user, signed_up = _rows(
        clean_db,
        "select user_id, signup_date from raw.users where signup_date > date "
        f"'{start}' + 7 order by signup_date desc, user_id limit 1",
    )[0]
    user_id, title_id, device, began = _rows(
        clean_db,
        "select user_id, title_id, device, started_at from raw.views "
        "where watch_seconds > 1200 order by event_id limit 1",
    )[0]
    first_play = _rows(
        clean_db,
        f"select min(started_at) from raw.views where user_id = '{user_id}' "
        f"and title_id = '{title_id}'",
    )[0][0]
    subscriber, signup_at = _rows(
        clean_db,
        "select user_id, min(occurred_at) from raw.subscriptions group by user_id "
        "having count(*) = 1 order by user_id limit 1",
    )[0]
    mid = start + timedelta(days=40)
    _jsonl(
        landing / "views" / "zz-faults.jsonl",
        [
            _view("f-future", old_user, old_title, "2500-01-01T20:00:00Z"),
            _view("f-epoch", old_user, old_title, "1970-01-01T00:00:00Z"),
            _view("f-release", old_user, new_title, f"{released - timedelta(days=1)}T12:00:00Z"),
            _view("f-signup", new_user, old_title, f"{signed_up - timedelta(days=1)}T12:00:00Z"),
            _view(
                "f-overlap",
                user_id,
                title_id,
                _z(began + timedelta(seconds=60)),
                device=device,
                watch_seconds=1200,
            ),
            _view("late-1", "u-late", old_title, f"{mid}T20:00:00Z"),  # waits for its user
        ],
    )
    rating_at = _z(first_play - timedelta(days=1))
    _csv(
        landing / "ratings" / "zz-faults.csv",
        [{"user_id": user_id, "title_id": title_id, "rated_at": rating_at, "rating": 4.0}],
    )
    _csv(
        landing / "subscriptions" / "zz-faults.csv",
        [{"user_id": subscriber, "event": "reactivate",
          "occurred_at": _z(signup_at + timedelta(minutes=1)), "plan": "basic",
          "monthly_price": 7.99}],
    )  # fmt: skip
    _csv(
        landing / "users" / "zz-faults.csv",
        [{"user_id": "u-future", "signup_date": "2999-01-01", "country": "US", "plan": "basic",
          "age_band": "25-34"}],
    )  # fmt: skip
    return {
        "views": [
            "is in the future",
            "before the earliest plausible date",
            "before the title's release_date",
            "before the user's signup_date",
            "overlaps session",
        ],
        "ratings": ["before the user first played the title"],
        "subscriptions": ["reactivate at", "out of order"],
        "users": ["signup_date '2999-01-01' is in the future"],
    }


@pytest.fixture(scope="module")
def faulty(tiny_warehouse, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The tiny world again with every fault and two outliers, ingested and built."""
    home = tmp_path_factory.mktemp("time-trust") / "home"
    settings = Settings(home=home)
    generate_world(WorldConfig(users=300, titles=120, days=120, seed=11), out=home, progress=False)
    expected = plant_faults(tiny_warehouse.db_path, settings.landing_path)
    end = _rows(tiny_warehouse.db_path, "select max(cast(started_at as date)) from raw.views")[0][0]
    old_title = _rows(tiny_warehouse.db_path, "select min(title_id) from raw.titles")[0][0]
    old_user = _rows(tiny_warehouse.db_path, "select min(user_id) from raw.users")[0][0]
    # Plausible at ingest (before the ingest time) yet months after everything else.
    gap_day = min(end + timedelta(days=60), date.today() - timedelta(days=2))
    _jsonl(
        settings.landing_path / "views" / "zz-outlier.jsonl",
        [_view("o-gap", old_user, old_title, f"{gap_day}T20:00:00Z", device="web")],
    )
    first = ingest_path(settings.warehouse_path, settings.landing_path, rules=RULES)
    # The year 2500, loaded under a tolerance that lets it through: dbt must still hold.
    far = home / "far" / "views" / "far.jsonl"
    _jsonl(far, [_view("o-2500", old_user, old_title, "2500-06-01T20:00:00Z", device="mobile")])
    relaxed = TimeRules(1e7, RULES.earliest_event_date, RULES.session_overlap_tolerance_s)
    assert ingest_path(settings.warehouse_path, far, rules=relaxed).tables["views"].loaded == 1
    build = run_dbt(settings, "build")
    return {"settings": settings, "first": first, "expected": expected, "build": build,
            "marts": _marts(settings.warehouse_path),
            "snapshot": _snapshot(settings.warehouse_path)}  # fmt: skip


def test_every_fault_is_quarantined_with_its_reason_and_every_good_row_loads(
    tiny_warehouse, faulty
) -> None:
    db = faulty["settings"].warehouse_path
    reasons = _rows(db, "select entity, reason, waiting_for from raw.quarantine")
    for entity, fragments in faulty["expected"].items():
        got = [r for e, r, w in reasons if e == entity and w is None]
        assert len(got) == (len(fragments) if entity != "subscriptions" else 1), (entity, got)
        for fragment in fragments:
            assert any(fragment in r for r in got), (entity, fragment, got)
    assert [(e, w) for e, _, w in reasons if w is not None] == [("views", "users")]
    clean = tiny_warehouse.db_path
    for entity in ("views", "ratings", "subscriptions", "users", "titles", "exposures"):
        (n_clean,) = _rows(clean, f"select count(*) from raw.{entity}")[0]
        (n,) = _rows(db, f"select count(*) from raw.{entity}")[0]
        # views: the clean ones plus the two outliers that pass ingest
        assert n == n_clean + (2 if entity == "views" else 0), entity


def test_no_row_moves_the_snapshot_or_any_mart(tiny_warehouse, faulty) -> None:
    build = faulty["build"]
    assert build.success and not build.failed, [(n.unique_id, n.message) for n in build.failures]
    assert faulty["snapshot"] == _snapshot(tiny_warehouse.db_path)
    assert faulty["marts"] == _marts(tiny_warehouse.db_path)


def test_the_snapshot_test_fails_a_snapshot_after_the_horizon(faulty, tmp_path: Path) -> None:
    """assert_snapshot_is_trusted can fail: a snapshot_date var years ahead of every ingest."""
    settings = faulty["settings"]
    scratch = Settings(home=tmp_path / "home")
    scratch.home_dir.mkdir(parents=True)
    shutil.copy(settings.warehouse_path, scratch.warehouse_path)
    result = run_dbt(
        scratch,
        "build",
        select="int_snapshot_date+ assert_snapshot_is_trusted",
        dbt_vars={"snapshot_date": "2400-01-01"},
    )
    failed = {n.unique_id.split(".")[2] for n in result.failures}
    assert "assert_snapshot_is_trusted" in failed


def test_a_view_before_its_user_is_readmitted_once_and_reaches_the_marts(faulty) -> None:
    settings = faulty["settings"]
    db = settings.warehouse_path
    assert _rows(db, "select count(*) from user_title_interactions where user_id = 'u-late'") == [
        (0,)
    ]
    users = settings.home_dir / "batch2" / "users" / "late.csv"
    _csv(users, [{"user_id": "u-late", "signup_date": "2020-01-01", "country": "US",
                  "plan": "basic", "age_band": "25-34"}])  # fmt: skip
    second = ingest_path(db, users.parent.parent, rules=RULES)
    assert second.readmitted["views"].loaded == 1 and second.waiting == 0
    build = run_dbt(settings, "build")
    assert build.success and not build.failed, [(n.unique_id, n.message) for n in build.failures]
    assert _rows(db, "select views from user_title_interactions where user_id = 'u-late'") == [(1,)]
    assert _rows(db, "select count(*) from intermediate.int_views_enriched "
                     "where view_id = 'late-1'") == [(1,)]  # fmt: skip
    # A re-run (the same batch again, and an explicit retry) changes nothing.
    raw_before = {t: _rows(db, f"select count(*) from raw.{t}") for t in ("views", "users")}
    history = _rows(db, "select * from raw.quarantine order by all")
    again = ingest_path(db, users.parent.parent, rules=RULES, retry_quarantine=True)
    assert again.readmitted == {} and again.tables == {}
    assert {t: _rows(db, f"select count(*) from raw.{t}") for t in raw_before} == raw_before
    assert _rows(db, "select * from raw.quarantine order by all") == history
