"""Test-wide setup: an isolated Prefect home and a Tastemaker home per test session.

The environment is set at import time, before any test module imports Prefect, because Prefect
reads its settings once per process.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_SESSION_TMP = Path(tempfile.mkdtemp(prefix="tastemaker-tests-"))
os.environ["PREFECT_HOME"] = str(_SESSION_TMP / "prefect")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.pop("PREFECT_API_URL", None)
# Never let a developer's own config or home leak into tests.
for _name in [k for k in os.environ if k.startswith("TASTEMAKER_")]:
    os.environ.pop(_name)
os.environ["TASTEMAKER_HOME"] = str(_SESSION_TMP / "home")


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A real Prefect API (temporary SQLite-backed server) for the whole session (~12 s start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def tm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty Tastemaker home for one test."""
    home = tmp_path / "home"
    monkeypatch.setenv("TASTEMAKER_HOME", str(home))
    return home
