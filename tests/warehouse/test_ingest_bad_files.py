"""One test per kind of bad file: rejected with a one-line reason naming it, nothing of it loaded,
and the other files still load."""

# ruff: noqa: E501  (tables of cases read best one case a line)

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from ingest_helpers import count, query, view, write_csv, write_dims, write_jsonl

from warehouse.ingest import IngestError, ingest_path

# Every test here reads its warehouse back several times: keep it open (see the fixture).
pytestmark = pytest.mark.usefixtures("warehouse_kept_open")


def _lines(n: int, start: int = 0) -> list[str]:
    return [json.dumps(view(f"v{start + i}")) for i in range(n)]


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def wrong_columns(landing: Path) -> Path:
    return write_csv(
        landing / "ratings" / "r.csv", [["u1", "t1", "4"]], header=["user_id", "title", "score"]
    )


def jsonl_field_missing_everywhere(landing: Path) -> Path:
    rows = [{k: v for k, v in view(f"v{i}").items() if k != "started_at"} for i in range(3)]
    return write_jsonl(landing / "views" / "bad.jsonl", rows)


def duplicate_header(landing: Path) -> Path:
    return _write(
        landing / "ratings" / "r.csv",
        "user_id,title_id,rated_at,rating,rating\nu1,t1,2026-03-02T10:00:00Z,4,4\n",
    )


def binary_nul(landing: Path) -> Path:
    return _write(landing / "views" / "bad.jsonl", b'{"event_id": "v1"}\n\x00\x01\x02\x03\n')


def gzip_file(landing: Path) -> Path:
    return _write(landing / "views" / "bad.jsonl", gzip.compress(b'{"event_id": "v1"}\n'))


def latin1(landing: Path) -> Path:
    text = "title_id,title,kind\nt9,Am\u00e9lie,movie\n"
    return _write(landing / "titles" / "more.csv", text.encode("latin-1"))


def utf16(landing: Path) -> Path:
    return _write(landing / "users" / "more.csv", "user_id,signup_date\n".encode("utf-16"))


def latin1_after_bom(landing: Path) -> Path:
    return _write(
        landing / "titles" / "more.csv", b"\xef\xbb\xbftitle_id,title,kind\nt9,Am\xe9lie,movie\n"
    )


def empty(landing: Path) -> Path:
    return _write(landing / "views" / "bad.jsonl", b"")


def whitespace_only(landing: Path) -> Path:
    return _write(landing / "views" / "bad.jsonl", b"\n  \n\t\n")


def unknown_extension(landing: Path) -> Path:
    return _write(landing / "views" / "bad.txt", "\n".join(_lines(2)) + "\n")


def unknown_entity(landing: Path) -> Path:
    return write_jsonl(landing / "clicks" / "bad.jsonl", _lines(2))


def sub_folder(landing: Path) -> Path:
    write_jsonl(landing / "views" / "2026-03" / "d.jsonl", _lines(2))
    return landing / "views" / "2026-03"


def file_outside_entity_folder(landing: Path) -> Path:
    return write_jsonl(landing / "bad.jsonl", _lines(2))


def mostly_malformed(landing: Path) -> Path:
    lines = [*_lines(2), '{"event_id": "v', "<html>", "oops", "{", "]"]
    return _write(landing / "views" / "bad.jsonl", "\n".join(lines) + "\n")


def truncated_last_line(landing: Path) -> Path:
    text = "\n".join(_lines(5)) + '\n{"event_id": "v9", "user_id": "u1", "ti'
    return _write(landing / "views" / "bad.jsonl", text)


def csv_unterminated_quote(landing: Path) -> Path:
    text = 'title_id,title,kind,synopsis\nt9,Open,movie,"A story that never\nends\n'
    return _write(landing / "titles" / "more.csv", text)


def csv_mostly_malformed(landing: Path) -> Path:
    text = (
        "user_id,title_id,rated_at,rating\nu1,t1\nu1\nu2,t2,x,y,z\nu1,t1,2026-03-02T10:00:00Z,4\n"
    )
    return _write(landing / "ratings" / "r.csv", text)


