"""Published rows per run: counted by the data layer (warehouse.lineage), matched to a model
version by monitoring.lineage, which opens no file. A real DuckDB file, real publishes."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from monitoring.lineage import published_rows
from warehouse.lineage import PUBLISHED_RUNS_COLUMNS, read_published_runs
from warehouse.publish import PublishLineage
from warehouse.settings import Settings


def _publish(settings: Settings, table: str, users: list[str], lineage: PublishLineage) -> None:
    from warehouse.db import Warehouse

    frame = pd.DataFrame({"user_id": users, "score": [0.5] * len(users)})
    with Warehouse(settings).session(create=True) as db:
        db.publish(table, frame, lineage, replace_where={"user_id": users[0]})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(home=tmp_path / "home")
    s.home_dir.mkdir(parents=True)
    _publish(s, "churn_scores", ["u1", "u2", "u3"], PublishLineage("run-1", "churn:v1", "aa"))
    _publish(s, "churn_scores", ["u4"], PublishLineage("run-2", "churn:v1", "bb"))
    _publish(s, "recommendations", ["u1", "u2"], PublishLineage("run-3", "recommender:v1", "aa"))
    with duckdb.connect(str(s.warehouse_path)) as con:  # a table without lineage is skipped
        con.execute("create table ml.notes as select 1 as x")
    return s


def test_rows_are_counted_per_table_version_run_and_build(settings: Settings) -> None:
    runs = read_published_runs(settings)
    assert tuple(runs.columns) == PUBLISHED_RUNS_COLUMNS
    assert runs.to_dict(orient="records") == [
        {"table": "ml.churn_scores", "model_version": "churn:v1", "run_id": "run-1",
         "dbt_manifest_sha256": "aa", "rows": 3},
        {"table": "ml.churn_scores", "model_version": "churn:v1", "run_id": "run-2",
         "dbt_manifest_sha256": "bb", "rows": 1},
        {"table": "ml.recommendations", "model_version": "recommender:v1", "run_id": "run-3",
         "dbt_manifest_sha256": "aa", "rows": 2},
    ]  # fmt: skip


def test_a_version_matches_its_full_reference_or_bare_under_any_model(settings: Settings) -> None:
    runs = read_published_runs(settings)
    full = published_rows(runs, "churn:v1")
    assert [(r["table"], r["run_id"], r["rows"]) for r in full] == [
        ("ml.churn_scores", "run-1", 3),
        ("ml.churn_scores", "run-2", 1),
    ]
    bare = published_rows(runs, "v1")  # both models' rows of version v1
    assert [(r["table"], r["run_id"]) for r in bare] == [
        ("ml.churn_scores", "run-1"),
        ("ml.churn_scores", "run-2"),
        ("ml.recommendations", "run-3"),
    ]
    assert published_rows(runs, "other:v1") == [] and published_rows(runs, "v2") == []
    assert published_rows(None, "churn:v1") == []


def test_missing_warehouse_gives_no_rows(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "nowhere")
    assert read_published_runs(settings).empty
    assert not settings.warehouse_path.exists()  # and creates no file


def test_a_file_another_process_holds_gives_no_rows_with_a_warning(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A process with the file open read-write (outside the Tastemaker lock, e.g. a dbt run
    started by hand) keeps DuckDB from opening it: best effort, [] and a warning."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; con = duckdb.connect({str(settings.warehouse_path)!r}); "
            "print('open', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with caplog.at_level(logging.WARNING, logger="warehouse.lineage"):
            runs = read_published_runs(settings, reader=True)
    finally:
        holder.kill()
        holder.wait()
    assert runs.empty and published_rows(runs, "churn:v1") == []
    assert "published rows not shown" in caplog.text
