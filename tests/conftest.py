"""Test-wide setup: an isolated Prefect home and a Tastemaker home per test session.

The environment is set at import time, before any test module imports Prefect, because Prefect
reads its settings once per process.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from tests.tiers import load_hypothesis_profile

_SESSION_TMP = Path(tempfile.mkdtemp(prefix="tastemaker-tests-"))
os.environ["PREFECT_HOME"] = str(_SESSION_TMP / "prefect")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# What a user has: no API URL and Prefect's own start-up timeout. The CLI must cope with a slow
# temporary server by itself (flows.prefect_api); raising the timeout here would hide it.
os.environ.pop("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", None)
os.environ.pop("PREFECT_API_URL", None)
# Never let a developer's own config or home leak into tests.
for _name in [k for k in os.environ if k.startswith("TASTEMAKER_")]:
    os.environ.pop(_name)
os.environ["TASTEMAKER_HOME"] = str(_SESSION_TMP / "home")


#: Fixtures that build a world, a warehouse, run dbt or start a Prefect API. A test that requests
#: one (directly or through another fixture) is marked `slow` at collection, so the fast tier
#: (`pytest -m "not slow"`) is decided by what a test uses, not by someone remembering a marker.
SLOW_FIXTURES = frozenset(
    {
        "prefect_harness",
        "tiny_warehouse",
        "default_warehouse",
        "drift_warehouse",
        "raw_warehouse",
        "built_project",
        "tiny_world",
        "tiny_drift_world",
        "default_world",
        "drift_world",
        "world_home",
        "real_data",
    }
)


def pytest_configure(config: pytest.Config) -> None:
    # The fast tier runs each Hypothesis property test on a fifth of its examples (tests/tiers.py).
    load_hypothesis_profile(config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


#: Early starts waiting for a test to begin: nodeid of that test -> the starts it triggers.
_EARLY_STARTS: dict[str, list] = {}


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the end-to-end subprocesses that can run beside the other tests (tests/background.py):
    each test module that defines `start_early(items)` gets its selected items, once, when
    collection ends, or, if it sets `START_EARLY_FROM` (a node-id prefix such as "tests/flows/"),
    when the first selected test under that prefix begins."""
    if session.config.option.collectonly:
        return
    selected: dict[object, list[pytest.Item]] = {}
    for item in session.items:
        module = getattr(item, "module", None)
        if module is not None and hasattr(module, "start_early"):
            selected.setdefault(module, []).append(item)
    for module, items in selected.items():
        prefix = getattr(module, "START_EARLY_FROM", None)
        if prefix is None:
            module.start_early(items)
            continue
        trigger = next((i for i in session.items if i.nodeid.startswith(prefix)), items[0])
        _EARLY_STARTS.setdefault(trigger.nodeid, []).append(partial(module.start_early, items))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for start in _EARLY_STARTS.pop(item.nodeid, []):
        start()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from tests.background import stop_all

    stop_all()


class RealData:
    """The shared real-data folder (`TASTEMAKER_DATA_DIR`, in CI ../shared/data), read in place.

    `real_data(folder, filename)` is that file's path; `real_data.root()` the folder. Either
    skips the test, saying what is missing, when the data is absent: users without the folder
    still get a green run, and CI (which has it) runs these tests."""

    def root(self) -> Path:
        from warehouse.settings import Settings

        data = Settings().resolved_data_dir
        if data is None or not data.is_dir():
            pytest.skip("no real-data folder: set TASTEMAKER_DATA_DIR (in CI: ../shared/data)")
        return data

    def __call__(self, folder: str, filename: str) -> Path:
        path = self.root() / folder / filename
        if not path.is_file():
            pytest.skip(f"{path} is absent: this test reads the real file")
        return path


@pytest.fixture
def real_data() -> RealData:
    """The one way a test reaches a real data set (marked slow by that use)."""
    return RealData()


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


@pytest.fixture(scope="session")
def tiny_warehouse(tmp_path_factory: pytest.TempPathFactory):
    """A warehouse built from a tiny synthetic world (generate → ingest → dbt build), shared by
    every test in the session, tests/dbt's included. Read it; don't write to it (copy it if you
    must). Its `raw_path` is the warehouse as ingested, before dbt: tests that build a modified
    dbt project start from a copy of it."""
    from ml.world import WorldConfig
    from warehouse.pipeline import build_warehouse

    base = tmp_path_factory.mktemp("tiny-warehouse")
    return build_warehouse(
        base / "home",
        WorldConfig(users=300, titles=120, days=120, seed=11),
        raw_copy=base / "raw" / "warehouse.duckdb",
    )


@pytest.fixture(scope="session")
def default_warehouse(tmp_path_factory: pytest.TempPathFactory):
    """A warehouse built from the default-size world (2,000 users, 180 days; about 30 s once per
    session). For tests that check planted structure is recovered; mark them `slow`."""
    from ml.world import WorldConfig
    from warehouse.pipeline import build_warehouse

    home = tmp_path_factory.mktemp("default-warehouse") / "home"
    return build_warehouse(home, WorldConfig())


@pytest.fixture(scope="session")
def drift_warehouse(tmp_path_factory: pytest.TempPathFactory):
    """Like `default_warehouse`, with drift planted in the last quarter of the period."""
    from ml.world import WorldConfig
    from warehouse.pipeline import build_warehouse

    home = tmp_path_factory.mktemp("drift-warehouse") / "home"
    return build_warehouse(home, WorldConfig(drift=True))
