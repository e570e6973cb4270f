"""One test per kind of bad row: it is quarantined with its line and a reason naming the field,
while the good row next to it loads."""

# ruff: noqa: E501  (tables of cases read best one case a line)

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ingest_helpers import (
    ROW_FACTORIES,
    quarantine,
    query,
    write_csv,
    write_dims,
    write_jsonl,
)

from warehouse.ingest import ingest_path
from warehouse.validate import REASON_SEPARATOR

# Every test here reads its warehouse back several times: keep it open (see the fixture).
pytestmark = pytest.mark.usefixtures("warehouse_kept_open")

# (id, entity, format, overrides for the bad row (or a raw line), expected reason fragment)
CASES: list[tuple[str, str, str, dict[str, Any] | str, str]] = [
    ("missing-key", "views", "jsonl", {"event_id": None}, "missing required field event_id"),
    ("empty-required", "views", "jsonl", {"user_id": ""}, "missing required field user_id"),
    ("absent-field", "views", "jsonl", {"device": ...}, "missing required field device"),
    ("bad-timestamp", "views", "jsonl", {"started_at": "yesterday"}, "started_at is not an ISO"),
    ("invalid-date", "views", "jsonl", {"started_at": "2026-02-30T10:00:00Z"}, "started_at is not a valid"),
    ("no-zone", "views", "jsonl", {"started_at": "2026-03-01T22:15:04"}, "started_at has no time zone"),
    ("bad-offset", "views", "jsonl", {"started_at": "2026-03-01T22:15:04+15:00"}, "out-of-range UTC offset"),
    ("negative-watch", "views", "jsonl", {"watch_seconds": -5}, "watch_seconds must be >= 0"),
    ("watch-too-long", "views", "jsonl", {"watch_seconds": 3 * 6000 + 601}, "exceeds 3 x duration"),
    ("zero-duration", "views", "jsonl", {"duration_seconds": 0}, "duration_seconds must be > 0"),
    ("negative-duration", "views", "jsonl", {"duration_seconds": -1}, "duration_seconds must be > 0"),
    ("unknown-device", "views", "jsonl", {"device": "toaster"}, "device 'toaster' is not one of"),
    ("watch-not-int", "views", "jsonl", {"watch_seconds": "abc"}, "watch_seconds is not an integer: 'abc'"),
    ("watch-fraction", "views", "jsonl", {"watch_seconds": 12.5}, "watch_seconds is not an integer"),
    ("unknown-user", "views", "jsonl", {"user_id": "u404"}, "unknown user_id 'u404' (not in raw.users)"),
    ("unknown-title", "views", "jsonl", {"title_id": "t404"}, "unknown title_id 't404'"),
    ("not-an-object", "views", "jsonl", "[1, 2, 3]", "JSON line is not an object (got array)"),
    ("json-string", "views", "jsonl", '"v1"', "not an object (got varchar)"),
    ("malformed-line", "views", "jsonl", '{"event_id": "v2", "user_id": ', "malformed JSON"),
    ("clicked-maybe", "exposures", "jsonl", {"clicked": "maybe"}, "clicked is not a boolean"),
    ("missing-variant", "exposures", "jsonl", {"variant": None}, "missing required field variant"),
    ("rating-high", "ratings", "csv", {"rating": 7}, "rating 7.0 is outside 0.5..5"),
    ("rating-zero", "ratings", "csv", {"rating": 0}, "is outside 0.5..5"),
    ("rating-text", "ratings", "csv", {"rating": "five"}, "rating is not a number: 'five'"),
    ("rating-unknown-title", "ratings", "csv", {"title_id": "t9"}, "unknown title_id 't9'"),
    ("unknown-kind", "titles", "csv", {"kind": "podcast"}, "kind 'podcast' is not one of movie|series"),
    ("missing-title", "titles", "csv", {"title": ""}, "missing required field title"),
    ("runtime-not-int", "titles", "csv", {"runtime_minutes": "long"}, "runtime_minutes is not an integer"),
    ("bad-release-date", "titles", "csv", {"release_date": "01/02/2020"}, "release_date is not a date"),
    ("unknown-plan", "users", "csv", {"plan": "gold"}, "plan 'gold' is not one of basic|standard|premium"),
    ("bad-signup-date", "users", "csv", {"signup_date": "soon"}, "signup_date is not a date"),
    ("unknown-event", "subscriptions", "csv", {"event": "pause"}, "event 'pause' is not one of"),
    ("negative-price", "subscriptions", "csv", {"monthly_price": -1}, "monthly_price must be >= 0"),
    ("sub-unknown-user", "subscriptions", "csv", {"user_id": "u404"}, "unknown user_id 'u404'"),
    ("unknown-action", "nudges", "csv", {"action": "sms"}, "action 'sms' is not one of none|email|push|discount|teaser"),
    ("propensity-zero", "nudges", "csv", {"propensity": 0}, "propensity 0.0 is outside (0, 1]"),
    ("propensity-above-one", "nudges", "csv", {"propensity": 1.5}, "propensity 1.5 is outside (0, 1]"),
    ("propensity-text", "nudges", "csv", {"propensity": "high"}, "propensity is not a number: 'high'"),
    ("nudge-unknown-user", "nudges", "csv", {"user_id": "u404"}, "unknown user_id 'u404' (not in raw.users)"),
    ("nudge-unknown-title", "nudges", "csv", {"title_id": "t404"}, "unknown title_id 't404' (not in raw.titles)"),
    ("nudge-no-zone", "nudges", "csv", {"sent_at": "2026-03-14T10:00:00"}, "sent_at has no time zone"),
    ("teaser-without-title", "nudges", "csv", {"title_id": ""}, "a teaser needs a title_id"),
    ("nudge-missing-campaign", "nudges", "jsonl", {"campaign_id": None}, "missing required field campaign_id"),
    ("bad-channel", "opt_outs", "csv", {"channel": "sms"}, "channel 'sms' is not one of email|push|all"),
    ("opt-out-unknown-user", "opt_outs", "csv", {"user_id": "u404"}, "unknown user_id 'u404'"),
    ("opt-out-no-zone", "opt_outs", "csv", {"opted_out_at": "2026-02-01 08:00:00"}, "opted_out_at has no time zone"),
    ("csv-field-count", "ratings", "csv", "u1,t1,2026-03-02T10:00:00Z", "expected 4 fields"),
    ("csv-stray-quote", "ratings", "csv", 'u2,t"1"x,2026-03-02T10:00:00Z,4', "malformed CSV quoting"),
]  # fmt: skip

