"""Fixtures for the audience tests: the real-data folder (skipped cleanly when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """`Settings().resolved_data_dir`, or skip: the real sets live outside the repository."""
    from warehouse.settings import Settings

    data = Settings().resolved_data_dir
    if data is None or not data.is_dir():
        pytest.skip(
            "no real-data folder (set TASTEMAKER_DATA_DIR or put ../shared/data beside the "
            "checkout): telco churn / Hillstrom checks need it"
        )
    return data
