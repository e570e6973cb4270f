"""Build fingerprints (warehouse.buildstate): what counts as a change since the last build."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from warehouse import buildstate
from warehouse.settings import PROJECT_ROOT, Settings


def _project(tmp_path: Path) -> Path:
    dst = tmp_path / "dbt_project"
    shutil.copytree(
        PROJECT_ROOT / "dbt_project", dst, ignore=shutil.ignore_patterns("target", "logs")
    )
    return dst


def test_project_fingerprint_sees_edits_and_ignores_outputs(tmp_path: Path) -> None:
    project = _project(tmp_path)
    before = buildstate.project_fingerprint(project)
    (project / "target").mkdir(exist_ok=True)
    (project / "target" / "manifest.json").write_text("{}")
    (project / "logs").mkdir(exist_ok=True)
    (project / "logs" / "dbt.log").write_text("noise")
    assert buildstate.project_fingerprint(project) == before
    model = next((project / "models").rglob("*.sql"))
    model.write_text(model.read_text() + "\n-- edited\n")
    assert buildstate.project_fingerprint(project) != before


def test_raw_fingerprint_sees_rows_written_around_the_loader(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    assert buildstate.raw_fingerprint(db) is None  # no warehouse yet
    con = duckdb.connect(str(db))
    con.execute("create schema raw")
    con.execute("create table raw.ingested_files (sha256 varchar, rows_loaded bigint)")
    con.execute("create table raw.views (event_id varchar)")
    con.execute("insert into raw.ingested_files values ('abc', 1)")
    con.execute("insert into raw.views values ('v1')")
    con.close()
    first = buildstate.raw_fingerprint(db)
    assert buildstate.raw_fingerprint(db) == first  # stable
    con = duckdb.connect(str(db))
    con.execute("insert into raw.views values ('v2')")  # no ingested_files row
    con.close()
    assert buildstate.raw_fingerprint(db) != first


def test_record_and_compare(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", dbt_project_dir=_project(tmp_path))
    db = settings.warehouse_path
    db.parent.mkdir(parents=True)
    con = duckdb.connect(str(db))
    con.execute("create schema raw")
    con.execute("create table raw.views (event_id varchar)")
    con.close()
    vars_ = {"drift_window_days": 28}
    assert buildstate.unchanged_since_last_build(settings, vars_) is None  # never built
    fp = buildstate.build_fingerprint(settings, vars_)
    buildstate.record_build(settings, fp, "m" * 64)
    assert buildstate.last_build(settings)["manifest_sha256"] == "m" * 64
    # the marts are missing, so even an identical fingerprint builds
    assert buildstate.unchanged_since_last_build(settings, vars_) is None
    con = duckdb.connect(str(db))
    for mart in buildstate.CORE_MARTS:
        con.execute(f"create table {mart} (x int)")
    con.close()
    assert buildstate.unchanged_since_last_build(settings, vars_)["fingerprint"] == fp
    assert buildstate.unchanged_since_last_build(settings, {"drift_window_days": 14}) is None
    buildstate.state_path(settings).write_text("{torn")
    assert buildstate.last_build(settings) is None
    assert buildstate.unchanged_since_last_build(settings, vars_) is None


@pytest.mark.parametrize("name", [".user.yml"])
def test_user_files_do_not_count(tmp_path: Path, name: str) -> None:
    project = _project(tmp_path)
    before = buildstate.project_fingerprint(project)
    (project / name).write_text("id: someone")
    assert buildstate.project_fingerprint(project) == before