# (builder, entity of the bad file, fragment of the reason)
CASES: list[tuple[Callable[[Path], Path], str | None, str]] = [
    (wrong_columns, "ratings", "missing required columns: title_id, rated_at, rating"),
    (jsonl_field_missing_everywhere, "views", "missing required fields (absent from every line): started_at"),
    (duplicate_header, "ratings", "duplicate columns in the header: rating"),
    (binary_nul, "views", "binary file (NUL byte at byte offset 19)"),
    (gzip_file, "views", "binary file (looks like gzip)"),
    (latin1, "titles", "not UTF-8: invalid byte 0xe9 at byte offset 25 (line 2)"),
    (utf16, "users", "not UTF-8: starts with a UTF-16 byte order mark"),
    (latin1_after_bom, "titles", "not UTF-8: invalid byte 0xe9 at byte offset 28 (line 2)"),
    (empty, "views", "empty file (0 bytes)"),
    (whitespace_only, "views", "empty file (only whitespace"),
    (unknown_extension, "views", "unknown extension '.txt'"),
    (unknown_entity, None, "unknown entity folder 'clicks'"),
    (file_outside_entity_folder, None, "file outside an entity folder"),
    (sub_folder, "views", "sub-folder inside an entity folder is not read"),
    (mostly_malformed, "views", "5 of 7 lines are not JSON objects (more than 50%)"),
    (truncated_last_line, "views", "truncated: the last line (6) is not valid JSON"),
    (csv_unterminated_quote, "titles", "unterminated quoted field starting at line 2"),
    (csv_mostly_malformed, "ratings", "3 of 4 records are malformed"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("build", "entity", "reason"), [pytest.param(*c, id=c[0].__name__) for c in CASES]
)
def test_bad_file_is_rejected_and_loads_nothing(
    tmp_path: Path, build: Callable[[Path], Path], entity: str | None, reason: str
) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    good = write_jsonl(landing / "views" / "good.jsonl", [view("v-good")])
    bad = build(landing)

    report = ingest_path(db, landing)

    assert not report.ok
    [rejected] = report.rejected
    assert rejected.file == str(bad)
    assert rejected.entity == entity
    assert reason in rejected.reason, rejected.reason
    assert "\n" not in rejected.reason
    # nothing of the bad file anywhere; everything else loaded
    for table in ("views", "titles", "users", "ratings", "quarantine"):
        column = "source_file" if table == "quarantine" else "_source_file"
        assert query(db, f"select count(*) from raw.{table} where {column} = ?", [str(bad)]) == [
            (0,)
        ]
    assert query(db, "select count(*) from raw.ingested_files where source_file = ?", [str(bad)])[
        0
    ] == (0,)
    assert query(db, "select event_id from raw.views where _source_file = ?", [str(good)]) == [
        ("v-good",)
    ]
    assert report.tables["titles"].loaded == 2 and report.tables["users"].loaded == 2


def test_rejected_file_is_retried_on_the_next_run(tmp_path: Path) -> None:
    """Rejection records nothing, so a fixed file (new content) or the same one is tried again."""
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    bad = truncated_last_line(landing)
    assert len(ingest_path(db, landing).rejected) == 1
    assert len(ingest_path(db, landing).rejected) == 1
    write_jsonl(bad, _lines(6))  # the complete file lands
    report = ingest_path(db, landing)
    assert report.ok and report.tables["views"].loaded == 6


def test_malformed_last_line_with_newline_is_only_quarantined(tmp_path: Path) -> None:
    """The truncation rule needs both: a malformed last line and no final newline."""
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    _write(landing / "views" / "d.jsonl", "\n".join([*_lines(3), '{"event_id": "v9", "us']) + "\n")
    report = ingest_path(db, landing)
    assert report.ok
    assert (report.tables["views"].loaded, report.tables["views"].quarantined) == (3, 1)


def test_half_malformed_file_still_loads(tmp_path: Path) -> None:
    """Exactly 50% malformed is not 'more than half': the good half loads."""
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    _write(landing / "views" / "d.jsonl", "\n".join([*_lines(2), "x", "y"]) + "\n")
    report = ingest_path(db, landing)
    assert report.ok and report.tables["views"].loaded == 2


def test_header_only_csv_is_a_valid_empty_file(tmp_path: Path) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_dims(landing)
    write_csv(landing / "ratings" / "none.csv", [])
    report = ingest_path(db, landing)
    assert report.ok
    assert report.tables["ratings"].files == 1 and report.tables["ratings"].rows_read == 0
    assert count(db, "ingested_files") == 3


def test_optional_columns_may_be_missing_and_extra_columns_are_ignored(tmp_path: Path) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_csv(
        landing / "titles" / "t.csv",
        [["Extra", "t1", "movie", "A"]],
        header=["Mood", "title_id", "kind", "title"],
    )
    report = ingest_path(db, landing)
    assert report.ok
    assert query(db, "select title_id, title, kind, synopsis from raw.titles") == [
        ("t1", "A", "movie", None)
    ]


def test_utf8_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    text = "\ufeffuser_id,signup_date,country,plan,age_band\r\nu1,2026-01-01,US,basic,25-34\r\n"
    _write(landing / "users" / "u.csv", text)
    report = ingest_path(db, landing)
    assert report.ok and report.tables["users"].loaded == 1
    assert query(db, "select user_id, age_band from raw.users") == [("u1", "25-34")]


def test_missing_path_is_an_ingest_error(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="does not exist"):
        ingest_path(tmp_path / "w.duckdb", tmp_path / "nowhere")
