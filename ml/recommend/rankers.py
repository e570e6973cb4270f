"""Top-N rankers for implicit feedback: popularity, random, item-kNN, EASE and a blend.

All rankers take a users × items sparse matrix X (CSR) whose entries are confidences: 1 for
"watched/rated", or a watch-completion weight. `fit(X)` learns from it; `score(X_rows)` returns
dense scores for the users whose history is in `X_rows` (same item columns); `recommend` masks
what each user has already seen and returns the top-k item indices, ties broken by the lower
item index so results are deterministic.

EASE (Steck 2019, "Embarrassingly Shallow Autoencoders"): the item-item weight matrix B solves
    min_B ‖X − X B‖²_F + λ‖B‖²_F   subject to diag(B) = 0,
whose closed form is, with P = (XᵀX + λI)⁻¹,
    B_ij = −P_ij / P_jj  (i ≠ j),   B_jj = 0,
and the scores are S = X B. Optionally the ridge grows with each item's own count,
λ_j = λ + α·G_jj (G = XᵀX): the closed form of training with item dropout (EDLAE, Steck 2020,
"Autoencoders that don't overfit towards the identity"), which penalises popular items'
self-reconstruction more. α = 0 is plain EASE.

With that diagonal ridge D = diag(λ_j), P is one n_items × n_items inverse: cheap for a few
thousand titles, ≈ a minute and 0.75 GB per copy at 10k. With fewer users than items the same
P comes from an n_users × n_users inverse (Woodbury): with K = I + X D⁻¹ Xᵀ,
    P = D⁻¹ − D⁻¹ Xᵀ K⁻¹ X D⁻¹,   X P = K⁻¹ X D⁻¹,   P_jj = 1/D_j − (Xᵀ K⁻¹ X)_jj / D_j²,
so the training rows' scores X B = X − (K⁻¹ X) D⁻¹ diag(1/P_jj) need no items × items matrix
at all (`ease_training_scores`, what the tuning grids use), and `fit` builds B from the small
inverse. Both forms are the same closed form and agree to ≈ 1e-12 (tested). A shared
eigendecomposition G = V diag(s) Vᵀ would give every λ at the cost of one product each, but
only for α = 0 (λI + αdiag(G) is not a multiple of I), and one `eigh` costs ≈ 3.3 inverses
here (1682 items), so it does not pay for a grid of 4 λ per α.

Confidence weighting (Hu, Koren & Volinsky 2008, applied to EASE's input): with
`binary=False` the values enter as x^p divided by their mean (p = `power`; p = 0.5 on 1–5 star
ratings lets a 5★ count ≈ 1.3× a 2★), so λ keeps its meaning whatever the confidence scale.

User-based EASE (`UserEASERanker`) is the same closed form on Xᵀ: each user's row is
reconstructed from the *other users'* rows. In user space that needs an n_users × n_users
inverse and only scores training users; rewritten in item space (push-through identity and
Woodbury) it becomes an items × items model that scores any row, exact for training users:
    M = (I + Xᵀ Λ⁻¹ X)⁻¹ = I − Xᵀ (Λ + X Xᵀ)⁻¹ X,  Λ = diag(λ + α‖x_u‖²),
    s(x) = x − xᵀM / (1 − xᵀMx / λ_x),
M taken from whichever inverse is smaller (items × items, or users × users by Woodbury). For
the training rows themselves the user-space closed form is cheaper still:
    Q = (X Xᵀ + Λ)⁻¹,   S = X − diag(1/Q_uu) Q X   (`user_ease_training_scores`).
Item-EASE weighs items by how well other items predict them; user-EASE by how well other
users do; their per-user standardized average (`BlendRanker`) corrects each one's bias
(item-EASE's columns are scaled by 1/P_jj, a popularity boost user-EASE does not have).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

#: Columns per block when an items × items array is transformed in place.
_BLOCK = 512


def _as_csr(X: sp.spmatrix | np.ndarray) -> sp.csr_matrix:
    return sp.csr_matrix(X, dtype=np.float64)


def confidence(X: sp.spmatrix | np.ndarray, binary: bool, power: float = 1.0) -> sp.csr_matrix:
    """The model input: 1 for every interaction (`binary`), else the confidence values
    raised to `power` (unscaled; `EASERanker` divides by the training mean)."""
    X = _as_csr(X)
    if binary:
        return (X > 0).astype(np.float64)
    if (X.data < 0).any():
        raise ValueError("confidence values must be >= 0 (a negative entry was found)")
    if power != 1.0:
        X = X.copy()
        X.data = X.data**power
    return X


def _mean_nonzero(X: sp.csr_matrix) -> float:
    values = X.data[X.data != 0]
    return float(values.mean()) if len(values) else 1.0


def _item_ridge(W: sp.csr_matrix, l2: float, diag_dropout: float) -> np.ndarray:
    """λ_j = λ + α·G_jj with G_jj = Σ_u W_uj² (the diagonal of G = WᵀW)."""
    return l2 + diag_dropout * np.asarray(W.multiply(W).sum(axis=0)).ravel()


def _user_ridge(W: sp.csr_matrix, l2: float, diag_dropout: float) -> np.ndarray:
    """λ_u = λ + α‖w_u‖² (user-EASE's per-user ridge)."""
    return l2 + diag_dropout * np.asarray(W.multiply(W).sum(axis=1)).ravel()


def _left_solve(inverse: np.ndarray, W: sp.csr_matrix) -> np.ndarray:
    """inverse @ W as a dense array, computed as (Wᵀ inverseᵀ)ᵀ: a sparse × dense product
    (nnz · n_users operations) instead of a dense n_users² · n_items one."""
    return np.ascontiguousarray(np.asarray(W.T @ inverse.T).T)


def _ease_p_dual(W: sp.csr_matrix, ridge: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Woodbury's pieces of P = (WᵀW + D)⁻¹ without an items × items matrix: Z = K⁻¹W and
    diag(P), with K = I + W D⁻¹ Wᵀ (users × users). Then W P = Z D⁻¹ (module docstring)."""
    inv_d = 1.0 / ridge
    k = (W @ sp.diags(inv_d) @ W.T).toarray()
    k[np.diag_indices_from(k)] += 1.0
    z = _left_solve(np.linalg.inv(k), W)
    p_diag = inv_d - inv_d**2 * np.asarray(W.multiply(z).sum(axis=0)).ravel()
    return z, p_diag


def _ease_weights(W: sp.csr_matrix, ridge: np.ndarray) -> np.ndarray:
    """B = I − P diag(1/P_jj), P = (WᵀW + diag(ridge))⁻¹, from the smaller of the two inverses
    (items × items directly, or users × users by Woodbury); one items × items array at the end,
    built in place."""
    n_users, n_items = W.shape
    if n_users < n_items:
        inv_d = 1.0 / ridge
        wd = (W @ sp.diags(inv_d)).tocsr()
        k = (wd @ W.T).toarray()
        k[np.diag_indices_from(k)] += 1.0
        p = np.asarray(wd.T @ _left_solve(np.linalg.inv(k), wd))
        np.negative(p, out=p)
        p[np.diag_indices_from(p)] += inv_d
    else:
        gram = (W.T @ W).toarray()
        gram[np.diag_indices_from(gram)] += ridge
        p = np.linalg.inv(gram)
        del gram
    d = np.diag(p).copy()
    p /= d[None, :]
    np.negative(p, out=p)  # −P_ij / P_jj
    np.fill_diagonal(p, 0.0)
    return p


def ease_training_scores(
    X: sp.spmatrix,
    l2: float = 500.0,
    diag_dropout: float = 0.0,
    binary: bool = True,
    power: float = 1.0,
) -> np.ndarray:
    """`EASERanker(l2, diag_dropout, binary, power).fit(X).score(X)`: the scores of the training
    rows themselves, which is all a validation grid needs.

    With fewer users than items no items × items matrix is formed: S = W − Z D⁻¹ diag(1/P_jj)
    with Z = K⁻¹ W from one users × users inverse (module docstring), ≈ 100× cheaper than the
    direct inverse at 10k items; otherwise the fitted model's own scores.
    """
    model = EASERanker(l2, diag_dropout, binary, power)
    W = model._input(X, fit=True)
    ridge = _item_ridge(W, l2, diag_dropout)
    if W.shape[0] >= W.shape[1]:
        return np.asarray(W @ _ease_weights(W, ridge))
    z, p_diag = _ease_p_dual(W, ridge)
    z *= (1.0 / ridge / p_diag)[None, :]
    return W.toarray() - z


def user_ease_training_scores(
    X: sp.spmatrix,
    l2: float = 500.0,
    diag_dropout: float = 0.0,
    binary: bool = True,
    power: float = 1.0,
) -> np.ndarray:
    """`UserEASERanker(l2, diag_dropout, binary, power).fit(X).score(X)` for the training rows.

    With at most as many users as items this is user-EASE's own closed form,
    S = W − diag(1/Q_uu) Q W with Q = (WWᵀ + Λ)⁻¹ (users × users); otherwise the item-space
    model is fitted and scored.
    """
    model = UserEASERanker(l2, diag_dropout, binary, power)
    W = model._input(X, fit=True)
    if W.shape[0] > W.shape[1]:
        model.weights_ = model._weights(W)
        return model.score(X)
    q = (W @ W.T).toarray()
    q[np.diag_indices_from(q)] += _user_ridge(W, l2, diag_dropout)
    q = np.linalg.inv(q)
    qw = _left_solve(q, W)
    qw /= np.diag(q)[:, None]
    return W.toarray() - qw


def top_k(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """Indices of the k best items per row, best first; `exclude`'s non-zeros are never chosen.

    Ties are broken by the lower item index (a stable sort on −score), so a ranking is a
    function of the scores alone.
    """
    scores = np.array(scores, dtype=np.float64, copy=True)
    if exclude is not None:
        rows, cols = exclude.nonzero()
        scores[rows, cols] = -np.inf
    k = min(k, scores.shape[1])
    # Partition first (linear), then sort the candidates only; widen by ties at the boundary.
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(scores, part, axis=1).min(axis=1, keepdims=True)
    out = np.empty((scores.shape[0], k), dtype=np.int64)
    for r in range(scores.shape[0]):
        cand = np.flatnonzero(scores[r] >= kth[r])
        order = np.lexsort((cand, -scores[r, cand]))
        out[r] = cand[order[:k]]
    return out


class Ranker(BaseEstimator):
    """Common interface: fit(X) → self; score(X_rows) → dense; recommend(X_rows, k)."""

    def fit(self, X: sp.spmatrix, y: None = None) -> Ranker:  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, X_rows: sp.spmatrix) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def recommend(self, X_rows: sp.spmatrix, k: int = 10, exclude_seen: bool = True) -> np.ndarray:
        X_rows = _as_csr(X_rows)
        return top_k(self.score(X_rows), k, X_rows if exclude_seen else None)


class PopularityRanker(Ranker):
    """Most-interacted items first: the baseline every personalised model must beat.

    score_i = Σ_u X_ui (binary=True counts users; else sums the confidences).
    """

    def __init__(self, binary: bool = True):
        self.binary = binary

    def fit(self, X: sp.spmatrix, y: None = None) -> PopularityRanker:
        X = _as_csr(X)
        if self.binary:
            X = (X > 0).astype(np.float64)
        self.item_scores_ = np.asarray(X.sum(axis=0)).ravel()
        self.n_items_ = X.shape[1]
        return self

    def score(self, X_rows: sp.spmatrix) -> np.ndarray:
        return np.tile(self.item_scores_, (X_rows.shape[0], 1))


class RandomRanker(Ranker):
    """Uniformly random scores: the floor. Deterministic under `random_state`."""

    def __init__(self, random_state: int | None = None):
        self.random_state = random_state

    def fit(self, X: sp.spmatrix, y: None = None) -> RandomRanker:
        self.n_items_ = X.shape[1]
        self.random_state_ = check_random_state(self.random_state)
        self._seed = int(self.random_state_.randint(0, 2**31 - 1))
        return self

    def score(self, X_rows: sp.spmatrix) -> np.ndarray:
        # Fresh generator per call from the fitted seed: scoring twice gives the same ranking.
        return np.random.default_rng(self._seed).random((X_rows.shape[0], self.n_items_))


class ItemKNNRanker(Ranker):
    """Item-based collaborative filtering with cosine similarity.

    sim(i, j) = ⟨x_i, x_j⟩ / (‖x_i‖ ‖x_j‖ + shrink), keeping each item's `k` strongest neighbours;
    score_u = x_u S. Item columns are the users' (binary or weighted) interactions.
    """

    def __init__(self, k: int = 100, shrink: float = 10.0, binary: bool = True):
        self.k = k
        self.shrink = shrink
        self.binary = binary

    def fit(self, X: sp.spmatrix, y: None = None) -> ItemKNNRanker:
        X = _as_csr(X)
        if self.binary:
            X = (X > 0).astype(np.float64)
        sim = (X.T @ X).toarray()
        norms = np.sqrt(np.diag(sim)).copy()
        n = sim.shape[0]
        # In place, by blocks of columns: one items × items array instead of four (3 GB at
        # 10k items); every column gets the same operations, so the result is unchanged.
        for lo in range(0, n, _BLOCK):
            cols = slice(lo, min(lo + _BLOCK, n))
            sim[:, cols] /= np.outer(norms, norms[cols]) + self.shrink + 1e-12
        np.fill_diagonal(sim, 0.0)
        if self.k < n:
            # Keep the k largest per column (neighbours j of target i), zero the rest.
            for lo in range(0, n, _BLOCK):
                cols = slice(lo, min(lo + _BLOCK, n))
                block = sim[:, cols]
                cut = np.argpartition(-block, self.k - 1, axis=0)[self.k :, :]
                np.put_along_axis(block, cut, 0.0, axis=0)
        self.similarity_ = sim
        return self

    def score(self, X_rows: sp.spmatrix) -> np.ndarray:
        X_rows = _as_csr(X_rows)
        if self.binary:
            X_rows = (X_rows > 0).astype(np.float64)
        return np.asarray(X_rows @ self.similarity_)


class EASERanker(Ranker):
    """EASE^R (Steck 2019): closed-form item-item regression with a zero diagonal.

    Args:
        l2: the ridge λ. Larger λ shrinks towards popularity-like scores.
        diag_dropout: α in λ_j = λ + α·G_jj (0 = plain EASE).
        binary: every interaction counts 1; else the confidence values are used, as
            x^power / mean (the mean over the training matrix's non-zeros, `scale_`).
        power: the confidence exponent p when `binary` is False.
        `tune_ease` chooses (λ, α) on a validation split carved out of the training data;
        `tune_ease_item_user` chooses p as well.
    """

    def __init__(
        self, l2: float = 500.0, diag_dropout: float = 0.0, binary: bool = True, power: float = 1.0
    ):
        self.l2 = l2
        self.diag_dropout = diag_dropout
        self.binary = binary
        self.power = power

    def _input(self, X: sp.spmatrix, fit: bool = False) -> sp.csr_matrix:
        W = confidence(X, self.binary, self.power)
        if fit:
            self.scale_ = 1.0 if self.binary else _mean_nonzero(W)
        return W / self.scale_ if self.scale_ != 1.0 else W

    def fit(self, X: sp.spmatrix, y: None = None) -> EASERanker:
        W = self._input(X, fit=True)
        self.weights_ = _ease_weights(W, _item_ridge(W, self.l2, self.diag_dropout))
        return self

    def score(self, X_rows: sp.spmatrix) -> np.ndarray:
        return np.asarray(self._input(X_rows) @ self.weights_)


class UserEASERanker(EASERanker):
    """User-based EASE: each user's row regressed on the other users' rows (EASE on Xᵀ).

    min_C ‖Xᵀ − Xᵀ C‖² + Σ_u λ_u ‖C_u·‖²,  diag(C) = 0,  λ_u = λ + α‖x_u‖²,  scores S = Cᵀ X,
    computed in item space (module docstring): `weights_` = M = (I + Xᵀ Λ⁻¹ X)⁻¹ and
    s(x) = x − xᵀM / (1 − xᵀMx/λ_x). For a training user this equals the user-space closed
    form; for a row the model never saw the denominator can reach 0, and then the plain ridge
    prediction x − xᵀM (the user regressed on the training users) is used. Same parameters
    as `EASERanker` (λ and α act per user here).
    """

    def fit(self, X: sp.spmatrix, y: None = None) -> UserEASERanker:
        self.weights_ = self._weights(self._input(X, fit=True))
        return self

    def _weights(self, W: sp.csr_matrix) -> np.ndarray:
        """M = (I + Wᵀ Λ⁻¹ W)⁻¹ directly (items × items), or, with fewer users than items, as
        I − Wᵀ (Λ + WWᵀ)⁻¹ W (Woodbury: a users × users inverse)."""
        ridge = self._ridge(W)
        n_users, n_items = W.shape
        if n_users < n_items:
            q = (W @ W.T).toarray()
            q[np.diag_indices_from(q)] += ridge
            m = np.asarray(W.T @ _left_solve(np.linalg.inv(q), W))
            np.negative(m, out=m)
            m[np.diag_indices_from(m)] += 1.0
            return m
        inner = (W.T @ sp.diags(1.0 / ridge) @ W).toarray()
        inner[np.diag_indices_from(inner)] += 1.0
        return np.linalg.inv(inner)

    def _ridge(self, W: sp.csr_matrix) -> np.ndarray:
        return _user_ridge(W, self.l2, self.diag_dropout)

    def score(self, X_rows: sp.spmatrix) -> np.ndarray:
        W = self._input(X_rows)
        xm = np.asarray(W @ self.weights_)
        self_fit = np.asarray(W.multiply(xm).sum(axis=1)).ravel() / self._ridge(W)
        denom = 1.0 - self_fit
        scale = np.where(denom > 1e-12, 1.0 / np.where(denom > 1e-12, denom, 1.0), 1.0)
        return W.toarray() - xm * scale[:, None]


def _standardize(scores: np.ndarray) -> np.ndarray:
    """Per-user z-score, so components on different scales can be added."""
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    return (scores - mean) / np.where(std > 0, std, 1.0)


class BlendRanker(Ranker):
    """Weighted sum of per-user standardized component scores.

    score_u = Σ_c w_c · z(score_c(u)), z = per-user z-score. Components are any rankers (EASE,
    item-kNN, popularity, a rating model wrapped by `RatingScoreRanker`); context and recency
    enter as extra components in the homepage.
    """

    def __init__(self, components: Sequence[tuple[str, Ranker]], weights: Sequence[float]):
        self.components = components
        self.weights = weights

    def fit(self, X: sp.spmatrix, y: None = None) -> BlendRanker:
        if len(self.components) != len(self.weights):
            raise ValueError("one weight per component")
        self.fitted_ = [(name, est.fit(X)) for name, est in self.components]
        return self

    def score(self, X_rows: sp.spmatrix) -> np.ndarray:
        total = None
        for (_, est), w in zip(self.fitted_, self.weights, strict=True):
            part = w * _standardize(est.score(X_rows))
            total = part if total is None else total + part
        return total


class RatingScoreRanker(Ranker):
    """Rank by a rating model's predicted rating (what Surprise's SVD does when used to rank).

    Needs the raw ids the matrix rows/columns stand for, since the rating model is fit on a
    ratings frame.
    """

    def __init__(self, model, ratings, user_ids: np.ndarray, item_ids: np.ndarray):
        self.model = model
        self.ratings = ratings
        self.user_ids = user_ids
        self.item_ids = item_ids

    def fit(self, X: sp.spmatrix, y: None = None) -> RatingScoreRanker:
        self.model_ = self.model.fit(self.ratings)
        return self

    def score_users(self, user_rows: np.ndarray) -> np.ndarray:
        return self.model_.score_all(self.user_ids[user_rows], self.item_ids)

    def score(self, X_rows: sp.spmatrix) -> np.ndarray:
        if X_rows.shape[0] != len(self.user_ids):
            raise ValueError("RatingScoreRanker.score needs every user's row, in user_ids order")
        return self.score_users(np.arange(len(self.user_ids)))
