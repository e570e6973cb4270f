"""The evaluation harness: the split reproduces MS Recommenders' splitter, and on ml-100k the
figures land where the published anchors say (ANCHORS.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from reco_helpers import toy_ratings

from ml.recommend.evaluate import (
    IndexedSplit,
    evaluate_movielens,
    evaluate_rating,
    stratified_split,
    temporal_split,
    tune_ease,
    tune_ease_item_user,
)
from ml.recommend.rating import BaselineOnlyRating


def test_stratified_split_is_per_user_75_25_and_seeded() -> None:
    df = pd.DataFrame({"user_id": np.repeat([1, 2], [8, 4]), "item_id": np.arange(12)})
    train, test = stratified_split(df, 0.75, seed=42)
    assert train.groupby("user_id").size().to_dict() == {1: 6, 2: 3}
    assert len(test) == 3 and set(train.index).isdisjoint(test.index)
    again, _ = stratified_split(df, 0.75, seed=42)
    other, _ = stratified_split(df, 0.75, seed=7)
    pd.testing.assert_frame_equal(train, again)
    assert set(train["item_id"]) != set(other["item_id"])


def test_stratified_split_follows_the_ms_recipe() -> None:
    """One draw per row in row order from the legacy seed-42 stream; lowest draws train."""
    df = pd.DataFrame({"user_id": [1] * 4, "item_id": [10, 11, 12, 13]})
    draws = np.random.RandomState(42).rand(4)
    _, test = stratified_split(df, 0.75, seed=42)
    assert test["item_id"].tolist() == [10 + int(np.argmax(draws))]


def test_temporal_split_drops_unknown_test_users() -> None:
    df = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 3], "timestamp": [1, 5, 6]})
    train, test = temporal_split(df, cut=4)
    assert train["item_id"].tolist() == [1] and test["item_id"].tolist() == [2]


def test_indexed_split_keeps_test_only_items_relevant_but_unreachable() -> None:
    train = pd.DataFrame({"user_id": [1, 2], "item_id": [10, 11]})
    test = pd.DataFrame({"user_id": [1, 1], "item_id": [11, 99]})
    split = IndexedSplit.build(train, test)
    assert split.train.shape == (2, 2)
    assert split.relevant[0].tolist() == [1, 2]  # 99 gets a column past the catalogue


def test_tune_ease_returns_a_grid_point() -> None:
    rng = np.random.default_rng(0)
    import scipy.sparse as sp

    X = sp.csr_matrix((rng.random((60, 20)) < 0.3).astype(float))
    best, table = tune_ease(X, grid=((1.0, 0.0), (50.0, 0.0)), seeds=(0,))
    assert best in table and set(table) == {(1.0, 0.0), (50.0, 0.0)}


def test_tune_ease_item_user_picks_grid_points_from_training_only() -> None:
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    X = sp.csr_matrix((rng.random((50, 18)) < 0.3) * rng.integers(1, 6, (50, 18)).astype(float))
    kwargs = dict(
        powers=(0.0, 0.5),
        item_grid=((5.0, 0.0), (50.0, 1.0)),
        user_grid=((5.0, 0.0), (50.0, 0.0)),
        seeds=(0,),
    )
    a = tune_ease_item_user(X, **kwargs)
    assert (a.power, *a.item) in a.item_table and a.user in a.user_table
    assert len(a.item_table) == 4 and a.binary in ((5.0, 0.0), (50.0, 1.0))
    assert a.item_table[(a.power, *a.item)] == max(a.item_table.values())
    assert a == tune_ease_item_user(X, **kwargs)  # deterministic


def _textbook_tables(X, powers, item_grid, seeds, k=10):
    """`tune_ease_item_user`'s item table the slow way: every grid point a direct
    items × items inverse, as before the fast paths."""
    from ml.recommend.evaluate import _validation_split
    from ml.recommend.metrics import ranking_metrics
    from ml.recommend.rankers import EASERanker, _standardize, top_k

    def ease(W, lam, alpha):
        g = W.T @ W
        p = np.linalg.inv(g + np.diag(lam + alpha * np.diag(g)))
        b = -p / np.diag(p)[None, :]
        np.fill_diagonal(b, 0.0)
        return W @ b

    splits = [_validation_split(X, 0.1, seed) for seed in seeds]
    item = {}
    for fit, held in splits:
        for p in powers:
            W = EASERanker(binary=p == 0.0, power=p)._input(fit, fit=True).toarray()
            for lam, alpha in item_grid:
                ndcg = ranking_metrics(top_k(ease(W, lam, alpha), k, fit), held, k).ndcg_at_k
                item[(p, lam, alpha)] = item.get((p, lam, alpha), 0.0) + ndcg / len(seeds)
    return splits, item, ease, _standardize, top_k, ranking_metrics


def test_tune_ease_item_user_fast_path_equals_the_direct_inverses() -> None:
    """The tuning tables from the Woodbury/no-B path equal the direct-inverse tables (to
    rounding), so the same grid point is chosen — with fewer users than items and with more."""
    import scipy.sparse as sp

    from ml.recommend.rankers import EASERanker

    grid = dict(
        powers=(0.0, 0.5, 1.0),
        item_grid=((2.0, 0.0), (20.0, 0.0), (20.0, 1.0)),
        user_grid=((2.0, 0.0), (20.0, 2.0)),
        seeds=(0, 1),
    )
    for n_users, n_items in ((30, 70), (70, 30)):
        rng = np.random.default_rng(n_users)
        dense = (rng.random((n_users, n_items)) < 0.3) * rng.integers(1, 6, (n_users, n_items))
        X = sp.csr_matrix(dense.astype(float))
        fast = tune_ease_item_user(X, **grid)
        splits, item, ease, standardize, top_k, metrics = _textbook_tables(
            X, grid["powers"], grid["item_grid"], grid["seeds"]
        )
        assert fast.item_table == pytest.approx(item, abs=1e-12)
        assert (fast.power, *fast.item) == max(
            item, key=lambda pt: (round(item[pt], 12), pt[1], -pt[2], -pt[0])
        )
        p = fast.power
        user = {}
        for fit, held in splits:
            W = EASERanker(binary=p == 0.0, power=p)._input(fit, fit=True).toarray()
            item_z = standardize(ease(W, *fast.item))
            for lam, alpha in grid["user_grid"]:
                q = np.linalg.inv(W @ W.T + np.diag(lam + alpha * (W**2).sum(axis=1)))
                scores = W - (q @ W) / np.diag(q)[:, None]
                recs = top_k(0.5 * item_z + 0.5 * standardize(scores), 10, fit)
                user[(lam, alpha)] = user.get((lam, alpha), 0.0) + metrics(
                    recs, held, 10
                ).ndcg_at_k / len(splits)
        assert fast.user_table == pytest.approx(user, abs=1e-12)


def _planted_ratings(seed: int = 0) -> pd.DataFrame:
    """Two taste groups of 60 users over 50 items: each user watches a third of every item,
    but rates their own group's items 4–5 and the other group's 1–2, so what a user will love
    next is written in the ratings, and only weakly in who watched what."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(120):
        own = u % 2
        for i in range(50):
            if rng.random() < (0.45 if i % 2 == own else 0.25):
                stars = rng.integers(4, 6) if i % 2 == own else rng.integers(1, 3)
                rows.append((u, i, float(stars)))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])


