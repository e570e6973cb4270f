"""Line numbers, CSV quoting and time zones: what lands is stored, with where it came from."""

# ruff: noqa: E501  (tables of cases read best one case a line)

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from ingest_helpers import quarantine, query, title, view, write_csv, write_dims, write_jsonl

from warehouse.ingest import ingest_path

# Every test here reads its warehouse back several times: keep it open (see the fixture).
pytestmark = pytest.mark.usefixtures("warehouse_kept_open")


def test_csv_line_numbers_survive_multiline_quoted_fields(tmp_path: Path) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    synopsis = 'A man, a plan,\na "canal":\n\n  Panama, "again"'
    write_csv(
        landing / "titles" / "t.csv",
        [
            title("t1", synopsis=synopsis),  # lines 2-5
            title("t2", kind="podcast"),  # line 6: bad
            title("t3", title='He said "hi", twice', synopsis="one\ntwo"),  # lines 7-8
            title("t4", runtime_minutes="x"),  # line 9: bad
        ],
    )
    report = ingest_path(db, landing)
    assert report.ok
    assert query(db, "select title_id, _source_line from raw.titles order by 1") == [
        ("t1", 2),
        ("t3", 7),
    ]
    assert query(db, "select synopsis from raw.titles where title_id = 't1'") == [(synopsis,)]
    assert query(db, "select title from raw.titles where title_id = 't3'") == [
        ('He said "hi", twice',)
    ]
    assert [(line, reason.split(" ")[0]) for _, _, line, reason in quarantine(db)] == [
        (6, "kind"),
        (9, "runtime_minutes"),
    ]


def test_quarantined_csv_record_keeps_all_its_lines(tmp_path: Path) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_csv(landing / "titles" / "t.csv", [title("t1", kind="?", synopsis="a,\nb")])
    ingest_path(db, landing)
    [(line, record)] = query(db, "select source_line, record from raw.quarantine")
    assert line == 2
    assert record.startswith("t1,Title t1,?,") and record.endswith('"a,\nb"')


def test_blank_lines_are_skipped_but_counted_as_lines(tmp_path: Path) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    path = landing / "views" / "d.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    import json

    lines = ["", json.dumps(view("v1")), "   ", "", "oops", json.dumps(view("v2")), "\t"]
    path.write_text("\r\n".join(lines) + "\r\n")  # CRLF as well
    report = ingest_path(db, landing)
    assert report.tables["views"].rows_read == 3
    assert query(db, "select event_id, _source_line from raw.views order by 1") == [
        ("v1", 2),
        ("v2", 6),
    ]
    assert query(db, "select source_line, record from raw.quarantine") == [(5, "oops")]


def test_csv_blank_lines_and_crlf(tmp_path: Path) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    text = (
        "user_id,signup_date,country,plan,age_band\r\n\r\n"
        "u1,2026-01-01,US,basic,25-34\r\n"
        '"u2","2026-01-02","IN","standard","18-24"\r\n'
        "u3 , 2026-01-03 ,GB, premium ,55+\r\n"
    )
    (landing / "users").mkdir(parents=True)
    (landing / "users" / "u.csv").write_text(text, newline="")
    report = ingest_path(db, landing)
    assert report.ok and report.tables["users"].loaded == 3
    assert query(
        db, "select user_id, signup_date, plan, _source_line from raw.users order by 1"
    ) == [
        ("u1", date(2026, 1, 1), "basic", 3),
        ("u2", date(2026, 1, 2), "standard", 4),
        ("u3", date(2026, 1, 3), "premium", 5),
    ]


@pytest.mark.parametrize(
    ("landed", "utc", "local"),
    [
        ("2026-03-01T22:15:04-05:00", datetime(2026, 3, 2, 3, 15, 4), datetime(2026, 3, 1, 22, 15, 4)),
        ("2026-03-01T22:15:04Z", datetime(2026, 3, 1, 22, 15, 4), datetime(2026, 3, 1, 22, 15, 4)),
        ("2026-03-01T02:15:04+05:30", datetime(2026, 2, 28, 20, 45, 4), datetime(2026, 3, 1, 2, 15, 4)),
        ("2026-03-01T02:15:04+0530", datetime(2026, 2, 28, 20, 45, 4), datetime(2026, 3, 1, 2, 15, 4)),
        ("2026-03-01T02:15:04+09", datetime(2026, 2, 28, 17, 15, 4), datetime(2026, 3, 1, 2, 15, 4)),
        ("2026-03-01 23:59:59.250+14:00", datetime(2026, 3, 1, 9, 59, 59, 250000), datetime(2026, 3, 1, 23, 59, 59, 250000)),
        ("2026-01-31T23:30:00-12:00", datetime(2026, 2, 1, 11, 30), datetime(2026, 1, 31, 23, 30)),
    ],
)  # fmt: skip
def test_timestamps_store_utc_and_the_wall_clock(
    tmp_path: Path, landed: str, utc: datetime, local: datetime
) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    write_jsonl(landing / "views" / "d.jsonl", [view(started_at=landed)])
    report = ingest_path(db, landing)
    assert report.tables["views"].loaded == 1, quarantine(db)
    assert query(db, "select started_at, started_at_local from raw.views") == [(utc, local)]


def test_same_instant_in_two_zones_gives_one_utc_and_two_wall_clocks(tmp_path: Path) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    rows = [
        view("v1", started_at="2026-03-01T22:00:00-05:00"),
        # another device: one device playing two sessions at once is quarantined as overlapping
        view("v2", started_at="2026-03-02T08:30:00+05:30", device="mobile"),
    ]
    write_jsonl(landing / "views" / "d.jsonl", rows)
    ingest_path(db, landing)
    assert query(
        db, "select count(distinct started_at), count(distinct started_at_local) from raw.views"
    ) == [(1, 2)]
    assert query(db, "select hour(started_at_local) from raw.views order by event_id") == [
        (22,),
        (8,),
    ]


def test_json_numbers_as_strings_and_booleans_in_many_spellings(tmp_path: Path) -> None:
    from ingest_helpers import exposure

    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    write_jsonl(landing / "views" / "d.jsonl", [view(watch_seconds="42", duration_seconds=" 60 ")])
    rows = [
        exposure("x1", clicked=True),
        exposure("x2", clicked="false"),
        exposure("x3", clicked=1),
    ]
    write_jsonl(landing / "exposures" / "e.jsonl", rows)
    report = ingest_path(db, landing)
    assert report.tables["views"].loaded == 1 and report.tables["exposures"].loaded == 3
    assert query(db, "select watch_seconds, duration_seconds from raw.views") == [(42, 60)]
    assert query(db, "select clicked from raw.exposures order by event_id") == [
        (True,),
        (False,),
        (True,),
    ]


def test_csv_types_and_nulls(tmp_path: Path) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_csv(landing / "titles" / "t.csv", [title("t1", kind="series", seasons=3, director="")])
    ingest_path(db, landing)
    assert query(
        db, "select kind, runtime_minutes, seasons, director, release_date from raw.titles"
    ) == [("series", 110, 3, None, date(2020, 1, 1))]
