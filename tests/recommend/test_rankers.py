"""Top-N rankers: EASE's closed form, top-k masking and ties, baselines, blend, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from ml.recommend.rankers import (
    BlendRanker,
    EASERanker,
    ItemKNNRanker,
    PopularityRanker,
    RandomRanker,
    UserEASERanker,
    confidence,
    ease_training_scores,
    top_k,
    user_ease_training_scores,
)


def _implicit(n_users: int = 80, n_items: int = 30, seed: int = 0) -> sp.csr_matrix:
    """Two taste groups: users 0..39 watch items 0..14 mostly, the rest items 15..29."""
    rng = np.random.default_rng(seed)
    group = np.arange(n_users) >= n_users // 2
    liked = np.zeros((n_users, n_items), dtype=bool)
    liked[~group, : n_items // 2] = True
    liked[group, n_items // 2 :] = True
    p = np.where(liked, 0.5, 0.05)
    return sp.csr_matrix((rng.random((n_users, n_items)) < p).astype(float))


def test_ease_equals_per_column_ridge_regression() -> None:
    """EASE's closed form is, column by column, ridge regression of item j on the other items."""
    X = _implicit(n_users=50, n_items=12)
    lam = 3.0
    B = EASERanker(l2=lam).fit(X).weights_
    dense = X.toarray()
    for j in range(dense.shape[1]):
        others = np.delete(np.arange(dense.shape[1]), j)
        A = dense[:, others]
        b = np.linalg.solve(A.T @ A + lam * np.eye(len(others)), A.T @ dense[:, j])
        np.testing.assert_allclose(B[others, j], b, atol=1e-8)
        assert B[j, j] == 0.0


def test_ease_diag_dropout_is_a_per_item_ridge() -> None:
    X = _implicit(n_users=50, n_items=10)
    lam, alpha = 2.0, 0.5
    B = EASERanker(l2=lam, diag_dropout=alpha).fit(X).weights_
    dense = X.toarray()
    g = dense.T @ dense
    j = 4
    others = np.delete(np.arange(10), j)
    A = dense[:, others]
    ridge = np.diag(lam + alpha * np.diag(g)[others])
    b = np.linalg.solve(A.T @ A + ridge, A.T @ dense[:, j])
    np.testing.assert_allclose(B[others, j], b, atol=1e-8)


@pytest.mark.parametrize("ranker", [EASERanker(l2=5.0), ItemKNNRanker(k=10, shrink=1.0)])
def test_personalised_rankers_recover_taste_groups(ranker) -> None:
    X = _implicit()
    recs = ranker.fit(X).recommend(X, k=5)
    first, second = recs[:40], recs[40:]
    assert (first < 15).mean() > 0.8  # popularity would give about 0.5
    assert (second >= 15).mean() > 0.8
    # Seen items are never recommended.
    for row, items in enumerate(recs):
        assert not X[row, items].toarray().any()


def test_popularity_ranks_by_user_count_and_ignores_history() -> None:
    X = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0], [0, 0, 1, 0.0]]))
    model = PopularityRanker().fit(X)
    np.testing.assert_array_equal(model.item_scores_, [3, 1, 3, 0])
    # Tie (items 0 and 2) broken by the lower index; user 3 has seen item 2.
    assert top_k(model.score(X), 2, X)[3].tolist() == [0, 1]
    assert top_k(model.score(X), 2)[0].tolist() == [0, 2]


def test_random_is_deterministic_under_random_state() -> None:
    X = _implicit()
    a = RandomRanker(random_state=1).fit(X).recommend(X, 5)
    b = RandomRanker(random_state=1).fit(X).recommend(X, 5)
    c = RandomRanker(random_state=2).fit(X).recommend(X, 5)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_top_k_breaks_ties_by_lower_index_and_masks() -> None:
    scores = np.array([[1.0, 3.0, 3.0, 2.0, 3.0]])
    assert top_k(scores, 3).tolist() == [[1, 2, 4]]
    seen = sp.csr_matrix(np.array([[0, 0, 1, 0, 0]]))
    assert top_k(scores, 3, seen).tolist() == [[1, 4, 3]]


