"""The synthetic streaming world: the embedded default data source and the ground truth.

``generate_world(WorldConfig(...), out=home)`` writes ``home/landing/<entity>/...`` in the landing
contract and ``home/truth/...`` with everything that was planted (archetypes, churn hazards,
experiment lifts, drift). See ``ml/world/README.md`` for the model.
"""

from ml.world.config import WorldConfig
from ml.world.generate import WorldSummary, generate_world
from ml.world.vocab import DEVICES, GENRES, HOUR_BUCKETS

__all__ = ["DEVICES", "GENRES", "HOUR_BUCKETS", "WorldConfig", "WorldSummary", "generate_world"]