def test_tuning_on_validation_finds_the_signal_planted_in_the_ratings() -> None:
    """On a world whose taste lives in the ratings, validation alone (training part only)
    picks a confidence exponent > 0, and the tuned models beat popularity on held-out items
    of the user's own group, on every split seed."""
    from ml.recommend.evaluate import default_rankers, evaluate_ranking, split_seeds

    ratings = _planted_ratings()
    for seed in split_seeds(3):
        train, test = stratified_split(ratings, 0.75, seed)
        own = test["item_id"] % 2 == test["user_id"] % 2
        split = IndexedSplit.build(train, test[own], weight_col="rating")
        tuned = tune_ease_item_user(split.train, seeds=(0,))
        assert tuned.power > 0.0
        names = ["popularity", "ease", "ease_item_user"]
        rows = evaluate_ranking(split, default_rankers(split, seed, names), k=10)
        assert rows["ease_item_user"]["ndcg_at_k"] > rows["ease"]["ndcg_at_k"]
        assert rows["ease"]["ndcg_at_k"] > rows["popularity"]["ndcg_at_k"]


def test_seed_summary_reports_mean_sd_and_every_seed() -> None:
    from ml.recommend.evaluate import split_seeds, summarize_seeds

    assert split_seeds(1) == (42,) and split_seeds(3) == (42, 43, 44)
    with pytest.raises(ValueError, match="at least one"):
        split_seeds(0)
    per_seed = {
        42: {"ease": {"ndcg_at_k": 0.4, "l2": 200.0}},
        43: {"ease": {"ndcg_at_k": 0.5, "l2": 300.0}},
    }
    row = summarize_seeds(per_seed)["ease"]
    assert row["ndcg_at_k"] == pytest.approx(0.45)
    assert row["ndcg_at_k_sd"] == pytest.approx(np.std([0.4, 0.5], ddof=1))
    assert row["per_seed"] == {"ndcg_at_k": [0.4, 0.5], "l2": [200.0, 300.0]}
    assert "l2" not in row  # a choice differs per seed: reported per seed only
    one = summarize_seeds({42: per_seed[42]})["ease"]
    assert one["ndcg_at_k"] == 0.4 and one["ndcg_at_k_sd"] is None and one["l2"] == 200.0


