"""The synthetic streaming world: the embedded default data source and the ground truth.

``generate_world(WorldConfig(...), out=home)`` writes ``home/landing/<entity>/...`` in the landing
contract and ``home/truth/...`` with everything that was planted (archetypes, churn hazards,
experiment lifts, drift). See ``ml/world/README.md`` for the model.

The generator is imported on first use, so reading `WorldConfig` (the settings do, for every
command) does not load numpy and the simulation.
"""

from typing import Any

from ml.world.config import WorldConfig
from ml.world.vocab import DEVICES, GENRES, HOUR_BUCKETS

__all__ = ["DEVICES", "GENRES", "HOUR_BUCKETS", "WorldConfig", "WorldSummary", "generate_world"]


def __getattr__(name: str) -> Any:
    if name in ("generate_world", "WorldSummary"):
        from ml.world import generate

        return getattr(generate, name)
    raise AttributeError(f"module 'ml.world' has no attribute {name!r}")
