"""Rating models: vectorized score-all equals Surprise's predict() (1e-9), incl. fallbacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from reco_helpers import toy_ratings

from ml.recommend.rating import (
    BaselineOnlyRating,
    KNNBaselineRating,
    SVDppRating,
    SVDRating,
    make_rating_model,
)

MODELS = [
    BaselineOnlyRating(),
    SVDRating(n_factors=8, n_epochs=10, random_state=1),
    SVDppRating(n_factors=5, n_epochs=5, random_state=1),
    KNNBaselineRating(k=5),
    KNNBaselineRating(k=3, min_k=2, sim_options={"name": "pearson_baseline", "user_based": False}),
    KNNBaselineRating(k=4, sim_options={"name": "cosine", "user_based": True}),
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: repr(m)[:60])
def test_score_all_equals_predict_loop(model) -> None:
    df = toy_ratings()
    model.fit(df)
    scores = model.score_all()
    users = np.repeat(model.users_, len(model.items_))
    items = np.tile(model.items_, len(model.users_))
    reference = model.predict_loop(users, items).reshape(scores.shape)
    np.testing.assert_allclose(scores, reference, rtol=0, atol=1e-9)
    # Not a constant: the model learned something per pair.
    assert scores.std() > 0.05


@pytest.mark.parametrize("model", MODELS, ids=lambda m: repr(m)[:60])
def test_unknown_users_and_items_fall_back_like_surprise(model) -> None:
    model.fit(toy_ratings())
    users = ["u1", "nobody", "nobody", "u2"]
    items = ["ghost", "i3", "ghost", "i4"]
    np.testing.assert_allclose(
        model.predict(users, items), model.predict_loop(users, items), atol=1e-9
    )


def test_scores_are_clipped_to_the_rating_scale() -> None:
    model = SVDRating(n_factors=8, n_epochs=60, lr_all=0.05, reg_all=0.0, random_state=0)
    model.fit(toy_ratings())
    raw = model.score_all(clip=False)
    clipped = model.score_all()
    assert raw.max() > 5 or raw.min() < 1  # the unregularised fit overshoots somewhere
    assert clipped.min() >= 1 and clipped.max() <= 5


def test_random_state_makes_fits_repeatable_and_matters() -> None:
    df = toy_ratings()
    a = SVDRating(n_factors=8, random_state=3).fit(df).score_all()
    b = SVDRating(n_factors=8, random_state=3).fit(df).score_all()
    c = SVDRating(n_factors=8, random_state=4).fit(df).score_all()
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_estimator_conventions() -> None:
    model = make_rating_model("svd", n_factors=7)
    assert model.get_params()["n_factors"] == 7
    assert not hasattr(model, "algorithm_")
    assert model.fit(toy_ratings()) is model
    with pytest.raises(KeyError, match="unknown rating model"):
        make_rating_model("nmf")


@pytest.mark.integration
def test_ml100k_svd_vectorized_is_identical(real_data) -> None:
    """Scoring everything at once equals Surprise's predict() loop; the speed-up is measured in
    bench/recommenders.py, not asserted here (a unit test is no stopwatch)."""
    from ml.datasets import load_ml100k_ratings

    df = load_ml100k_ratings(real_data("ml-100k", "u.data").parent.parent)
    model = SVDRating(random_state=0).fit(df)
    scores = model.score_all()
    rng = np.random.default_rng(0)
    u = rng.integers(0, len(model.users_), 20_000)
    i = rng.integers(0, len(model.items_), 20_000)
    reference = model.predict_loop(model.users_[u], model.items_[i])
    np.testing.assert_allclose(scores[u, i], reference, atol=1e-9)


def _tied_ratings() -> pd.DataFrame:
    """Ratings on a 1–3 scale with few co-rated items, so many neighbours share the very same
    MSD similarity and ties straddle the k-th place (Surprise keeps the earlier rater)."""
    rng = np.random.default_rng(5)
    rows = [
        (f"u{u}", f"i{i}", float(rng.integers(1, 4)))
        for u in range(40)
        for i in range(25)
        if rng.random() < 0.45
    ]
    rng.shuffle(rows)  # rating order decides ties, so make it differ from id order
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])


@pytest.mark.parametrize("user_based", [True, False])
def test_knn_ties_at_the_kth_neighbour_follow_surprise(user_based: bool) -> None:
    model = KNNBaselineRating(k=4, min_k=2, sim_options={"name": "msd", "user_based": user_based})
    model.fit(_tied_ratings())
    algo = model.algorithm_
    # The data must really put ties on the boundary: some x, y whose k-th and (k+1)-th
    # nearest raters have equal similarity.
    straddles = 0
    for raters in algo.yr.values():
        sims = np.sort(algo.sim[:, [x for x, _ in raters]], axis=1)[:, ::-1]
        if sims.shape[1] > model.k:
            straddles += int((sims[:, model.k - 1] == sims[:, model.k]).sum())
    assert straddles > 50
    scores = model.score_all()
    users = np.repeat(model.users_, len(model.items_))
    items = np.tile(model.items_, len(model.users_))
    reference = model.predict_loop(users, items).reshape(scores.shape)
    np.testing.assert_allclose(scores, reference, rtol=0, atol=1e-9)


def test_knn_scores_a_subset_in_any_order() -> None:
    model = KNNBaselineRating(k=3, sim_options={"name": "pearson_baseline", "user_based": False})
    model.fit(toy_ratings())
    rng = np.random.default_rng(1)
    users = rng.permutation(model.users_)[:17]
    items = rng.permutation(model.items_)[:11]
    block = model.score_all(users, items)
    reference = model.predict_loop(np.repeat(users, len(items)), np.tile(items, len(users)))
    np.testing.assert_allclose(block, reference.reshape(block.shape), rtol=0, atol=1e-9)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("user_based", [True, False])
def test_ml100k_knn_baseline_vectorized_is_identical(user_based: bool, real_data) -> None:
    """Equal to Surprise's predict() loop to 1e-9; the speed-up is bench/recommenders.py's."""
    from ml.datasets import load_ml100k_ratings

    df = load_ml100k_ratings(real_data("ml-100k", "u.data").parent.parent)
    sim = {"name": "pearson_baseline", "user_based": user_based} if not user_based else None
    model = KNNBaselineRating(sim_options=sim).fit(df)
    scores = model.score_all()
    rng = np.random.default_rng(0)
    u = rng.integers(0, len(model.users_), 3_000)
    i = rng.integers(0, len(model.items_), 3_000)
    reference = model.predict_loop(model.users_[u], model.items_[i])
    np.testing.assert_allclose(scores[u, i], reference, rtol=0, atol=1e-9)


def test_knn_prepare_in_row_blocks_equals_one_block(monkeypatch) -> None:
    """Ranking the similarity rows a few at a time builds the very same neighbour keys."""
    import ml.recommend.rating as rating

    df = _tied_ratings()
    sim = {"name": "msd", "user_based": False}
    whole = KNNBaselineRating(k=4, sim_options=sim).fit(df)
    monkeypatch.setattr(rating, "_PREPARE_ROWS", 3)
    blocks = KNNBaselineRating(k=4, sim_options=sim).fit(df)
    np.testing.assert_array_equal(whole._sim_key_t, blocks._sim_key_t)
    np.testing.assert_array_equal(whole._sim_sorted, blocks._sim_sorted)
    np.testing.assert_array_equal(whole.score_all(), blocks.score_all())
