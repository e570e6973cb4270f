"""Rating models over Surprise with vectorized score-all.

Surprise is built to predict one (user, item) rating at a time; a homepage needs every user ×
every candidate title. Calling `predict()` in a Python loop costs microseconds per pair
(1.6 M pairs on ml-100k), so `score_all` recomputes Surprise's own estimate from the fitted
factors and biases with matrix operations instead, reproducing `predict()` (including its
unknown-user/item fallbacks and its clipping to the rating scale) within 1e-9:

- BaselineOnly: r̂_ui = μ + b_u + b_i
- SVD:          r̂_ui = μ + b_u + b_i + q_iᵀ p_u                 →  μ + b 1ᵀ + 1 bᵀ + P Qᵀ
- SVD++:        r̂_ui = μ + b_u + b_i + q_iᵀ (p_u + |N(u)|^-½ Σ_{j∈N(u)} y_j)
                                                               →  (P + D^-½ N Y) Qᵀ + biases
- KNNBaseline:  r̂_ui = b_ui + Σ_{v∈N^k_i(u), s>0} s_uv (r_vi − b_vi) / Σ s_uv,  b_ui = μ+b_u+b_i
  (user-based; item-based swaps the roles). N^k_i(u) are the k raters of i most similar to u,
  ties broken by rating order as Surprise's `heapq.nlargest` does; the k-th largest value is
  found with a partition (linear time) rather than a sort.

A term is dropped when its user or item is unknown to the training set, as in Surprise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator

RATING_MODELS = ("baseline_only", "svd", "svdpp", "knn_baseline")


class SurpriseRatingModel(BaseEstimator):
    """Base: fit a Surprise algorithm on a ratings frame and score it vectorized.

    Subclasses implement `_make_algorithm()` and `_known_block(u_inner, i_inner)`, the
    unclipped estimate for known users × known items.

    Learned attributes: `algorithm_` (the fitted Surprise object), `users_`/`items_` (raw ids by
    inner index), `global_mean_`, `user_bias_`, `item_bias_`, `rating_scale_`.
    """

    user_col = "user_id"
    item_col = "item_id"
    rating_col = "rating"

    def _make_algorithm(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    # --- fitting --------------------------------------------------------------------------
    def fit(self, ratings: pd.DataFrame, y: None = None) -> SurpriseRatingModel:
        """Fit on a frame with `user_id`, `item_id`, `rating` (explicit ratings)."""
        from surprise import Dataset, Reader

        frame = ratings[[self.user_col, self.item_col, self.rating_col]]
        scale = getattr(self, "rating_scale", None) or (
            float(frame[self.rating_col].min()),
            float(frame[self.rating_col].max()),
        )
        data = Dataset.load_from_df(frame, Reader(rating_scale=tuple(scale)))
        return self.fit_trainset(data.build_full_trainset())

    def fit_trainset(self, trainset: Any) -> SurpriseRatingModel:
        """Fit on a Surprise `Trainset` (used by cross-validation to share Surprise's folds)."""
        algo = self._make_algorithm()
        algo.fit(trainset)
        self.algorithm_ = algo
        self.trainset_ = trainset
        self.users_ = np.array([trainset.to_raw_uid(u) for u in range(trainset.n_users)])
        self.items_ = np.array([trainset.to_raw_iid(i) for i in range(trainset.n_items)])
        self._user_index = {raw: inner for inner, raw in enumerate(self.users_.tolist())}
        self._item_index = {raw: inner for inner, raw in enumerate(self.items_.tolist())}
        self.global_mean_ = float(trainset.global_mean)
        self.rating_scale_ = tuple(trainset.rating_scale)
        self.user_bias_, self.item_bias_ = self._biases()
        self._prepare()
        return self

    def _biases(self) -> tuple[np.ndarray, np.ndarray]:
        algo = self.algorithm_
        return np.asarray(algo.bu, dtype=float), np.asarray(algo.bi, dtype=float)

    def _prepare(self) -> None:
        """Precompute what `_known_block` needs (factors, implicit sums...)."""

    # --- scoring --------------------------------------------------------------------------
    def _inner(self, raw: Sequence[Any] | np.ndarray | None, index: dict) -> np.ndarray:
        if raw is None:
            return np.arange(len(index))
        return np.array([index.get(r, -1) for r in np.asarray(raw).tolist()], dtype=np.int64)

    def score_all(
        self,
        users: Sequence[Any] | np.ndarray | None = None,
        items: Sequence[Any] | np.ndarray | None = None,
        clip: bool = True,
    ) -> np.ndarray:
        """Estimated ratings for every `users` × `items` (raw ids; default: all known ones).

        Returns a dense (len(users), len(items)) array equal to Surprise's
        `predict(u, i).est` for each pair within 1e-9.
        """
        u = self._inner(users, self._user_index)
        i = self._inner(items, self._item_index)
        ku, ki = u >= 0, i >= 0
        if ku.all() and ki.all():  # the common case: no fallback rows or columns to fill
            out = self._known_block(u, i)
            return np.clip(out, *self.rating_scale_, out=out) if clip else out
        out = np.full((len(u), len(i)), self.global_mean_)
        out[ku, :] += self.user_bias_[u[ku]][:, None]
        out[:, ki] += self.item_bias_[i[ki]][None, :]
        if ku.any() and ki.any():
            block = self._known_block(u[ku], i[ki])
            out[np.ix_(ku, ki)] = block
        if clip:
            np.clip(out, *self.rating_scale_, out=out)
        return out

    def _known_block(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        """Unclipped estimates for known inner user ids `u` × known inner item ids `i`."""
        mu = self.global_mean_
        return (mu + self.user_bias_[u])[:, None] + self.item_bias_[i][None, :]

    def predict(self, users: Sequence[Any], items: Sequence[Any]) -> np.ndarray:
        """Estimated rating for each (users[k], items[k]) pair, from the vectorized scorer."""
        users = np.asarray(users)
        items = np.asarray(items)
        uu, u_pos = np.unique(users, return_inverse=True)
        ii, i_pos = np.unique(items, return_inverse=True)
        return self.score_all(uu, ii)[u_pos, i_pos]

    def predict_loop(self, users: Sequence[Any], items: Sequence[Any]) -> np.ndarray:
        """Reference path: Surprise's own `predict()` for each pair, one Python call each."""
        algo = self.algorithm_
        return np.array([algo.predict(u, i).est for u, i in zip(users, items, strict=True)])


class BaselineOnlyRating(SurpriseRatingModel):
    """μ + b_u + b_i, biases by ALS (Surprise's `BaselineOnly`)."""

    def __init__(self, bsl_options: dict | None = None, rating_scale: tuple | None = None):
        self.bsl_options = bsl_options
        self.rating_scale = rating_scale

    def _make_algorithm(self) -> Any:
        from surprise import BaselineOnly

        return BaselineOnly(bsl_options=dict(self.bsl_options or {}), verbose=False)

    def _biases(self) -> tuple[np.ndarray, np.ndarray]:
        bu, bi = self.algorithm_.bu, self.algorithm_.bi
        return np.asarray(bu, dtype=float), np.asarray(bi, dtype=float)


class SVDRating(SurpriseRatingModel):
    """Biased matrix factorisation by SGD (Surprise's `SVD`, Funk/Koren)."""

    def __init__(
        self,
        n_factors: int = 100,
        n_epochs: int = 20,
        lr_all: float = 0.005,
        reg_all: float = 0.02,
        init_std_dev: float = 0.1,
        rating_scale: tuple | None = None,
        random_state: int | None = 0,
    ):
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.lr_all = lr_all
        self.reg_all = reg_all
        self.init_std_dev = init_std_dev
        self.rating_scale = rating_scale
        self.random_state = random_state

    def _make_algorithm(self) -> Any:
        from surprise import SVD

        return SVD(
            n_factors=self.n_factors,
            n_epochs=self.n_epochs,
            lr_all=self.lr_all,
            reg_all=self.reg_all,
            init_std_dev=self.init_std_dev,
            random_state=self.random_state,
        )

    def _prepare(self) -> None:
        self.user_factors_ = np.asarray(self.algorithm_.pu, dtype=float)
        self.item_factors_ = np.asarray(self.algorithm_.qi, dtype=float)

    def _known_block(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        base = super()._known_block(u, i)
        return base + self.user_factors_[u] @ self.item_factors_[i].T


class SVDppRating(SVDRating):
    """SVD++: SVD plus implicit feedback from which items a user rated (Koren 2008)."""

    def __init__(
        self,
        n_factors: int = 20,
        n_epochs: int = 20,
        lr_all: float = 0.007,
        reg_all: float = 0.02,
        init_std_dev: float = 0.1,
        cache_ratings: bool = True,
        rating_scale: tuple | None = None,
        random_state: int | None = 0,
    ):
        super().__init__(
            n_factors, n_epochs, lr_all, reg_all, init_std_dev, rating_scale, random_state
        )
        self.cache_ratings = cache_ratings

    def _make_algorithm(self) -> Any:
        from surprise import SVDpp

        return SVDpp(
            n_factors=self.n_factors,
            n_epochs=self.n_epochs,
            lr_all=self.lr_all,
            reg_all=self.reg_all,
            init_std_dev=self.init_std_dev,
            cache_ratings=self.cache_ratings,
            random_state=self.random_state,
        )

    def _prepare(self) -> None:
        super()._prepare()
        ts = self.trainset_
        rows = [u for u in range(ts.n_users) for _ in ts.ur[u]]
        cols = [j for u in range(ts.n_users) for (j, _) in ts.ur[u]]
        n = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(ts.n_users, ts.n_items))
        counts = np.asarray(n.sum(axis=1)).ravel()
        implicit = (n @ np.asarray(self.algorithm_.yj, dtype=float)) / np.sqrt(counts)[:, None]
        self.user_factors_ = self.user_factors_ + implicit


class KNNBaselineRating(SurpriseRatingModel):
    """Neighbourhood model on baseline residuals (Surprise's `KNNBaseline`, Koren 2010)."""

    def __init__(
        self,
        k: int = 40,
        min_k: int = 1,
        sim_options: dict | None = None,
        bsl_options: dict | None = None,
        rating_scale: tuple | None = None,
    ):
        self.k = k
        self.min_k = min_k
        self.sim_options = sim_options
        self.bsl_options = bsl_options
        self.rating_scale = rating_scale

    def _make_algorithm(self) -> Any:
        from surprise import KNNBaseline

        return KNNBaseline(
            k=self.k,
            min_k=self.min_k,
            sim_options=dict(self.sim_options or {}),
            bsl_options=dict(self.bsl_options or {}),
            verbose=False,
        )

    def _known_block(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        algo = self.algorithm_
        mu = self.global_mean_
        base = super()._known_block(u, i)
        user_based = algo.sim_options["user_based"]
        sim = np.asarray(algo.sim, dtype=float)
        bx = np.asarray(algo.bx, dtype=float)
        by = np.asarray(algo.by, dtype=float)
        # x indexes the similarity matrix; y is the other side. Loop over y, vectorize over x.
        xs, ys = (u, i) if user_based else (i, u)
        adjust = np.zeros((len(xs), len(ys)))
        all_x = len(xs) == sim.shape[0] and bool((xs == np.arange(len(xs))).all())
        k = self.k
        for col, y in enumerate(ys):
            ratings = algo.yr[y]
            if not ratings:
                continue
            nb = np.fromiter((x2 for x2, _ in ratings), dtype=np.int64, count=len(ratings))
            r = np.fromiter((rr for _, rr in ratings), dtype=float, count=len(ratings))
            dev = r - (mu + bx[nb] + by[y])
            s = sim[:, nb] if all_x else sim[np.ix_(xs, nb)]
            if len(nb) > k:
                kth = np.partition(s, len(nb) - k, axis=1)[:, len(nb) - k][:, None]
                above = s > kth
                ties = s == kth
                room = k - above.sum(axis=1, keepdims=True)
                chosen = above | (ties & (np.cumsum(ties, axis=1) <= room))
            else:
                chosen = np.ones_like(s, dtype=bool)
            use = chosen & (s > 0)
            w = np.where(use, s, 0.0)
            num = w @ dev
            den = w.sum(axis=1)
            actual_k = use.sum(axis=1)
            num[actual_k < self.min_k] = 0.0
            safe = den != 0
            adjust[safe, col] = num[safe] / den[safe]
        return base + (adjust if user_based else adjust.T)


def make_rating_model(name: str, **params: Any) -> SurpriseRatingModel:
    """A rating model by name: baseline_only | svd | svdpp | knn_baseline."""
    classes = {
        "baseline_only": BaselineOnlyRating,
        "svd": SVDRating,
        "svdpp": SVDppRating,
        "knn_baseline": KNNBaselineRating,
    }
    try:
        return classes[name](**params)
    except KeyError:
        raise KeyError(f"unknown rating model {name!r}; known: {RATING_MODELS}") from None
