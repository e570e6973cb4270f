"""The personalized homepage: ordered rows of titles for every user, vectorized over users.

Rows (row_name → what fills it):

- `continue_watching`  partially watched pairs (not finished, past an accidental start, watched in
                       the last `cw_max_age_days`), most recent first. The only row that may show a
                       title the user has already played.
- `top_picks`          the Top Picks model (EASE by default) over everything the user has not
                       played. A user without history gets all-time popularity ("Popular on
                       Tastemaker"): a collaborative model has nothing to go on.
- `because_you_watched`, `because_you_watched_2`  item-item cosine neighbours (co-viewing) of the
                       user's most recently *finished* titles (the anchors), row title
                       "Because You Watched <anchor>".
- `trending_now`       time-decayed recent popularity: Σ over viewers of 2^(−age/half-life),
                       age = days since the viewer last played the title.
- `new_for_you`        cold-start titles (released, few or no viewers: ≤ `cold_max_viewers` or
                       the bottom `cold_quantile` of the catalogue) ranked by the TF-IDF content
                       model against the user's taste profile (confidence-weighted mean vector of
                       what they watched): collaborative models cannot place them at all.
- `context`            titles that suit the user's usual device and hour (user_features' largest
                       device_share_* and hour_share_*): late-night habit → series to binge
                       (≥ 2 seasons); mobile/tablet or morning/midday → short runtimes (≤ 30 min,
                       45 min half weight); otherwise → movies for a big-screen evening. Within the
                       fitting titles, order by the user's Top Picks percentile.

Invariants: no title twice on one homepage (rows claim titles in CLAIM_ORDER, each skipping what
an earlier row took); nothing the user has played appears outside Continue Watching (so nothing
finished either); unreleased titles never appear; ties break by title id, so the output is a
function of the inputs alone.

Row order is personalized by an *expected engagement* estimate e ∈ [0, 1] per row and user,
highest first (ties in CLAIM_ORDER). With h = 1 − exp(−titles played / 5) the strength of the
user's history:

    continue_watching      0.95 · exp(−days since the newest partial play / 7)
    top_picks              0.50 + 0.40·h
    because_you_watched_j (0.45 + 0.30·h)·exp(−days since the anchor was played / 30) − 0.05·(j−1)
    context                0.30 + 0.50·sqrt(usual-device share · usual-hour share)
    new_for_you            0.25 + 0.30·(mean content score of the row)
    trending_now           0.30 + 0.40·(1 − h)

Why: a show left half-way yesterday is what a viewer most often plays next, and less so each day;
a model's picks deserve the top only once the user has history (h), and a newcomer is best
served by what is popular now; a context row is worth more the more habitual the user's device
and hour are; cold titles are a gamble, promoted only when they match the user's taste.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from ml.recommend.content import ContentModel
from ml.recommend.interactions import (
    InteractionMatrix,
    _positions,
    confidence_matrix,
    validate_interactions,
)
from ml.recommend.rankers import ItemKNNRanker, Ranker
from ml.recommend.rows import ANONYMOUS_USER, POPULAR_ROW_TITLE
from ml.vocabulary import DEVICES, HOUR_BUCKETS

CLAIM_ORDER = (
    "continue_watching",
    "top_picks",
    "because_you_watched",
    "because_you_watched_2",
    "context",
    "new_for_you",
    "trending_now",
)
OUTPUT_COLUMNS = (
    "user_id",
    "row_position",
    "row_name",
    "row_title",
    "rank",
    "title_id",
    "score",
    "row_engagement",
    "anchor_title_id",
)
HOURS = tuple(bucket for bucket, _ in HOUR_BUCKETS)
DEVICE_LABEL = {"tv": "TV", "mobile": "Mobile", "tablet": "Tablet", "web": "the Web"}
HOUR_LABEL = {
    "late_night": "Late Night",
    "morning": "the Morning",
    "midday": "Lunchtime",
    "afternoon": "the Afternoon",
    "evening": "the Evening",
}


class HomepageError(ValueError):
    """Inputs the homepage cannot be built from; the message names the frame and field."""


@dataclass
class TopPicksModel:
    """A fitted ranker and the title ids of its columns: what the registry stores as champion.

    `score` maps any interaction matrix onto the model's columns (titles it never saw score
    −inf, so a champion trained on an older catalogue still works on today's).
    """

    ranker: Ranker
    items: np.ndarray
    name: str = "ease"
    params: dict[str, Any] = field(default_factory=dict)

    def score(self, data: InteractionMatrix) -> np.ndarray:
        """Scores users × data.items (−inf for titles the model does not know)."""
        model_cols = _positions(np.asarray(self.items, dtype=object), data.items)
        known = model_cols >= 0
        X = sp.csr_matrix((data.matrix.shape[0], len(self.items)), dtype=np.float64)
        if known.any():
            mapper = sp.csr_matrix(
                (np.ones(known.sum()), (np.flatnonzero(known), model_cols[known])),
                shape=(len(data.items), len(self.items)),
            )
            X = sp.csr_matrix(data.matrix @ mapper)
        own = np.asarray(self.ranker.score(X), dtype=np.float64)
        out = np.full((data.matrix.shape[0], len(data.items)), -np.inf)
        out[:, known] = own[:, model_cols[known]]
        return out


@dataclass(frozen=True)
class HomepageConfig:
    """Row sizes and thresholds (defaults documented in the module docstring)."""

    k: int = 10
    max_anchors: int = 2
    cw_max_age_days: float = 60.0
    cw_min_completion: float = 0.05
    trending_half_life_days: float = 7.0
    cold_max_viewers: int = 5
    cold_quantile: float = 0.1
    neighbours: int = 50
    short_runtime_minutes: int = 30


def _as_utc(values: Any) -> pd.Series:
    out = pd.to_datetime(pd.Series(values), utc=True)
    return out


def _days_before(as_of: pd.Timestamp, when: pd.Series) -> np.ndarray:
    return ((as_of - _as_utc(when)).dt.total_seconds() / 86400.0).to_numpy(dtype=np.float64)


def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user_row, item_col, rank) of each user's k best finite scores; ties → lower column."""
    if scores.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    k = min(k, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    picked = np.take_along_axis(scores, order, axis=1)
    valid = np.isfinite(picked)
    rows = np.broadcast_to(np.arange(scores.shape[0])[:, None], order.shape)[valid]
    ranks = np.broadcast_to(np.arange(1, k + 1)[None, :], order.shape)[valid]
    return rows, order[valid], ranks


def _title_frame(title_features: pd.DataFrame) -> pd.DataFrame:
    need = ("title_id", "title_name", "kind", "runtime_minutes")
    missing = [c for c in need if c not in title_features.columns]
    if missing:
        raise HomepageError(f"title_features: missing column(s) {missing}")
    titles = title_features.copy()
    if titles["title_id"].isna().any():
        pos = int(np.flatnonzero(titles["title_id"].isna())[0])
        raise HomepageError(f"title_features: row {pos} field 'title_id' is null")
    if "is_released" in titles.columns:
        titles = titles[titles["is_released"].fillna(False).astype(bool)]
    return titles.sort_values("title_id", kind="stable").reset_index(drop=True)


def _habits(user_features: pd.DataFrame, users: np.ndarray) -> pd.DataFrame:
    """Usual device and hour bucket and their shares per user (defaults without views)."""
    frame = user_features.drop_duplicates("user_id").set_index("user_id").reindex(users)
    dev_cols = [f"device_share_{d}" for d in DEVICES]
    hour_cols = [f"hour_share_{h}" for h in HOURS]
    for col in (*dev_cols, *hour_cols):
        if col not in frame.columns:
            frame[col] = 0.0
    dev = frame[dev_cols].fillna(0.0).to_numpy(dtype=np.float64)
    hour = frame[hour_cols].fillna(0.0).to_numpy(dtype=np.float64)
    has_dev = dev.sum(axis=1) > 0
    has_hour = hour.sum(axis=1) > 0
    device = np.where(has_dev, np.array(DEVICES, dtype=object)[dev.argmax(axis=1)], "tv")
    bucket = np.where(has_hour, np.array(HOURS, dtype=object)[hour.argmax(axis=1)], "evening")
    strength = np.sqrt(np.where(has_dev, dev.max(axis=1), 0.0) * hour.max(axis=1))
    return pd.DataFrame({"device": device, "hour": bucket, "strength": strength}, index=users)


def _context_kind(device: np.ndarray, hour: np.ndarray) -> np.ndarray:
    short = np.isin(device, ["mobile", "tablet"]) | np.isin(hour, ["morning", "midday"])
    return np.where(hour == "late_night", "binge", np.where(short, "short", "movie_night"))


def _context_title(kind: str, device: str, hour: str) -> str:
    if kind == "binge":
        return "Late-Night Binges"
    if kind == "short":
        return f"Quick Watches for {DEVICE_LABEL[device]} at {HOUR_LABEL[hour]}".replace(
            "at the", "in the"
        )
    return f"Movie Night on {DEVICE_LABEL[device]}"


def _suitability(titles: pd.DataFrame, short_minutes: int) -> dict[str, np.ndarray]:
    runtime = pd.to_numeric(titles["runtime_minutes"], errors="coerce").fillna(999).to_numpy()
    series = (titles["kind"] == "series").to_numpy()
    seasons = (
        pd.to_numeric(titles["seasons"], errors="coerce").fillna(0).to_numpy()
        if "seasons" in titles.columns
        else np.zeros(len(titles))
    )
    return {
        "short": np.where(runtime <= short_minutes, 1.0, np.where(runtime <= 45, 0.5, 0.0)),
        "binge": np.where(series & (seasons >= 2), 1.0, np.where(series, 0.6, 0.0)),
        "movie_night": np.where(series, 0.0, 1.0),
    }


def _percentile_rows(scores: np.ndarray) -> np.ndarray:
    """Per-row rank of each finite score scaled to [0, 1] (−inf → 0)."""
    finite = np.where(np.isfinite(scores), scores, -np.inf)
    ranks = np.argsort(np.argsort(finite, axis=1, kind="stable"), axis=1, kind="stable")
    return ranks / max(scores.shape[1] - 1, 1)


def build_homepages(
    interactions: pd.DataFrame,
    title_features: pd.DataFrame,
    user_features: pd.DataFrame,
    top_picks: TopPicksModel,
    content: ContentModel | None = None,
    config: HomepageConfig | None = None,
    as_of: Any = None,
    users: Sequence[str] | None = None,
    include_anonymous: bool = True,
) -> pd.DataFrame:
    """Every user's homepage rows as one frame with OUTPUT_COLUMNS (see the module docstring).

    Args:
        interactions: the `user_title_interactions` mart (validated).
        title_features: the `title_features` mart (names, kind, runtime, release, viewers).
        user_features: the `user_features` mart (device and hour shares).
        top_picks: the fitted Top Picks model (the registry's champion).
        content: a fitted ContentModel over the catalogue; None = New for You is left out.
        as_of: the "now" for recency (default: the marts' snapshot date, else the last play).
        users: whose homepages to build (default: every user in user_features ∪ interactions).
        include_anonymous: also build a homepage for `ANONYMOUS_USER` (no history), which the
            CLI shows for user ids the warehouse does not know.
    """
    cfg = config or HomepageConfig()
    validate_interactions(interactions)
    titles = _title_frame(title_features)
    items = titles["title_id"].to_numpy(dtype=object)
    if users is None:
        users = np.union1d(
            user_features["user_id"].dropna().astype(str).to_numpy(),
            interactions["user_id"].astype(str).to_numpy(),
        )
    user_ids = np.sort(np.asarray(list(users), dtype=object))
    if include_anonymous:
        user_ids = np.sort(np.append(user_ids[user_ids != ANONYMOUS_USER], ANONYMOUS_USER))
    if as_of is None:
        if (
            "snapshot_date" in title_features.columns
            and title_features["snapshot_date"].notna().any()
        ):
            as_of = title_features["snapshot_date"].max()
        elif len(interactions):
            as_of = pd.to_datetime(interactions["last_watched_at"]).max()
        else:
            as_of = pd.Timestamp.now(tz="UTC")
    now = pd.Timestamp(as_of)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")

    inter = interactions[
        interactions["user_id"].isin(user_ids) & interactions["title_id"].isin(items)
    ].reset_index(drop=True)
    data = confidence_matrix(inter, users=user_ids, items=items)
    n_users, n_items = data.matrix.shape
    rows_u = data.user_rows(inter["user_id"].to_numpy())
    cols_i = data.item_cols(inter["title_id"].to_numpy())
    seen = (data.matrix > 0).toarray()
    n_seen = seen.sum(axis=1)
    history = 1.0 - np.exp(-n_seen / 5.0)
    age = (
        _days_before(now, inter["last_watched_at"]) if len(inter) else np.zeros(0, dtype=np.float64)
    )
    finished = inter["is_finished"].fillna(False).to_numpy(dtype=bool)

    scores: dict[str, np.ndarray] = {}
    titles_of_row: dict[str, np.ndarray] = {}
    engagement: dict[str, np.ndarray] = {}
    anchors_of_row: dict[str, np.ndarray] = {}

    # Continue Watching: partial plays, most recent first (score = recency weight).
    partial = (
        ~finished
        & (inter["max_completion"].to_numpy(dtype=np.float64) >= cfg.cw_min_completion)
        & np.isfinite(age)
        & (age <= cfg.cw_max_age_days)
    )
    cw = np.full((n_users, n_items), -np.inf)
    recency = np.exp(-np.clip(age, 0, None) / 7.0)
    cw[rows_u[partial], cols_i[partial]] = recency[partial]
    scores["continue_watching"] = cw
    engagement["continue_watching"] = 0.95 * np.where(
        np.isfinite(cw).any(axis=1), np.max(np.where(np.isfinite(cw), cw, 0.0), axis=1), 0.0
    )

    unseen = ~seen
    # Top Picks: the model, or all-time popularity for users with no history.
    model_scores = top_picks.score(data)
    popularity = seen.sum(axis=0).astype(np.float64)
    if "viewers" in titles.columns:
        popularity = pd.to_numeric(titles["viewers"], errors="coerce").fillna(0).to_numpy(float)
    no_history = n_seen == 0
    picks = np.where(no_history[:, None], popularity[None, :], model_scores)
    scores["top_picks"] = np.where(unseen, picks, -np.inf)
    engagement["top_picks"] = 0.5 + 0.4 * history

    # Because You Watched: neighbours of the most recently finished titles.
    binary = (data.matrix > 0).astype(np.float64)
    similarity = (
        ItemKNNRanker(k=min(cfg.neighbours, max(n_items - 1, 1)), shrink=10.0)
        .fit(binary)
        .similarity_
        if n_items > 1
        else np.zeros((n_items, n_items))
    )
    anchor_frame = pd.DataFrame(
        {"row": rows_u[finished], "col": cols_i[finished], "age": age[finished]}
    ).sort_values(["row", "age", "col"], kind="stable")
    anchor_frame["nth"] = anchor_frame.groupby("row").cumcount()
    for j in range(cfg.max_anchors):
        name = "because_you_watched" if j == 0 else f"because_you_watched_{j + 1}"
        pick = anchor_frame[anchor_frame["nth"] == j]
        anchor = np.full(n_users, -1, dtype=np.int64)
        anchor_age = np.full(n_users, np.inf)
        anchor[pick["row"].to_numpy()] = pick["col"].to_numpy()
        anchor_age[pick["row"].to_numpy()] = pick["age"].to_numpy()
        has = anchor >= 0
        sim = np.full((n_users, n_items), -np.inf)
        # Columns of the similarity matrix hold each target's neighbours: row = anchor.
        sim[has] = np.where(similarity[anchor[has]] > 0, similarity[anchor[has]], -np.inf)
        scores[name] = np.where(unseen, sim, -np.inf)
        anchors_of_row[name] = anchor
        engagement[name] = (
            np.where(
                has,
                (0.45 + 0.3 * history) * np.exp(-np.nan_to_num(anchor_age, posinf=1e9) / 30.0),
                0.0,
            )
            - 0.05 * j
        ).clip(0.0, None)

    # Trending Now: time-decayed recent popularity (same for everyone, minus what they played).
    trend = np.zeros(n_items)
    if len(inter):
        decay = np.where(
            np.isfinite(age), 2.0 ** (-np.clip(age, 0, None) / cfg.trending_half_life_days), 0.0
        )
        np.add.at(trend, cols_i, decay)
    trend_norm = trend / trend.max() if trend.max() > 0 else trend
    scores["trending_now"] = np.where(unseen & (trend > 0)[None, :], trend_norm[None, :], -np.inf)
    engagement["trending_now"] = 0.3 + 0.4 * (1.0 - history)

    # Context row: titles suited to the usual device and hour, in Top Picks order.
    habits = _habits(user_features, user_ids)
    kinds = _context_kind(habits["device"].to_numpy(), habits["hour"].to_numpy())
    suit = _suitability(titles, cfg.short_runtime_minutes)
    fit = np.vstack([suit[k] for k in kinds]) if n_users else np.zeros((0, n_items))
    relevance = _percentile_rows(np.where(no_history[:, None], trend_norm[None, :], picks))
    context = fit * (0.5 + 0.5 * relevance)
    scores["context"] = np.where(unseen & (fit > 0), context, -np.inf)
    engagement["context"] = 0.3 + 0.5 * habits["strength"].to_numpy()
    context_titles = np.array(
        [
            _context_title(k, d, h)
            for k, d, h in zip(kinds, habits["device"], habits["hour"], strict=True)
        ],
        dtype=object,
    )
    titles_of_row["context"] = context_titles

    # New for You: cold titles by content similarity to the user's taste profile.
    if content is not None and n_items:
        viewers = (
            pd.to_numeric(titles["viewers"], errors="coerce").fillna(0).to_numpy(float)
            if "viewers" in titles.columns
            else seen.sum(axis=0).astype(float)
        )
        limit = max(cfg.cold_max_viewers, float(np.quantile(viewers, cfg.cold_quantile)))
        cold = viewers <= limit
        vec_rows = _positions(np.asarray(content.title_ids_, dtype=object), items)
        vectors = sp.csr_matrix((n_items, content.vectors_.shape[1]))
        known = vec_rows >= 0
        if known.any():
            pick_rows = sp.csr_matrix(
                (np.ones(known.sum()), (np.flatnonzero(known), vec_rows[known])),
                shape=(n_items, content.vectors_.shape[0]),
            )
            vectors = sp.csr_matrix(pick_rows @ content.vectors_)
        profile = normalize(sp.csr_matrix(data.matrix @ vectors))
        taste = np.asarray((profile @ vectors.T).todense())
        days_out = (
            pd.to_numeric(titles["days_since_release"], errors="coerce").fillna(1e4).to_numpy()
            if "days_since_release" in titles.columns
            else np.zeros(n_items)
        )
        freshness = 1e-3 * np.exp(-np.clip(days_out, 0, None) / 90.0)
        new = taste + freshness[None, :]
        scores["new_for_you"] = np.where(unseen & (cold & known)[None, :], new, -np.inf)
        engagement["new_for_you"] = np.zeros(n_users)  # set after the row is filled

    # Claim titles row by row; no title twice on a homepage.
    used = np.zeros((n_users, n_items), dtype=bool)
    parts: list[pd.DataFrame] = []
    names = titles["title_name"].astype(str).to_numpy()
    for row_name in CLAIM_ORDER:
        if row_name not in scores:
            continue
        s = np.where(used, -np.inf, scores[row_name])
        r, c, rank = _top_k(s, cfg.k)
        used[r, c] = True
        value = s[r, c]
        if row_name == "new_for_you":
            mean = np.zeros(n_users)
            counts = np.bincount(r, minlength=n_users)
            np.add.at(mean, r, value)
            mean = np.divide(mean, counts, out=np.zeros(n_users), where=counts > 0)
            engagement["new_for_you"] = 0.25 + 0.3 * np.clip(mean, 0.0, 1.0)
        if row_name.startswith("because_you_watched"):
            anchor = anchors_of_row[row_name][r]
            row_title = np.array([f"Because You Watched {names[a]}" for a in anchor], dtype=object)
            anchor_id = items[anchor]
        else:
            anchor_id = np.full(len(r), None, dtype=object)
            if row_name in titles_of_row:
                row_title = titles_of_row[row_name][r]
            elif row_name == "top_picks":
                row_title = np.where(no_history[r], POPULAR_ROW_TITLE, "Top Picks for You")
            else:
                row_title = np.full(len(r), ROW_TITLES[row_name], dtype=object)
        parts.append(
            pd.DataFrame(
                {
                    "user_id": user_ids[r],
                    "row_name": row_name,
                    "row_title": row_title,
                    "rank": rank.astype(np.int64),
                    "title_id": items[c],
                    "score": value.astype(np.float64),
                    "row_engagement": engagement[row_name][r].astype(np.float64),
                    "anchor_title_id": anchor_id,
                    "_claim": CLAIM_ORDER.index(row_name),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=list(OUTPUT_COLUMNS))
    out = pd.concat(parts, ignore_index=True)
    order = (
        out.drop_duplicates(["user_id", "row_name"])[
            ["user_id", "row_name", "row_engagement", "_claim"]
        ]
        .sort_values(
            ["user_id", "row_engagement", "_claim"], ascending=[True, False, True], kind="stable"
        )
        .assign(row_position=lambda f: f.groupby("user_id").cumcount() + 1)
    )
    out = out.merge(order[["user_id", "row_name", "row_position"]], on=["user_id", "row_name"])
    out = out.sort_values(["user_id", "row_position", "rank"], kind="stable").reset_index(drop=True)
    out["row_position"] = out["row_position"].astype(np.int64)
    return out[list(OUTPUT_COLUMNS)]


ROW_TITLES = {
    "continue_watching": "Continue Watching",
    "top_picks": "Top Picks for You",
    "trending_now": "Trending Now",
    "new_for_you": "New for You",
}