def test_blend_weights_move_the_ranking() -> None:
    X = _implicit()
    pop_only = BlendRanker([("e", EASERanker(l2=5.0)), ("p", PopularityRanker())], [0.0, 1.0])
    ease_only = BlendRanker([("e", EASERanker(l2=5.0)), ("p", PopularityRanker())], [1.0, 0.0])
    a = pop_only.fit(X).recommend(X, 5)
    b = ease_only.fit(X).recommend(X, 5)
    np.testing.assert_array_equal(b, EASERanker(l2=5.0).fit(X).recommend(X, 5))
    assert (a != b).any()
    with pytest.raises(ValueError, match="one weight per component"):
        BlendRanker([("e", EASERanker())], [1.0, 2.0]).fit(X)


def test_user_ease_equals_the_user_space_closed_form() -> None:
    """UserEASE is computed in item space; it must equal EASE on Xᵀ solved in user space."""
    X = _implicit(n_users=30, n_items=12) * 3.0
    lam, alpha = 4.0, 0.5
    model = UserEASERanker(l2=lam, diag_dropout=alpha, binary=False, power=0.5).fit(X)
    W = X.toarray() ** 0.5
    W /= W[W > 0].mean()
    P = np.linalg.inv(W @ W.T + np.diag(lam + alpha * (W**2).sum(axis=1)))
    C = -P / np.diag(P)[None, :]
    np.fill_diagonal(C, 0.0)
    np.testing.assert_allclose(model.score(X), C.T @ W, atol=1e-9)
    # And column by column it is ridge regression of user u on the other users.
    u = 3
    others = np.delete(np.arange(30), u)
    A = W[others].T
    ridge = np.diag(lam + alpha * (W[others] ** 2).sum(axis=1))
    c = np.linalg.solve(A.T @ A + ridge, A.T @ W[u])
    np.testing.assert_allclose(model.score(X)[u], c @ W[others], atol=1e-9)


def test_user_ease_scores_an_unseen_row_as_ridge_on_training_users() -> None:
    X = _implicit(n_users=30, n_items=12)
    model = UserEASERanker(l2=0.5).fit(X)
    row = sp.csr_matrix(np.ones((1, 12)))
    W = X.toarray()
    c = np.linalg.solve(W @ W.T + 0.5 * np.eye(30), W @ np.ones(12))
    scores = model.score(row)
    assert np.isfinite(scores).all()
    # Ranking-equivalent to the ridge prediction c·X (a positive rescaling, or equal).
    ridge = c @ W
    assert np.corrcoef(scores[0], ridge)[0, 1] > 0.999


def test_confidence_power_and_scale() -> None:
    X = sp.csr_matrix(np.array([[4.0, 0.0, 1.0], [0.0, 9.0, 1.0]]))
    np.testing.assert_array_equal(confidence(X, binary=True).toarray(), (X > 0).toarray())
    np.testing.assert_allclose(confidence(X, False, 0.5).toarray(), np.sqrt(X.toarray()))
    model = EASERanker(l2=1.0, binary=False, power=0.5).fit(X)
    assert model.scale_ == pytest.approx((2 + 1 + 3 + 1) / 4)
    # power 0 on non-binary input is the binary model (every x^0 = 1).
    a = EASERanker(l2=1.0, binary=False, power=0.0).fit(X).weights_
    np.testing.assert_allclose(a, EASERanker(l2=1.0).fit(X).weights_, atol=1e-12)
    with pytest.raises(ValueError, match="confidence values must be >= 0"):
        EASERanker(binary=False).fit(sp.csr_matrix(np.array([[1.0, -2.0]])))


def test_confidence_weighting_changes_the_ranking() -> None:
    """Two items co-watched equally often, but one with high confidence: weighting must
    prefer it, binary cannot tell them apart."""
    dense = np.zeros((60, 4))
    dense[:, 0] = 1.0
    dense[::2, 3] = 1.0  # same pattern in both halves: binary EASE sees items 1, 2 alike
    dense[:30, 1] = 1.0
    dense[30:, 2] = 1.0
    dense[:30, 1] *= 5.0  # item 1 is loved where watched, item 2 merely tolerated
    X = sp.csr_matrix(dense)
    probe = sp.csr_matrix(np.eye(1, 4, 0) * 5.0)  # someone who watched item 0 only
    weighted = EASERanker(l2=2.0, binary=False).fit(X).score(probe)[0]
    binary = EASERanker(l2=2.0).fit(X).score(probe)[0]
    assert weighted[1] > weighted[2]
    assert binary[1] == pytest.approx(binary[2], rel=1e-9)


