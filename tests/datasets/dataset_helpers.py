"""Helpers shared by the data set tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from warehouse.settings import Settings


def real_file(dataset_folder: str, filename: str) -> Path:
    """A file of the shared real-data folder, or skip the test saying what is missing."""
    data_dir = Settings().resolved_data_dir
    if data_dir is None:
        pytest.skip("no real-data folder: set TASTEMAKER_DATA_DIR (in CI: ../shared/data)")
    path = data_dir / dataset_folder / filename
    if not path.is_file():
        pytest.skip(f"{path} is absent: this test reads the real public file")
    return path
