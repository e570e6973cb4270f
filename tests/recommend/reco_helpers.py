"""Helpers for the recommender tests: small seeded data."""

from __future__ import annotations

import numpy as np
import pandas as pd


def toy_ratings(n_users: int = 60, n_items: int = 40, density: float = 0.3, seed: int = 0):
    """Ratings 1–5 with a planted low-rank structure, string ids to exercise raw-id mapping."""
    rng = np.random.default_rng(seed)
    pu, qi = rng.normal(size=(n_users, 3)), rng.normal(size=(n_items, 3))
    mask = rng.random((n_users, n_items)) < density
    u, i = np.nonzero(mask)
    raw = 3 + (pu[u] * qi[i]).sum(axis=1) + rng.normal(scale=0.5, size=len(u))
    return pd.DataFrame(
        {
            "user_id": [f"u{x}" for x in u],
            "item_id": [f"i{x}" for x in i],
            "rating": np.clip(np.round(raw), 1, 5),
        }
    )
