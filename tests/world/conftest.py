"""Fixtures for the synthetic-world tests: generated worlds, once per session.

Tiny worlds keep the contract tests fast; the default-size worlds back the planted-structure
tests, which need enough users for the statistics to be stable.
"""

from __future__ import annotations

import dataclasses

import pytest
from world_helpers import TINY, World, generate

from ml.world import WorldConfig


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """A 300-user, 75-day world: enough for every contract rule to be exercised."""
    return generate(tmp_path_factory.mktemp("tiny"), TINY)


@pytest.fixture(scope="session")
def tiny_drift_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return generate(tmp_path_factory.mktemp("tiny-drift"), dataclasses.replace(TINY, drift=True))


@pytest.fixture(scope="session")
def default_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The embedded default world (2000 users, 400 titles, 180 days, seed 42)."""
    return generate(tmp_path_factory.mktemp("default"), WorldConfig())


@pytest.fixture(scope="session")
def drift_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The default world with drift planted in its last 25% of days."""
    return generate(tmp_path_factory.mktemp("drift"), WorldConfig(drift=True))