# Second rows of dimension files need their own key so only the checked field differs.
SECOND_KEY = {"titles": {"title_id": "t3"}, "users": {"user_id": "u3"}}


def _bad_row(entity: str, spec: dict[str, Any] | str) -> dict[str, Any] | str:
    if isinstance(spec, str):
        return spec
    row = ROW_FACTORIES[entity]()
    row.update(SECOND_KEY.get(entity, {}))
    if entity in ("views", "exposures", "nudges"):
        row["event_id"] = row["event_id"] + "-bad"
    if entity == "ratings":
        row["user_id"] = "u2"  # another key than the good row
    if entity == "subscriptions":
        row["event"] = "cancel"
    if entity == "opt_outs":
        row["channel"] = "push"  # another key than the good row
    for key, value in spec.items():
        if value is ...:
            row.pop(key)
        else:
            row[key] = value
    return row


@pytest.mark.parametrize(
    ("entity", "fmt", "spec", "reason"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_row_is_quarantined_and_the_good_row_loads(
    tmp_path: Path, entity: str, fmt: str, spec: dict[str, Any] | str, reason: str
) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    good = ROW_FACTORIES[entity]()
    if entity in ("titles", "users"):  # the dimension file under test replaces the seeded one
        (landing / entity / f"{entity}.csv").unlink()
    rows = [good, _bad_row(entity, spec)]
    target = landing / entity / f"day.{fmt}"
    if fmt == "jsonl":
        write_jsonl(target, rows)
    elif isinstance(rows[1], str):
        write_csv(target, [rows[0]])
        target.write_text(target.read_text() + rows[1] + "\n")
    else:
        write_csv(target, rows)

    report = ingest_path(db, landing)

    assert report.ok, report.rejected
    counts = report.tables[entity]
    assert (counts.rows_read, counts.loaded, counts.quarantined) == (2, 1, 1)
    [(q_entity, q_file, q_line, q_reason)] = quarantine(db)
    assert (q_entity, q_file) == (entity, f"day.{fmt}")
    assert q_line == 2 if fmt == "jsonl" else q_line == 3  # the CSV header is line 1
    assert reason in q_reason
    loaded = query(db, f"select count(*) from raw.{entity} where _source_file = ?", [str(target)])
    assert loaded == [(1,)]


def test_a_row_breaking_two_rules_records_both(tmp_path: Path) -> None:
    """A rating out of range for an unknown title: both reasons, in check order (ranges before
    references), so fixing one field and re-landing does not reveal the other only then."""
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    good = ROW_FACTORIES["ratings"]()
    bad = ROW_FACTORIES["ratings"](user_id="u2", title_id="t9", rating=7)
    write_csv(landing / "ratings" / "r.csv", [good, bad])
    report = ingest_path(db, landing)
    assert report.tables["ratings"].loaded == 1 and report.tables["ratings"].quarantined == 1
    [(entity, _, line, reason)] = quarantine(db)
    assert (entity, line) == ("ratings", 3)
    assert reason == "rating 7.0 is outside 0.5..5; unknown title_id 't9' (not in raw.titles)"


def test_every_failing_check_is_recorded_in_check_order(tmp_path: Path) -> None:
    """A row wrong in four ways lists all four: types (contract order), then vocabularies, then
    references. A check on a field that already failed its type does not fire again."""
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    bad = ROW_FACTORIES["views"](
        "v9", user_id="u404", device="toaster", watch_seconds="abc", started_at="2026-03-01"
    )
    write_jsonl(landing / "views" / "d.jsonl", [bad])
    ingest_path(db, landing)
    [(_, _, _, reason)] = quarantine(db)
    assert reason.split(REASON_SEPARATOR) == [
        "started_at is not an ISO-8601 timestamp: '2026-03-01'",
        "watch_seconds is not an integer: 'abc'",
        "device 'toaster' is not one of tv|mobile|tablet|web",
        "unknown user_id 'u404' (not in raw.users)",
    ]


def test_missing_fields_and_a_range_are_all_recorded(tmp_path: Path) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    bad = ROW_FACTORIES["views"](
        "v9", user_id=None, device="", watch_seconds=100, duration_seconds=0
    )
    write_jsonl(landing / "views" / "d.jsonl", [ROW_FACTORIES["views"](), bad])
    ingest_path(db, landing)
    [(_, _, _, reason)] = quarantine(db)
    assert reason.split(REASON_SEPARATOR) == [
        "missing required field user_id",
        "missing required field device",
        "duration_seconds must be > 0, got 0",
    ]


def test_an_unreadable_record_has_one_reason(tmp_path: Path) -> None:
    """A parse error stands alone: no 'missing required field' for each field it could not read."""
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    write_jsonl(landing / "views" / "d.jsonl", [ROW_FACTORIES["views"](), "[1, 2, 3]"])
    ingest_path(db, landing)
    [(_, _, _, reason)] = quarantine(db)
    assert reason == "JSON line is not an object (got array)"


def test_quarantine_keeps_the_landed_record_and_the_batch(tmp_path: Path) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    write_jsonl(landing / "views" / "d.jsonl", [ROW_FACTORIES["views"](), "not json at all"])
    report = ingest_path(db, landing)
    [(batch, record)] = query(db, "select batch_id, record from raw.quarantine")
    assert batch == report.batch_id
    assert record == "not json at all"
