"""Shared set-up for the ingest tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest


@pytest.fixture
def warehouse_kept_open(tmp_path: Path) -> Iterator[Path]:
    """Hold a connection to the test's `tmp_path / "w.duckdb"` (the file every ingest test
    writes) for the whole test.

    Why: DuckDB starts a database instance per open of a file that no connection in the process
    holds (≈ 50–100 ms at load: its catalog and thread pool), and an ingest test opens the file
    several times (`ingest_path`, then one helper query per check). While this connection is
    open, DuckDB's per-process instance cache hands every later `duckdb.connect` of the same path
    the same instance, so each of those opens costs a cursor. Ingest still opens, writes, commits
    and closes its own connection; what it committed is read back on another connection, as
    before. Only the file's creation moves here, from `ingest_path` to this fixture (the tests
    that ingest into other files, and the slow tier's warehouses, still have ingest create it).
    """
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    try:
        yield db
    finally:
        con.close()
