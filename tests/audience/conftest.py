"""Fixtures for the audience tests: the real-data folder (skipped cleanly when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# prefect_dbt passes Prefect's logging level to dbt as its EventLevel, and dbt has "warn", not
# "warning": with the root conftest's PREFECT_LOGGING_LEVEL=WARNING every warehouse fixture
# fails inside dbt. ERROR is valid in both. Set here, before Prefect is first imported (this
# folder is collected first); reported upstream so the root conftest can change instead.
if os.environ.get("PREFECT_LOGGING_LEVEL", "").upper() == "WARNING":
    os.environ["PREFECT_LOGGING_LEVEL"] = "ERROR"


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """`Settings().resolved_data_dir`, or skip: the real sets live outside the repository."""
    from flows.settings import Settings

    data = Settings().resolved_data_dir
    if data is None or not data.is_dir():
        pytest.skip(
            "no real-data folder (set TASTEMAKER_DATA_DIR or put ../shared/data beside the "
            "checkout): telco churn / Hillstrom checks need it"
        )
    return data