def test_rating_cv_uses_surprise_folds() -> None:
    df = toy_ratings()
    out = evaluate_rating(df, {"baseline_only": BaselineOnlyRating}, n_splits=3)
    row = out["baseline_only"]
    assert len(row["rmse_folds"]) == 3
    assert 0 < row["mae"] < row["rmse"] < 2


def test_rating_cv_in_worker_processes_gives_the_same_figures() -> None:
    """The (model, fold) fits are the same computations in workers: identical figures."""
    from ml.recommend.rating import SVDRating

    df = toy_ratings()
    models = {"baseline_only": BaselineOnlyRating, "svd": lambda: SVDRating(n_epochs=5)}
    serial = evaluate_rating(df, models, n_splits=3)
    parallel = evaluate_rating(df, models, n_splits=3, n_jobs=2)
    for name in models:
        for metric in ("rmse", "mae", "rmse_folds"):
            assert parallel[name][metric] == serial[name][metric]


def test_similarity_budget_counts_surprises_five_arrays() -> None:
    from ml.recommend.evaluate import similarity_bytes
    from ml.recommend.rating import KNNBaselineRating

    df = toy_ratings(n_users=60, n_items=40)
    item_based = KNNBaselineRating(sim_options={"user_based": False})
    assert similarity_bytes(item_based, df) == 5 * 8 * df["item_id"].nunique() ** 2
    assert similarity_bytes(KNNBaselineRating(), df) == 5 * 8 * df["user_id"].nunique() ** 2
    assert similarity_bytes(BaselineOnlyRating(), df) == 0


@pytest.mark.integration
def test_ml100k_rating_protocol_matches_surprise_benchmark(real_data) -> None:
    from ml.datasets import load_ml100k_ratings

    df = load_ml100k_ratings(real_data("ml-100k", "u.data").parent.parent)
    out = evaluate_rating(df, {"baseline_only": BaselineOnlyRating})
    # Surprise's published table: BaselineOnly 0.944 / 0.748 with the same folds.
    assert out["baseline_only"]["rmse"] == pytest.approx(0.944, abs=0.002)
    assert out["baseline_only"]["mae"] == pytest.approx(0.748, abs=0.002)


@pytest.mark.integration
@pytest.mark.slow
def test_ml100k_ranking_protocol_orders_models_as_the_anchors_say(real_data) -> None:
    data_dir = real_data("ml-100k", "u.data").parent.parent
    out = evaluate_movielens("movielens-100k", data_dir, protocol="ranking")
    m = {name: row["ndcg_at_k"] for name, row in out["models"].items()}
    # The harness reproduces the published protocol: its baselines land on MS Recommenders'
    # figures (SVD as a ranker ≈ 0.096; popularity P@10 ≈ 0.2–0.3). Which tuned model is best,
    # and by how much, is a claim about the test split and is not asserted here (issue 17):
    # the tuning is tested on validation data and planted worlds above.
    assert m["svd"] < 0.15
    assert 0.18 < out["models"]["popularity"]["precision_at_k"] < 0.32
    assert m["random"] < m["svd"] < m["popularity"]
