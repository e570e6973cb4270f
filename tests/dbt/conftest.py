"""Fixtures for the dbt project tests: the session's tiny world (`tiny_warehouse` in
tests/conftest.py), generated, ingested and built once for the whole suite.

`built_project` is that build as dbt recorded it (statuses per node); `raw_warehouse` is the same
world as ingested, before dbt, for tests that build a modified copy of the project on it (copy it
first). Both come from one world, so the suite builds it once rather than once per folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from dbtkit import DbtRun


@dataclass(frozen=True)
class BuiltProject:
    """A warehouse after `dbt build` of the project as checked in."""

    db_path: Path
    raw_db_path: Path
    run: DbtRun


@pytest.fixture(scope="session")
def raw_warehouse(tiny_warehouse) -> Path:
    """A DuckDB file holding only `raw.*` from the tiny world. Copy it before building on it."""
    return tiny_warehouse.raw_path


@pytest.fixture(scope="session")
def built_project(tiny_warehouse) -> BuiltProject:
    """`dbt build` (seeds, models, data and unit tests) of the tiny world, as dbt recorded it."""
    summary = tiny_warehouse.dbt
    run = DbtRun(
        args=("build",),
        returncode=0 if summary.success else 1,
        seconds=summary.elapsed_s,
        statuses={node.unique_id: node.status for node in summary.nodes},
        messages={node.unique_id: node.message for node in summary.nodes},
    )
    return BuiltProject(
        db_path=tiny_warehouse.db_path, raw_db_path=tiny_warehouse.raw_path, run=run
    )
