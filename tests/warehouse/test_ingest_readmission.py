"""Late data: a row whose only fault is a user or title that has not landed yet waits in
quarantine and is loaded exactly once when the dimension lands; real faults stay."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_helpers import (
    contents,
    query,
    rating,
    title,
    user,
    view,
    write_csv,
    write_dims,
    write_jsonl,
)

from warehouse.ingest import ingest_path
from warehouse.settings import Settings

# Every test here reads its warehouse back several times: keep it open (see the fixture).
pytestmark = pytest.mark.usefixtures("warehouse_kept_open")

RULES = Settings().ingest
HISTORY = (
    "select source_line, waiting_for, readmitted_at is not null, readmitted_batch_id, reason "
    "from raw.quarantine order by source_file, source_line"
)


def _ingest(db: Path, path: Path | None, **kw):
    return ingest_path(db, path, rules=RULES, **kw)


def test_a_view_before_its_user_waits_and_loads_once_when_the_user_lands(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    write_dims(tmp_path / "b1")
    write_jsonl(tmp_path / "b1" / "views" / "day1.jsonl", [view("v1"), view("late", user_id="u9")])
    first = _ingest(db, tmp_path / "b1")
    assert (first.tables["views"].loaded, first.waiting) == (1, 1)
    # the batch landed users, but its own rows were just judged with them: no retry
    assert first.readmitted == {}
    (row,) = query(db, HISTORY)
    assert row[:3] == (2, "users", False)
    assert "unknown user_id 'u9' (not in raw.users)" in row[4]

    write_csv(tmp_path / "b2" / "users" / "late.csv", [user("u9")])
    second = _ingest(db, tmp_path / "b2")
    assert second.readmitted["views"].loaded == 1 and second.waiting == 0
    assert query(db, "select event_id, _source_line, _batch_id from raw.views order by 1") == [
        ("late", 2, second.batch_id),  # the original line, this batch
        ("v1", 1, first.batch_id),
    ]
    (row,) = query(db, HISTORY)
    assert row[:4] == (2, "users", True, second.batch_id)  # history kept: what it waited for

    # a re-run (and an explicit retry) changes nothing: the row is never loaded twice
    before = (contents(db, "views"), query(db, HISTORY))
    third = _ingest(db, tmp_path / "b2", retry_quarantine=True)
    assert third.readmitted == {} and third.tables == {}
    assert (contents(db, "views"), query(db, HISTORY)) == before


def test_rows_wait_until_every_dimension_they_need_has_landed(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    write_dims(tmp_path / "b1")
    write_csv(tmp_path / "b1" / "ratings" / "r.csv", [rating("u9", title_id="t9")])
    _ingest(db, tmp_path / "b1")
    assert query(db, "select waiting_for from raw.quarantine") == [("users+titles",)]
    write_csv(tmp_path / "b2" / "users" / "u.csv", [user("u9")])
    report = _ingest(db, tmp_path / "b2")
    assert report.readmitted["ratings"].quarantined == 1 and report.waiting == 1
    ((waiting, reason),) = query(db, "select waiting_for, reason from raw.quarantine")
    assert waiting == "titles" and reason == "unknown title_id 't9' (not in raw.titles)"
    write_csv(tmp_path / "b3" / "titles" / "t.csv", [title("t9")])
    report = _ingest(db, tmp_path / "b3")
    assert report.readmitted["ratings"].loaded == 1
    assert query(db, "select user_id, title_id from raw.ratings") == [("u9", "t9")]


def test_a_real_fault_found_on_readmission_stays(tmp_path: Path) -> None:
    """Whether a view precedes its user's signup can only be judged once the user is known."""
    db = tmp_path / "w.duckdb"
    write_dims(tmp_path / "b1")
    write_jsonl(tmp_path / "b1" / "views" / "d.jsonl", [view("early", user_id="u9")])
    _ingest(db, tmp_path / "b1")
    write_csv(tmp_path / "b2" / "users" / "u.csv", [user("u9", signup_date="2026-06-01")])
    report = _ingest(db, tmp_path / "b2")
    assert report.readmitted["views"].quarantined == 1 and report.waiting == 0
    ((waiting, readmitted, reason),) = query(
        db, "select waiting_for, readmitted_at, reason from raw.quarantine"
    )
    assert (waiting, readmitted) == (None, None)
    assert "is before the user's signup_date 2026-06-01" in reason
    assert query(db, "select count(*) from raw.views") == [(0,)]


