"""Home-page artwork experiments: definitions, stable assignment and the true click-through rates.

Assignment is a pure function of (experiment_id, user_id), so anyone can recompute it (and check
for sample-ratio mismatch): ``variant = variants[int(sha256(f"{experiment_id}:{user_id}")[:16], 16)
% 2]``. A user keeps the same variant for the life of the experiment.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ml.world.archetypes import ARCHETYPES


@dataclass(frozen=True)
class Experiment:
    """One A/B test on home-page artwork.

    Attributes:
        experiment_id: id landed in exposures.
        description: what is tested.
        variants: (control, treatment).
        start_frac / end_frac: running window as fractions of the period ([start, end) days).
        lift_by_archetype: absolute CTR lift of the treatment per archetype name.
    """

    experiment_id: str
    description: str
    variants: tuple[str, str]
    start_frac: float
    end_frac: float
    lift_by_archetype: dict[str, float]

    def window(self, days: int) -> tuple[int, int]:
        """Day indices [start, end) during which the experiment runs."""
        start = round(days * self.start_frac)
        end = max(start + 1, round(days * self.end_frac))
        return start, min(end, days)

    def lifts(self) -> np.ndarray:
        """Absolute lift per archetype index."""
        return np.array([self.lift_by_archetype.get(a.name, 0.0) for a in ARCHETYPES])


EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment(
        experiment_id="artwork_warm_tones",
        description="Warm-toned key art instead of the default artwork on home-page tiles.",
        variants=("control", "treatment"),
        start_frac=0.15,
        end_frac=0.85,
        lift_by_archetype={a.name: a.warm_lift for a in ARCHETYPES},
    ),
    Experiment(
        experiment_id="artwork_title_font",
        description="A new title typeface on home-page artwork (no effect on clicks).",
        variants=("control", "treatment"),
        start_frac=0.30,
        end_frac=1.00,
        lift_by_archetype={},
    ),
)

# Probability that a sitting starts from a browse of the home page (which logs impressions).
P_BROWSE = 0.55
# Impressions per browse: 1 + Binomial(2, 0.35).
EXTRA_IMPRESSIONS = (2, 0.35)


def assign(experiment_id: str, user_ids: list[str]) -> np.ndarray:
    """Variant index (0 = control, 1 = treatment) of each user: a stable 50/50 hash split."""
    out = np.empty(len(user_ids), dtype=np.int8)
    for i, uid in enumerate(user_ids):
        digest = hashlib.sha256(f"{experiment_id}:{uid}".encode()).hexdigest()
        out[i] = int(digest[:16], 16) % 2
    return out


def base_ctr() -> np.ndarray:
    """Control CTR per archetype index."""
    return np.array([a.ctr for a in ARCHETYPES])
