"""Helpers for the synthetic-world tests: a pandas view of a generated world's files.

This is test code checking the generator, so it reads the landing files with pandas directly
(production code goes through ingest and dbt).
"""

from __future__ import annotations

import io
import json
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ml.world import WorldConfig, WorldSummary, generate_world
from ml.world.vocab import HOUR_BUCKETS

TINY = WorldConfig(users=300, titles=80, days=75, seed=7)


def read_jsonl(folder: Path) -> pd.DataFrame:
    """All JSON Lines files of a landing entity folder as one frame (strings kept as strings)."""
    text = "".join(p.read_text() for p in sorted(folder.glob("*.jsonl")))
    return pd.read_json(io.StringIO(text), lines=True, dtype=False)


def read_csvs(folder: Path) -> pd.DataFrame:
    """All CSV files of a landing entity folder as one frame, every value as text."""
    frames = [
        pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(folder.glob("*.csv"))
    ]
    return pd.concat(frames, ignore_index=True)


def utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True, format="ISO8601")


class World:
    """A generated world's landing and truth files, loaded lazily."""

    def __init__(self, home: Path, summary: WorldSummary) -> None:
        self.home = home
        self.summary = summary
        self.landing = home / "landing"
        self.truth = home / "truth"
        self.config = summary.config

    @cached_property
    def titles(self) -> pd.DataFrame:
        return read_csvs(self.landing / "titles")

    @cached_property
    def users(self) -> pd.DataFrame:
        return read_csvs(self.landing / "users")

    @cached_property
    def ratings(self) -> pd.DataFrame:
        return read_csvs(self.landing / "ratings")

    @cached_property
    def subscriptions(self) -> pd.DataFrame:
        frame = read_csvs(self.landing / "subscriptions")
        frame["ts"] = utc(frame.occurred_at)
        return frame

    @cached_property
    def exposures(self) -> pd.DataFrame:
        return read_jsonl(self.landing / "exposures")

    @cached_property
    def nudges(self) -> pd.DataFrame:
        frame = read_csvs(self.landing / "nudges")
        frame["ts"] = utc(frame.sent_at)
        return frame

    @cached_property
    def opt_outs(self) -> pd.DataFrame:
        frame = read_csvs(self.landing / "opt_outs")
        frame["ts"] = utc(frame.opted_out_at)
        return frame

    @cached_property
    def views(self) -> pd.DataFrame:
        """Views with derived columns: UTC start, local date and hour, bucket, completion."""
        views = read_jsonl(self.landing / "views")
        views["ts"] = utc(views.started_at)
        views["local_date"] = views.started_at.str[:10]
        views["hour"] = views.started_at.str[11:13].astype(int)
        bucket_of = {h: name for name, hours in HOUR_BUCKETS for h in hours}
        views["bucket"] = views.hour.map(bucket_of)
        views["completion"] = views.watch_seconds / views.duration_seconds
        return views

    @cached_property
    def truth_users(self) -> pd.DataFrame:
        return pd.read_csv(self.truth / "users.csv")

    @cached_property
    def truth_titles(self) -> pd.DataFrame:
        return pd.read_csv(self.truth / "titles.csv")

    @cached_property
    def churn(self) -> pd.DataFrame:
        return pd.read_csv(self.truth / "churn.csv")

    def json(self, name: str) -> dict:
        return json.loads((self.truth / name).read_text())


def user_shares(world: World, min_views: int = 5) -> tuple[pd.DataFrame, pd.Series]:
    """Simple per-user behaviour shares computed from the landing files alone.

    Genre (multi-label), device and hour-bucket shares; the share of views that continue a binge
    (same title as the user's previous view, started within 30 minutes of its end); mean
    completion. Returns the features of users with at least ``min_views`` views and their truth
    archetype.
    """
    views = world.views.sort_values(["user_id", "ts"]).reset_index(drop=True)
    genres = world.titles.set_index("title_id").genres.str.get_dummies("|")
    per_view_genres = genres.loc[views.title_id].set_index(views.index)
    prev_end = views.ts.shift() + pd.to_timedelta(views.watch_seconds.shift(), unit="s")
    views["binge"] = (
        (views.user_id == views.user_id.shift())
        & (views.title_id == views.title_id.shift())
        & (views.ts - prev_end <= pd.Timedelta(minutes=30))
    ).astype(float)
    features = pd.concat(
        [
            per_view_genres.groupby(views.user_id).mean().add_prefix("genre_"),
            pd.crosstab(views.user_id, views.device, normalize="index").add_prefix("device_"),
            pd.crosstab(views.user_id, views.bucket, normalize="index").add_prefix("hour_"),
            views.groupby("user_id")[["binge", "completion"]].mean(),
        ],
        axis=1,
    ).fillna(0.0)
    counts = views.groupby("user_id").size()
    keep = counts[counts >= min_views].index
    archetype = world.truth_users.set_index("user_id").archetype
    return features.loc[keep], archetype.loc[keep]


def activity_log_ratio(views: pd.DataFrame, anchors: pd.DataFrame) -> np.ndarray:
    """log((views in the 28 days before the anchor + 1) / (views in the 28 days before that + 1)).

    ``anchors`` has columns user_id and anchor (a UTC timestamp), one row per anchor.
    """
    merged = views[["user_id", "ts"]].merge(anchors, on="user_id")
    days = (merged.anchor - merged.ts).dt.total_seconds() / 86_400
    merged["recent"] = (days > 0) & (days <= 28)
    merged["earlier"] = (days > 28) & (days <= 56)
    counts = merged.groupby(["user_id", "anchor"])[["recent", "earlier"]].sum()
    counts = counts.reindex(pd.MultiIndex.from_frame(anchors[["user_id", "anchor"]])).fillna(0)
    return np.log((counts.recent.to_numpy() + 1) / (counts.earlier.to_numpy() + 1))


def generate(tmp: Path, config: WorldConfig) -> World:
    """Generate ``config`` into ``tmp/home`` and wrap it."""
    home = tmp / "home"
    summary = generate_world(config, out=home, progress=False)
    return World(home, summary)