def test_a_row_with_a_real_fault_besides_the_missing_user_never_waits(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    write_dims(tmp_path / "b1")
    write_jsonl(tmp_path / "b1" / "views" / "d.jsonl", [view("bad", user_id="u9", device="?")])
    _ingest(db, tmp_path / "b1")
    write_csv(tmp_path / "b2" / "users" / "u.csv", [user("u9")])
    report = _ingest(db, tmp_path / "b2", retry_quarantine=True)
    assert report.readmitted == {}
    assert query(db, "select waiting_for from raw.quarantine") == [(None,)]


def test_csv_rows_are_parsed_again_with_their_header(tmp_path: Path) -> None:
    """A waiting CSV row keeps its file's header (columns in any order, quoted commas)."""
    db = tmp_path / "w.duckdb"
    write_dims(tmp_path / "b1")
    header = ["rating", "rated_at", "title_id", "user_id"]
    write_csv(
        tmp_path / "b1" / "ratings" / "r.csv",
        [[4.0, "2026-03-02T10:00:00Z", "t1", "u9"], [3.5, "2026-03-02T10:00:00Z", "t1", "u1"]],
        header=header,
    )
    _ingest(db, tmp_path / "b1")
    assert query(db, "select header from raw.quarantine") == [("rating,rated_at,title_id,user_id",)]
    write_csv(tmp_path / "b2" / "users" / "u.csv", [user("u9")])
    _ingest(db, tmp_path / "b2")
    assert contents(db, "ratings")[1][:2] == ("u9", "t1")
    assert query(db, "select rating from raw.ratings where user_id = 'u9'") == [(4.0,)]


def test_the_same_late_row_landed_twice_loads_once(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    write_dims(tmp_path / "b1")
    late = view("late", user_id="u9")
    write_jsonl(tmp_path / "b1" / "views" / "a.jsonl", [late])
    write_jsonl(tmp_path / "b1" / "views" / "b.jsonl", [view("v1"), late])
    _ingest(db, tmp_path / "b1")
    assert query(db, "select count(*) from raw.quarantine where waiting_for = 'users'") == [(2,)]
    write_csv(tmp_path / "b2" / "users" / "u.csv", [user("u9")])
    report = _ingest(db, tmp_path / "b2")
    assert (report.readmitted["views"].loaded, report.readmitted["views"].duplicate) == (1, 1)
    assert query(db, "select count(*) from raw.views where event_id = 'late'") == [(1,)]
    reasons = [r[0] for r in query(db, "select reason from raw.quarantine order by source_file")]
    assert reasons[1].startswith("already loaded when re-admitted")


def test_retry_without_a_new_dimension_on_request(tmp_path: Path) -> None:
    """A user landed by other means (an older warehouse, a manual load) is picked up by an
    explicit retry; without one, a batch that lands no dimension does not retry."""
    db = tmp_path / "w.duckdb"
    write_dims(tmp_path / "b1")
    write_jsonl(tmp_path / "b1" / "views" / "d.jsonl", [view("late", user_id="u9")])
    _ingest(db, tmp_path / "b1")
    query(
        db,
        "insert into raw.users (user_id, signup_date, _source_file, _source_line, _ingested_at, "
        "_batch_id) values ('u9', date '2026-01-01', 'manual', 1, now(), 'manual')",
    )
    write_jsonl(tmp_path / "b2" / "views" / "more.jsonl", [view("v2")])
    assert _ingest(db, tmp_path / "b2").readmitted == {}
    assert _ingest(db, None, retry_quarantine=True).readmitted["views"].loaded == 1
    assert query(db, "select count(*) from raw.views where event_id = 'late'") == [(1,)]
