"""The production Top Picks trainer: fit on the warehouse's own data, and an honest temporal
evaluation (what the recommender flow measures and the registry's gate compares; the module was
once misnamed `synthetic`, after the world it was first run on).

Temporal protocol (the synthetic world, or any service's marts):
  - each (user, title) pair enters history at its first viewing (else its rating): `event_time`;
  - cut = the last event − `holdout_days` (or a given date); train = pairs before the cut;
    test = pairs that start at or after it, for users seen in training (a user the model never
    saw cannot be ranked by it; cold start is the homepage's job, not this score's);
  - top-k over titles in training minus each user's training titles; relevance = any test pair
    (titles released after the cut count as relevant yet cannot be recommended: not flattered);
  - the rankers are binary (played or not), so the mart's whole-history confidence values do not
    leak the future into training.
The JSON shape is the one of `evaluate_movielens`: {"dataset", "protocol", "models"}.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd

from ml.recommend.evaluate import (
    IndexedSplit,
    evaluate_ranking,
    genre_vectors,
    temporal_split,
    tune_ease,
)
from ml.recommend.homepage import TopPicksModel
from ml.recommend.interactions import confidence_matrix, event_time, validate_interactions
from ml.recommend.rankers import (
    BlendRanker,
    EASERanker,
    ItemKNNRanker,
    PopularityRanker,
    RandomRanker,
    Ranker,
)

TOP_PICKS_MODELS = ("ease", "item_knn", "blend", "popularity")
#: Why this evaluation reports no RMSE/MAE (shown by the CLI where those columns are empty).
RATING_ERROR_NOT_MEASURED = (
    "n/a: these models rank titles from plays (played or not) and predict no rating, so there "
    "is no rating error to measure; the rating protocol (RMSE/MAE, 5-fold) runs on MovieLens "
    "(--protocol rating)"
)
BASELINES = ("popularity", "random")


class NotEnoughData(ValueError):
    """The interactions cannot support a fit or a temporal holdout (says why)."""


def make_ranker(
    name: str, X: Any, random_state: int = 42, ease_params: tuple[float, float] | None = None
) -> Ranker:
    """An unfitted ranker by name. EASE's (λ, α) are `ease_params`, else tuned on `X` itself
    (validation splits of the training matrix, never the test set)."""
    if name in ("ease", "blend"):
        l2, alpha = ease_params or tune_ease(X)[0]
        ease = EASERanker(l2=l2, diag_dropout=alpha)
        if name == "ease":
            return ease
        return BlendRanker([("ease", ease), ("item_knn", ItemKNNRanker(k=100))], [0.8, 0.2])
    if name == "item_knn":
        return ItemKNNRanker(k=100, shrink=10.0)
    if name == "popularity":
        return PopularityRanker()
    if name == "random":
        return RandomRanker(random_state=random_state)
    raise ValueError(f"unknown model {name!r}; choose from {', '.join(TOP_PICKS_MODELS)}, random")


def fit_top_picks(
    interactions: pd.DataFrame,
    model: str = "ease",
    random_state: int = 42,
    ease_params: tuple[float, float] | None = None,
) -> TopPicksModel:
    """Fit the Top Picks ranker on every interaction (binary: played or not).

    `ease_params` = (λ, α) chosen on the evaluation's training split, so the saved model is the
    configuration the holdout measured; None tunes them on all interactions."""
    validate_interactions(interactions)
    if interactions.empty:
        raise NotEnoughData("user_title_interactions is empty: nothing to fit Top Picks on")
    data = confidence_matrix(interactions)
    ranker = make_ranker(model, data.matrix, random_state, ease_params).fit(data.matrix)
    return TopPicksModel(ranker=ranker, items=data.items, name=model, params=ranker.get_params())


def holdout_cut(
    interactions: pd.DataFrame, holdout_days: int = 28, cut: Any = None
) -> pd.Timestamp:
    """The cut date: `cut` if given, else the last event minus `holdout_days` (UTC)."""
    if cut is not None:
        ts = pd.Timestamp(cut)
        return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    times = event_time(interactions)
    if times.isna().all():
        raise NotEnoughData("no interaction has a time (first_watched_at or rated_at)")
    return times.max().floor("D") - pd.Timedelta(days=holdout_days)


def temporal_holdout(
    interactions: pd.DataFrame, holdout_days: int = 28, cut: Any = None
) -> tuple[IndexedSplit, pd.Timestamp, str]:
    """(split, cut, holdout_id): the temporal split in matrix space, and a hash of its test pairs
    (the registry's gate compares only scores measured on the same holdout)."""
    validate_interactions(interactions)
    if interactions.empty:
        raise NotEnoughData("user_title_interactions is empty: run `tastemaker run` first")
    cut_ts = holdout_cut(interactions, holdout_days, cut)
    frame = pd.DataFrame(
        {
            "user_id": interactions["user_id"].astype(str).to_numpy(),
            "item_id": interactions["title_id"].astype(str).to_numpy(),
            "timestamp": event_time(interactions).to_numpy(),
        }
    ).dropna(subset=["timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    train, test = temporal_split(frame, cut_ts)
    if train.empty or test.empty:
        raise NotEnoughData(
            f"temporal split at {cut_ts.date()} leaves {len(train)} training and {len(test)} "
            "test pairs: choose another --holdout-days"
        )
    split = IndexedSplit.build(train, test)
    digest = hashlib.sha256()
    digest.update(cut_ts.isoformat().encode())
    for user, item in sorted(zip(test["user_id"], test["item_id"], strict=True)):
        digest.update(f"{user}\t{item}\n".encode())
    return split, cut_ts, f"temporal:{cut_ts.date()}:{digest.hexdigest()[:16]}"


def evaluate_temporal(
    interactions: pd.DataFrame,
    title_features: pd.DataFrame | None = None,
    holdout_days: int = 28,
    k: int = 10,
    models: list[str] | None = None,
    cut: Any = None,
    random_state: int = 42,
) -> dict[str, Any]:
    """Every Top Picks candidate side by side with popularity and random on the temporal split.

    Returns `{"dataset": "synthetic", "protocol": {...}, "models": {name: {metric: value}}}`
    (ndcg_at_k etc. from `evaluate_ranking`, plus `ndcg_at_10` when k = 10).
    """
    split, cut_ts, holdout_id = temporal_holdout(interactions, holdout_days, cut)
    names = list(models or (*TOP_PICKS_MODELS, "random"))
    for base in BASELINES:
        if base not in names:
            names.append(base)
    ease_params = tune_ease(split.train)[0] if {"ease", "blend"} & set(names) else None
    rankers = {n: make_ranker(n, split.train, random_state, ease_params) for n in names}
    vectors = None
    if title_features is not None and "genres" in title_features.columns:
        items = title_features.rename(columns={"title_id": "item_id"})[["item_id", "genres"]]
        vectors = genre_vectors(items.assign(genres=items["genres"].fillna("")), split.items)
    results = evaluate_ranking(split, rankers, k, vectors)
    for row in results.values():
        row[f"ndcg_at_{k}"] = row["ndcg_at_k"]
    times = event_time(interactions).dropna()
    protocol = {
        "temporal": {
            "split": f"train = pairs first played before {cut_ts.date()}, test = pairs first "
            "played on or after it (users seen in training)",
            "cut": cut_ts.isoformat(),
            "holdout_days": holdout_days,
            "holdout_id": holdout_id,
            "k": k,
            "candidates": "titles in training, minus each user's training titles",
            "relevance": "any title first played after the cut",
            "rating_error": RATING_ERROR_NOT_MEASURED,
            "data_window": {
                "start": times.min().isoformat() if len(times) else None,
                "end": times.max().isoformat() if len(times) else None,
            },
            "train_pairs": int(split.train.nnz),
            "test_pairs": int(sum(len(r) for r in split.relevant)),
            "users": len(split.users),
            "titles": len(split.items),
        }
    }
    return {"dataset": "synthetic", "protocol": protocol, "models": results}


def popularity_lift(
    result: dict[str, Any], model: str = "ease", metric: str = "ndcg_at_k"
) -> float:
    """How much `model` beats popularity on `metric` in an `evaluate_temporal` result."""
    rows = result["models"]
    return float(rows[model][metric] - rows["popularity"][metric])


def describe(result: dict[str, Any]) -> pd.DataFrame:
    """The result's models as a frame (one row per model), for tables and artifacts."""
    return pd.DataFrame(result["models"]).T.rename_axis("model").reset_index()