def _ease_by_direct_inverse(W: np.ndarray, lam: float, alpha: float) -> np.ndarray:
    """The textbook closed form: B = I − P diag(1/P_jj), P = (WᵀW + λI + α diag(WᵀW))⁻¹."""
    g = W.T @ W
    p = np.linalg.inv(g + np.diag(lam + alpha * np.diag(g)))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


def _weighted(n_users: int, n_items: int, seed: int) -> sp.csr_matrix:
    """Ratings 1–5 on a random 30 % of cells, plus one item nobody rated and one empty user."""
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_users, n_items)) < 0.3) * rng.integers(1, 6, (n_users, n_items))
    dense[:, 3] = 0
    dense[5] = 0
    return sp.csr_matrix(dense.astype(float))


@pytest.mark.parametrize("shape", [(15, 40), (40, 15)])  # fewer users than items, and more
@pytest.mark.parametrize("lam, alpha", [(0.5, 0.0), (5.0, 0.0), (50.0, 0.0), (5.0, 1.0)])
@pytest.mark.parametrize("binary, power", [(True, 1.0), (False, 0.5)])
def test_ease_fast_paths_equal_the_direct_inverse(shape, lam, alpha, binary, power) -> None:
    """Both EASE forms (items × items, users × users by Woodbury) and the training-row scores
    without B equal the textbook inverse, for several λ and α, whichever side is smaller."""
    X = _weighted(*shape, seed=1)
    model = EASERanker(l2=lam, diag_dropout=alpha, binary=binary, power=power).fit(X)
    W = model._input(X).toarray()
    b = _ease_by_direct_inverse(W, lam, alpha)
    np.testing.assert_allclose(model.weights_, b, atol=1e-8)
    fast = ease_training_scores(X, lam, alpha, binary, power)
    np.testing.assert_allclose(fast, W @ b, atol=1e-8)
    # Same top-5 up to exact ties (two items the formula scores equally may swap on rounding):
    # the scores of the chosen items agree rank by rank.
    ref = W @ b
    chosen_fast = np.take_along_axis(ref, top_k(fast, 5, X), axis=1)
    chosen_ref = np.take_along_axis(ref, top_k(ref, 5, X), axis=1)
    np.testing.assert_allclose(chosen_fast, chosen_ref, atol=1e-9)


@pytest.mark.parametrize("shape", [(15, 40), (40, 15)])
@pytest.mark.parametrize("lam, alpha", [(0.5, 0.0), (5.0, 2.0)])
def test_user_ease_fast_paths_equal_the_user_space_closed_form(shape, lam, alpha) -> None:
    X = _weighted(*shape, seed=2)
    model = UserEASERanker(l2=lam, diag_dropout=alpha, binary=False, power=0.5).fit(X)
    W = model._input(X).toarray()
    q = np.linalg.inv(W @ W.T + np.diag(lam + alpha * (W**2).sum(axis=1)))
    c = -q / np.diag(q)[None, :]
    np.fill_diagonal(c, 0.0)
    reference = c.T @ W
    np.testing.assert_allclose(model.score(X), reference, atol=1e-8)
    fast = user_ease_training_scores(X, lam, alpha, binary=False, power=0.5)
    np.testing.assert_allclose(fast, reference, atol=1e-8)
    # M from either inverse is the same matrix.
    inner = np.linalg.inv(np.eye(W.shape[1]) + W.T @ np.diag(1 / (lam + alpha * (W**2).sum(1))) @ W)
    np.testing.assert_allclose(model.weights_, inner, atol=1e-8)


def test_item_knn_blocks_equal_the_whole_matrix(monkeypatch) -> None:
    """The in-place, block-by-block similarity equals the one-shot computation exactly."""
    import ml.recommend.rankers as rankers

    X = _weighted(40, 30, seed=3)
    whole = ItemKNNRanker(k=5, shrink=2.0).fit(X).similarity_
    monkeypatch.setattr(rankers, "_BLOCK", 7)
    blocks = ItemKNNRanker(k=5, shrink=2.0).fit(X).similarity_
    np.testing.assert_array_equal(whole, blocks)
    assert ((blocks > 0).sum(axis=0) <= 5).all()
