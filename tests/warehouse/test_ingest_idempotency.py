"""Re-landing changes nothing; keys tell duplicates from conflicts; a crash leaves nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from ingest_helpers import count, quarantine, query, title, view, write_csv, write_dims, write_jsonl

from warehouse import ingest as ingest_module
from warehouse.ingest import IngestError, ingest_path

# Every test here reads its warehouse back several times: keep it open (see the fixture).
pytestmark = pytest.mark.usefixtures("warehouse_kept_open")


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    landing = tmp_path / "landing"
    write_dims(landing)
    write_jsonl(landing / "views" / "day1.jsonl", [view("v1"), view("v2", device="web")])
    return landing


def test_same_file_twice_is_skipped(tmp_path: Path, landing: Path) -> None:
    db = tmp_path / "w.duckdb"
    first = ingest_path(db, landing)
    before = {t: count(db, t) for t in ("views", "titles", "users", "quarantine", "ingested_files")}

    second = ingest_path(db, landing)

    assert first.tables["views"].loaded == 2
    assert second.tables == {} and second.ok
    assert sorted(Path(f).name for f in second.skipped_files) == [
        "day1.jsonl",
        "titles.csv",
        "users.csv",
    ]
    assert {t: count(db, t) for t in before} == before


def test_same_rows_in_a_renamed_file_are_duplicates(tmp_path: Path, landing: Path) -> None:
    db = tmp_path / "w.duckdb"
    ingest_path(db, landing)
    again = tmp_path / "again" / "views"
    again.mkdir(parents=True)
    # same rows, different bytes (an extra blank line) and name: not skipped, but all duplicates
    text = (landing / "views" / "day1.jsonl").read_text() + "\n"
    (again / "day1-resent.jsonl").write_text(text)

    report = ingest_path(db, again)

    counts = report.tables["views"]
    assert (counts.rows_read, counts.loaded, counts.duplicate, counts.quarantined) == (2, 0, 2, 0)
    assert count(db, "views") == 2
    assert query(db, "select distinct _source_file from raw.views") == [
        (str(landing / "views" / "day1.jsonl"),)
    ]


def test_same_key_with_different_content_is_quarantined_naming_the_first(
    tmp_path: Path, landing: Path
) -> None:
    db = tmp_path / "w.duckdb"
    ingest_path(db, landing)
    write_jsonl(tmp_path / "more" / "views" / "d.jsonl", [view("v3"), view("v1", watch_seconds=5)])

    report = ingest_path(db, tmp_path / "more")

    assert (report.tables["views"].loaded, report.tables["views"].quarantined) == (1, 1)
    [(_, name, line, reason)] = quarantine(db)
    assert (name, line) == ("d.jsonl", 2)
    first = landing / "views" / "day1.jsonl"
    assert (
        reason
        == f"duplicate event_id 'v1' with different content (first seen in file {first} line 1)"
    )
    assert query(db, "select watch_seconds from raw.views where event_id = 'v1'") == [(1200,)]


def test_repeats_within_one_file(tmp_path: Path) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    rows = [view("v1"), view("v2"), view("v1"), view("v1", device="web"), view("v2")]
    write_jsonl(landing / "views" / "d.jsonl", rows)

    report = ingest_path(db, landing)

    counts = report.tables["views"]
    assert (counts.loaded, counts.duplicate, counts.quarantined) == (2, 2, 1)
    [(_, _, line, reason)] = quarantine(db)
    assert line == 4 and "first seen in file" in reason and reason.endswith("d.jsonl line 1)")


def test_key_already_loaded_wins_over_the_files_first_occurrence(tmp_path: Path) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    write_jsonl(landing / "views" / "a.jsonl", [view("v1")])
    ingest_path(db, landing)
    # in b.jsonl the first v1 differs from the loaded one, the second is identical to it
    write_jsonl(landing / "views" / "b.jsonl", [view("v1", device="web"), view("v1")])
    report = ingest_path(db, landing)
    counts = report.tables["views"]
    assert (counts.loaded, counts.duplicate, counts.quarantined) == (0, 1, 1)
    [(_, name, line, reason)] = quarantine(db)
    assert (name, line) == ("b.jsonl", 1) and reason.endswith("a.jsonl line 1)")


@pytest.mark.parametrize(
    ("entity", "key_fields"),
    [("ratings", "user_id=u1, title_id=t1, rated_at=2026-03-02 10:00:00"),
     ("subscriptions", "user_id=u1, event=signup, occurred_at=2026-01-01 08:00:00")],
)  # fmt: skip
def test_natural_keys(tmp_path: Path, entity: str, key_fields: str) -> None:
    from ingest_helpers import ROW_FACTORIES

    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    make = ROW_FACTORIES[entity]
    changed = {"ratings": {"rating": 1.0}, "subscriptions": {"plan": "premium"}}[entity]
    write_csv(landing / entity / "a.csv", [make(), make(), make(**changed)])
    report = ingest_path(db, landing)
    counts = report.tables[entity]
    assert (counts.loaded, counts.duplicate, counts.quarantined) == (1, 1, 1)
    [(_, _, line, reason)] = quarantine(db)
    assert line == 4
    assert f"({key_fields}) with different content" in reason


def test_changed_dimension_is_a_conflict_not_an_update(tmp_path: Path, landing: Path) -> None:
    db = tmp_path / "w.duckdb"
    ingest_path(db, landing)
    write_csv(tmp_path / "l2" / "titles" / "t.csv", [title("t1", title="Renamed"), title("t2")])
    report = ingest_path(db, tmp_path / "l2")
    counts = report.tables["titles"]
    assert (counts.loaded, counts.duplicate, counts.quarantined) == (0, 1, 1)
    [(_, _, _, reason)] = quarantine(db)
    assert reason.startswith("conflicting title_id 't1': attributes differ from the row first seen")
    assert reason.endswith("(dimension updates are not supported yet)")
    assert query(db, "select title from raw.titles where title_id = 't1'") == [("Title t1",)]


class _FailingConnection:
    """Delegates to a real connection but fails when the file's bookkeeping row is written."""

    def __init__(self, con: duckdb.DuckDBPyConnection, error: BaseException) -> None:
        self._con, self._error = con, error

    def execute(self, sql: str, *args: object) -> object:
        if sql.startswith("insert into raw.ingested_files"):
            raise self._error
        return self._con.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._con, name)


