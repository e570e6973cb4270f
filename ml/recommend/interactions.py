"""Read-side helpers over the `user_title_interactions` mart: implicit matrix, explicit ratings.

The mart has one row per (user, title) watched or rated before the snapshot (see
dbt_project/models/marts/core/_core__models.yml). The recommenders need two views of it:

- **implicit confidence** (`confidence_matrix`): users × titles CSR whose entries are the mart's
  `confidence` = 1 + 2·ln(1 + watch_seconds/600) — watch time, log-damped so one binge does not
  drown ten finished films. The top-N rankers binarise it by default; the homepage uses the
  weights for taste profiles.
- **explicit ratings** (`explicit_ratings`): the latest star rating where the user gave one, and
  otherwise a rating inferred from how the user watched (`completion_to_rating`), so Surprise's
  rating models see every interaction rather than the ~6 % that carry stars.

Completion → rating mapping (half-star scale 1–5, like the ratings contract):

    c = max_completion                        movie: the best single viewing
    c = total_completion / views              series: the mean completion of its episodes played
    base = interp(c, [0, 0.25, 0.5, 0.9], [1, 2, 3, 4])  (flat at 4 above 0.9)
    rating = round_half(min(5, base + 1·[came back]))
    came back = movie watched in ≥ 2 sessions with c ≥ 0.9, or series with ≥ 3 episodes' worth
                of completion (total_completion ≥ 3) and c ≥ 0.9

Why these anchors: the scale midpoint (3) is "watched half"; a finished title is a 4 because
the explicit ratings in the world average ≈ 3.8 and are only given after ≥ 50 % completion; a
sampled-and-dropped start is a 1; the extra star is for coming back, the strongest implicit sign
of liking there is. The mapping is monotone in completion and never invents a 5 from one
viewing. Where an explicit rating exists it always wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

SOURCE = "user_title_interactions"
REQUIRED_COLUMNS = (
    "user_id",
    "title_id",
    "title_kind",
    "views",
    "watch_seconds",
    "max_completion",
    "total_completion",
    "confidence",
    "is_finished",
)
#: Completion anchors of the inferred rating (see the module docstring).
COMPLETION_ANCHORS = (0.0, 0.25, 0.5, 0.9)
RATING_ANCHORS = (1.0, 2.0, 3.0, 4.0)
RATING_MIN, RATING_MAX = 1.0, 5.0
FINISHED = 0.9


class InteractionsError(ValueError):
    """The interactions frame breaks the mart's contract; the message names row and field."""


def _bad_row(frame: pd.DataFrame, mask: pd.Series | np.ndarray, field: str, why: str) -> None:
    mask = np.asarray(mask, dtype=bool)
    if mask.any():
        pos = int(np.flatnonzero(mask)[0])
        value = frame[field].iloc[pos]
        value = value.item() if isinstance(value, np.generic) else value
        raise InteractionsError(
            f"{SOURCE}: row {pos} (user_id={frame['user_id'].iloc[pos]!r}, "
            f"title_id={frame['title_id'].iloc[pos]!r}) field {field!r}={value!r}: {why} "
            f"({int(mask.sum())} row(s) like this)"
        )


