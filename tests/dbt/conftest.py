"""Fixtures for the dbt project tests: one tiny world, ingested once, built once per session.

Reuse from another test folder: `from dbtkit import build_raw_warehouse, run_dbt, query` needs
tests/dbt on sys.path; the simpler route for model tests is the repo-wide `tiny_warehouse`
fixture (tests/conftest.py), which builds through the flows' own dbt runner.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from dbtkit import DbtRun, build_raw_warehouse, run_dbt

#: Big enough for two or three churn snapshots with both labels; small enough for ~20 s.
TINY_WORLD = {"users": 200, "titles": 60, "days": 90, "seed": 7}


@dataclass(frozen=True)
class BuiltProject:
    """A warehouse after `dbt build` of the project as checked in."""

    db_path: Path
    raw_db_path: Path
    run: DbtRun


@pytest.fixture(scope="session")
def raw_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file holding only `raw.*` from the tiny world. Copy it before building on it."""
    return build_raw_warehouse(tmp_path_factory.mktemp("dbt-world"), **TINY_WORLD)


@pytest.fixture(scope="session")
def built_project(raw_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    """`dbt build` (seeds, models, data and unit tests) on a copy of the raw warehouse."""
    work = tmp_path_factory.mktemp("dbt-build")
    db_path = work / "warehouse.duckdb"
    shutil.copyfile(raw_warehouse, db_path)
    run = run_dbt(["build"], db_path=db_path, work_dir=work)
    return BuiltProject(db_path=db_path, raw_db_path=raw_warehouse, run=run)
