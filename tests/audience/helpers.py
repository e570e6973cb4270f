"""Small synthetic `user_features`-shaped frames with planted groups, for fast unit tests."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

GENRES = ("crime", "comedy", "documentary", "drama", "other")
DEVICES = ("tv", "mobile", "web")
HOURS = ("late_night", "morning", "evening")

#: (genre weights, device weights, hour weights, binge, episode minutes)
PLANTED = {
    "night_crime": ((8, 1, 1, 1, 0), (1, 8, 1), (8, 1, 1), 0.8, 40),
    "commute_comedy": ((1, 8, 1, 1, 0), (1, 8, 1), (1, 8, 1), 0.2, 25),
    "doc_web": ((1, 1, 8, 1, 0), (1, 1, 8), (1, 1, 8), 0.2, 55),
    "tv_drama": ((1, 1, 1, 8, 0), (8, 1, 1), (1, 1, 8), 0.4, 58),
}


def planted_users(n_per: int = 80, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Users drawn around four planted tastes; `other` is a genre nobody watches (constant 0)."""
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for g, (gw, dw, hw, binge, minutes) in enumerate(PLANTED.values()):
        for _ in range(n_per):
            gs = rng.dirichlet(np.asarray(gw, float) * 20 + 1e-9)
            gs[-1] = 0.0
            gs /= gs.sum()
            ds = rng.dirichlet(np.asarray(dw, float) * 20)
            hs = rng.dirichlet(np.asarray(hw, float) * 20)
            row = {f"genre_share_{k}": v for k, v in zip(GENRES, gs, strict=True)}
            row |= {f"device_share_{k}": v for k, v in zip(DEVICES, ds, strict=True)}
            row |= {f"hour_share_{k}": v for k, v in zip(HOURS, hs, strict=True)}
            row |= {
                "weekend_share": rng.uniform(0.2, 0.4),
                "series_share": rng.uniform(0.5, 0.9),
                "binge_ratio": float(np.clip(binge + rng.normal(0, 0.08), 0, 1)),
                "mean_completion": rng.uniform(0.8, 0.95),
                "abandonment_rate": rng.uniform(0.02, 0.15),
                "mean_episode_minutes": minutes + rng.normal(0, 3),
                "sessions_28d": int(rng.integers(5, 40)),
                "views_total": int(rng.integers(20, 200)),
            }
            rows.append(row)
            truth.append(g)
    users = pd.DataFrame(rows)
    users.insert(0, "user_id", [f"u{i:06d}" for i in range(len(users))])
    return users, np.asarray(truth)


def no_view_user(columns: list[str], user_id: str = "u999999") -> pd.DataFrame:
    """A signed-up user who never watched: zero shares, null habits, zero counts."""
    row: dict[str, object] = {c: 0.0 for c in columns}
    row["user_id"] = user_id
    for c in ("binge_ratio", "mean_completion", "abandonment_rate", "mean_episode_minutes"):
        row[c] = np.nan
    row["views_total"] = 0
    row["sessions_28d"] = 0
    return pd.DataFrame([row])[columns]


def churn_scores(day: dt.date) -> pd.DataFrame:
    """Three published-shape churn scores for one snapshot (the policy plans from these)."""
    return pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3"],
            "snapshot_date": day,
            "churn_probability": [0.9, 0.8, 0.7],
            "top_reasons": "",
            "model_version": "churn:v1",
        }
    )