def validate_interactions(frame: pd.DataFrame) -> pd.DataFrame:
    """Check the columns and values the recommenders rely on; return the frame unchanged.

    Raises `InteractionsError` naming the first bad row (position, user, title) and field.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InteractionsError(f"{SOURCE}: missing column(s) {missing}")
    if frame.empty:
        return frame
    for key in ("user_id", "title_id"):
        _bad_row(frame, frame[key].isna(), key, "must not be null")
    _bad_row(frame, frame.duplicated(["user_id", "title_id"]), "title_id", "duplicate pair")
    for col in ("views", "watch_seconds", "max_completion", "total_completion"):
        values = pd.to_numeric(frame[col], errors="coerce")
        _bad_row(frame, values.isna() | (values < 0), col, "must be a number ≥ 0")
    conf = pd.to_numeric(frame["confidence"], errors="coerce")
    _bad_row(frame, conf.isna() | (conf <= 0), "confidence", "must be a number > 0")
    if "rating" in frame.columns:
        rating = pd.to_numeric(frame["rating"], errors="coerce")
        out = frame["rating"].notna() & ~rating.between(RATING_MIN, RATING_MAX)
        _bad_row(frame, out, "rating", f"must be in [{RATING_MIN}, {RATING_MAX}] or null")
    return frame


@dataclass(frozen=True)
class InteractionMatrix:
    """A users × titles CSR plus the ids its rows and columns stand for (both sorted)."""

    users: np.ndarray
    items: np.ndarray
    matrix: sp.csr_matrix

    def user_rows(self, user_ids: Any) -> np.ndarray:
        """Row index of each user id (−1 for users not in the matrix)."""
        return _positions(self.users, user_ids)

    def item_cols(self, title_ids: Any) -> np.ndarray:
        """Column index of each title id (−1 for titles not in the matrix)."""
        return _positions(self.items, title_ids)


def _positions(sorted_ids: np.ndarray, ids: Any) -> np.ndarray:
    ids = np.asarray(ids, dtype=object)
    if len(sorted_ids) == 0:
        return np.full(len(ids), -1, dtype=np.int64)
    pos = np.searchsorted(sorted_ids, ids)
    pos = np.clip(pos, 0, len(sorted_ids) - 1)
    found = sorted_ids[pos] == ids
    return np.where(found, pos, -1).astype(np.int64)


def confidence_matrix(
    frame: pd.DataFrame,
    users: Any = None,
    items: Any = None,
    weight: str = "confidence",
) -> InteractionMatrix:
    """Users × titles matrix of `weight` (default the mart's watch-time confidence).

    `users`/`items` fix the row/column universe (e.g. every user and every released title, so
    users with no history still get a row); pairs outside it are dropped. By default the
    universe is the ids present in the frame. Ids are sorted, so the layout is deterministic.
    """
    validate_interactions(frame)
    user_ids = np.sort(
        np.asarray(frame["user_id"].unique() if users is None else pd.unique(np.asarray(users)))
    ).astype(object)
    item_ids = np.sort(
        np.asarray(frame["title_id"].unique() if items is None else pd.unique(np.asarray(items)))
    ).astype(object)
    rows = _positions(user_ids, frame["user_id"].to_numpy())
    cols = _positions(item_ids, frame["title_id"].to_numpy())
    keep = (rows >= 0) & (cols >= 0)
    values = pd.to_numeric(frame[weight]).to_numpy(dtype=np.float64)[keep]
    matrix = sp.csr_matrix((values, (rows[keep], cols[keep])), shape=(len(user_ids), len(item_ids)))
    matrix.sum_duplicates()
    return InteractionMatrix(user_ids, item_ids, matrix)


def viewing_completion(frame: pd.DataFrame) -> np.ndarray:
    """How completely each pair was watched: the best viewing of a movie, the mean completion of
    the episodes played of a series (0 for a rated-only pair)."""
    views = frame["views"].to_numpy(dtype=np.float64)
    best = frame["max_completion"].to_numpy(dtype=np.float64)
    mean = np.divide(
        frame["total_completion"].to_numpy(dtype=np.float64),
        views,
        out=np.zeros(len(frame)),
        where=views > 0,
    )
    series = (frame["title_kind"] == "series").to_numpy()
    return np.clip(np.where(series, mean, best), 0.0, 1.0)


def completion_to_rating(frame: pd.DataFrame) -> np.ndarray:
    """The inferred star rating of each pair from how it was watched (module docstring)."""
    completion = viewing_completion(frame)
    base = np.interp(completion, COMPLETION_ANCHORS, RATING_ANCHORS)
    series = (frame["title_kind"] == "series").to_numpy()
    views = frame["views"].to_numpy(dtype=np.float64)
    total = frame["total_completion"].to_numpy(dtype=np.float64)
    came_back = (completion >= FINISHED) & np.where(series, total >= 3.0, views >= 2)
    rating = np.minimum(RATING_MAX, base + came_back.astype(float))
    return np.clip(np.round(rating * 2.0) / 2.0, RATING_MIN, RATING_MAX)


def explicit_ratings(frame: pd.DataFrame, infer: bool = True) -> pd.DataFrame:
    """Ratings for the Surprise models: `user_id, item_id, rating, source`.

    `source` is `explicit` where the user rated the title (their latest rating) and `inferred`
    where the rating comes from `completion_to_rating`; with `infer=False` only explicit rows
    are returned. Rated-only pairs (no views) keep their explicit rating.
    """
    validate_interactions(frame)
    stars = (
        pd.to_numeric(frame["rating"], errors="coerce").to_numpy(dtype=np.float64)
        if "rating" in frame.columns
        else np.full(len(frame), np.nan)
    )
    has = ~np.isnan(stars)
    if infer:
        inferred = completion_to_rating(frame) if len(frame) else np.zeros(0)
        rating = np.where(has, stars, inferred)
        keep = np.ones(len(frame), dtype=bool)
    else:
        rating, keep = stars, has
    out = pd.DataFrame(
        {
            "user_id": frame["user_id"].to_numpy()[keep],
            "item_id": frame["title_id"].to_numpy()[keep],
            "rating": rating[keep],
            "source": np.where(has, "explicit", "inferred")[keep],
        }
    )
    return out.sort_values(["user_id", "item_id"], kind="stable").reset_index(drop=True)


def event_time(frame: pd.DataFrame) -> pd.Series:
    """When a pair entered the user's history: the first viewing, else the rating (UTC)."""
    first = pd.to_datetime(frame["first_watched_at"], utc=True)
    if "rated_at" in frame.columns:
        first = first.fillna(pd.to_datetime(frame["rated_at"], utc=True))
    return first