@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_crash_mid_file_leaves_nothing_of_it(
    tmp_path: Path, landing: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    db = tmp_path / "w.duckdb"
    write_jsonl(landing / "views" / "day1.jsonl", [view("v1"), "not json", view("v2")])
    ingest_path(db, landing / "titles")
    ingest_path(db, landing / "users")
    real_connect = ingest_module._connect
    monkeypatch.setattr(
        ingest_module, "_connect", lambda p: _FailingConnection(real_connect(p), error)
    )

    with pytest.raises(IngestError if isinstance(error, Exception) else KeyboardInterrupt):
        ingest_path(db, landing / "views")

    # the rows and the quarantined line were written before the failure: all rolled back
    assert (count(db, "views"), count(db, "quarantine"), count(db, "ingested_files")) == (0, 0, 2)
    monkeypatch.undo()
    report = ingest_path(db, landing / "views")  # and the file loads cleanly afterwards
    assert (report.tables["views"].loaded, report.tables["views"].quarantined) == (2, 1)


def test_crash_keeps_the_files_committed_before_it(
    tmp_path: Path, landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "w.duckdb"
    write_jsonl(landing / "views" / "day2.jsonl", [view("v3")])
    calls = {"n": 0}
    real_connect = ingest_module._connect

    class FailSecond(_FailingConnection):
        def execute(self, sql: str, *args: object) -> object:
            if sql.startswith("insert into raw.ingested_files"):
                calls["n"] += 1
                if calls["n"] == 4:  # titles, users, day1 commit; day2 fails
                    raise RuntimeError("boom")
            return self._con.execute(sql, *args)

    monkeypatch.setattr(ingest_module, "_connect", lambda p: FailSecond(real_connect(p), None))  # type: ignore[arg-type]
    with pytest.raises(IngestError, match=r"day2\.jsonl failed \(rolled back\): boom"):
        ingest_path(db, landing)
    assert query(db, "select event_id from raw.views order by 1") == [("v1",), ("v2",)]


def test_report_is_json_ready(tmp_path: Path, landing: Path) -> None:
    (landing / "views" / "notes.txt").write_text("hello")
    report = ingest_path(tmp_path / "w.duckdb", landing, progress=True)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False and data["batch_id"] == report.batch_id
    assert data["tables"]["views"] == {
        "files": 1,
        "rows_read": 2,
        "loaded": 2,
        "duplicate": 0,
        "quarantined": 0,
    }
    assert data["rejected"] == [
        {
            "file": str(landing / "views" / "notes.txt"),
            "entity": "views",
            "reason": "unknown extension '.txt' (expected one of .csv, .jsonl)",
        }
    ]


def test_one_entity_folder_or_one_file(tmp_path: Path, landing: Path) -> None:
    db = tmp_path / "w.duckdb"
    assert set(ingest_path(db, landing / "titles").tables) == {"titles"}
    assert set(ingest_path(db, landing / "users" / "users.csv").tables) == {"users"}
    assert ingest_path(db, landing / "views").tables["views"].loaded == 2


def test_a_landing_root_named_like_an_entity_is_still_a_root(tmp_path: Path) -> None:
    root = tmp_path / "views"
    write_dims(root)
    write_jsonl(root / "views" / "d.jsonl", [view()])
    report = ingest_path(tmp_path / "w.duckdb", root)
    assert set(report.tables) == {"titles", "users", "views"}


def test_same_content_twice_in_one_batch_is_loaded_once(tmp_path: Path, landing: Path) -> None:
    shutil.copy(landing / "views" / "day1.jsonl", landing / "views" / "day1-copy.jsonl")
    report = ingest_path(tmp_path / "w.duckdb", landing)
    assert report.tables["views"].files == 1
    assert [Path(f).name for f in report.skipped_files] == ["day1.jsonl"]


def test_same_content_as_a_rejected_file_is_rejected_too(tmp_path: Path, landing: Path) -> None:
    (landing / "views" / "a.jsonl").write_text('{"event_id": "v9", "us')
    shutil.copy(landing / "views" / "a.jsonl", landing / "views" / "b.jsonl")
    report = ingest_path(tmp_path / "w.duckdb", landing)
    assert sorted(Path(r.file).name for r in report.rejected) == ["a.jsonl", "b.jsonl"]
    assert report.skipped_files == []


def test_csv_files_with_different_headers_load_together(tmp_path: Path) -> None:
    from ingest_helpers import rating

    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    write_csv(landing / "ratings" / "a.csv", [rating("u1")])
    header = ["rating", "rated_at", "title_id", "user_id"]
    write_csv(landing / "ratings" / "b.csv", [rating("u2", rating=2)], header=header)
    write_csv(landing / "ratings" / "c.csv", [rating("u1", title_id="t2")])
    report = ingest_path(db, landing)
    assert report.ok and report.tables["ratings"].loaded == 3
    assert query(db, "select user_id, title_id, rating from raw.ratings order by all") == [
        ("u1", "t1", 4.5),
        ("u1", "t2", 4.5),
        ("u2", "t1", 2.0),
    ]


@pytest.mark.parametrize("max_files", [1, 2, 64])
def test_chunk_size_does_not_change_the_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_files: int
) -> None:
    monkeypatch.setattr(ingest_module, "CHUNK_MAX_FILES", max_files)
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    for day in range(5):
        rows = [view(f"v{day}-{i}") for i in range(3)] + [view("v0-0"), view(f"x{day}", device="?")]
        write_jsonl(landing / "views" / f"d{day}.jsonl", rows)
    report = ingest_path(db, landing)
    counts = report.tables["views"]
    assert (counts.files, counts.loaded, counts.duplicate, counts.quarantined) == (5, 15, 5, 5)
