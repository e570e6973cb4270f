"""Offline evaluation: the ranking protocol, the rating protocol and beyond-accuracy metrics.

Ranking protocol (comparable with Microsoft Recommenders, ANCHORS.md §B):
  - split: per-user random 75/25 (`python_stratified_split(ratio=0.75, filter_by="user",
    seed=42)` reproduced exactly: one uniform draw per row in file order from
    `np.random.seed(42)`, rows ranked within each user by that draw, the first 75 % of each
    user's rows train). Deviation, on purpose: MS's README table stratifies by *item*; the issue
    fixes per-user, and `by="item"` is available to reproduce theirs.
  - top-10 over items unseen in training (training items are masked), candidates = the items
    present in training (an item only in the test set cannot be scored by any model here, as in
    MS's models; it still counts as relevant, so recall is not flattered);
  - relevance = any held-out item (no rating threshold); metrics in `metrics.py`.
  - repeated over split seeds 42, 43, ... (`split_seeds`; the CLI's default is 5): every
    seed is a new split with its own tuning on its own training part, and each figure is
    reported as the mean over seeds with its sd and the per-seed values (`summarize_seeds`),
    so a difference between models can be read against the split-to-split spread. One seed
    (42) is exactly the published protocol.
Rating protocol (comparable with Surprise's benchmark, ANCHORS.md §A): 5-fold
`surprise.model_selection.KFold(random_state=0)` over the ratings in file order, the same folds
for every model; RMSE and MAE averaged over folds. Its (model, fold) fits run in worker
processes beside the ranking protocol (`RatingRun`; same figures), and a neighbourhood model
whose similarity would not fit `SIMILARITY_BUDGET_BYTES` is skipped by default, with the reason
in the output.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from ml.recommend.metrics import beyond_accuracy, ranking_metrics, rmse_mae
from ml.recommend.rankers import (
    BlendRanker,
    EASERanker,
    ItemKNNRanker,
    PopularityRanker,
    RandomRanker,
    Ranker,
    RatingScoreRanker,
    UserEASERanker,
    _standardize,
    ease_training_scores,
    top_k,
    user_ease_training_scores,
)
from ml.recommend.rating import (
    BaselineOnlyRating,
    KNNBaselineRating,
    SurpriseRatingModel,
    SVDppRating,
    SVDRating,
)

USER, ITEM, RATING = "user_id", "item_id", "rating"
EASE_GRID = tuple(
    (l2, alpha) for l2 in (100.0, 200.0, 300.0, 500.0, 800.0) for alpha in (0.0, 0.5, 1.0)
)
# `tune_ease_item_user`: confidence exponent × item (λ, α), then the user part's (λ, α).
CONFIDENCE_POWERS = (0.0, 0.5, 1.0)
ITEM_GRID = tuple((l2, a) for l2 in (100.0, 200.0, 300.0, 500.0) for a in (0.0, 1.0, 2.0))
USER_GRID = tuple((l2, a) for l2 in (200.0, 400.0, 800.0) for a in (0.0, 1.0, 2.0))


def stratified_split(
    df: pd.DataFrame, ratio: float = 0.75, seed: int = 42, by: str = "user"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-user (or per-item) random split, identical to MS Recommenders' stratified splitter.

    Each row gets a uniform draw u ~ U(0,1) from the legacy global seed stream (row order
    matters); within each group rows are ranked by u and a row trains iff rank/count ≤ ratio.
    """
    col = USER if by == "user" else ITEM
    data = df.copy()
    data["_draw"] = np.random.RandomState(seed).rand(len(data))
    data = data.sort_values([col, "_draw"])
    grouped = data.groupby(col)
    frac = (grouped.cumcount() + 1) / grouped[col].transform("count")
    train = data[frac <= ratio].drop(columns="_draw")
    test = data[frac > ratio].drop(columns="_draw")
    return train, test


def temporal_split(
    df: pd.DataFrame, cut: Any, time_col: str = "timestamp"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train on rows strictly before `cut`, test on rows at or after it, for users and items
    present in training (a temporal holdout cannot rank a user it never saw)."""
    train = df[df[time_col] < cut]
    test = df[(df[time_col] >= cut) & df[USER].isin(train[USER])]
    return train, test


@dataclass(frozen=True)
class IndexedSplit:
    """A split in matrix-index space: rows = training users, columns = training items."""

    users: np.ndarray
    items: np.ndarray
    train: sp.csr_matrix
    relevant: list[np.ndarray]
    train_frame: pd.DataFrame

    @classmethod
    def build(
        cls, train: pd.DataFrame, test: pd.DataFrame, weight_col: str | None = None
    ) -> IndexedSplit:
        users = np.sort(train[USER].unique())
        items = np.sort(train[ITEM].unique())
        u = np.searchsorted(users, train[USER].to_numpy())
        i = np.searchsorted(items, train[ITEM].to_numpy())
        w = train[weight_col].to_numpy(dtype=float) if weight_col else np.ones(len(train))
        matrix = sp.csr_matrix((w, (u, i)), shape=(len(users), len(items)))
        matrix.sum_duplicates()
        item_pos = {item: k for k, item in enumerate(items.tolist())}
        # Relevant items by user row; test-only items get ids past the catalogue so they can
        # never be hit but still count in |relevant|.
        extra: dict[Any, int] = {}
        relevant: list[list[int]] = [[] for _ in users]
        user_pos = {user: k for k, user in enumerate(users.tolist())}
        for user, item in zip(test[USER].tolist(), test[ITEM].tolist(), strict=True):
            row = user_pos.get(user)
            if row is None:
                continue
            col = item_pos.get(item)
            if col is None:
                col = extra.setdefault(item, len(items) + len(extra))
            relevant[row].append(col)
        return cls(users, items, matrix, [np.unique(r) for r in relevant], train)


def _validation_split(X: sp.csr_matrix, holdout: float, seed: int) -> tuple[sp.csr_matrix, list]:
    """Hold out a random `holdout` share of each user's training items (for tuning only)."""
    rng = np.random.default_rng(seed)
    X = X.tocsr()
    keep_rows, keep_cols, keep_vals, held = [], [], [], []
    for r in range(X.shape[0]):
        cols = X.indices[X.indptr[r] : X.indptr[r + 1]]
        vals = X.data[X.indptr[r] : X.indptr[r + 1]]
        mask = rng.random(len(cols)) < holdout
        held.append(cols[mask])
        keep_rows.append(np.full((~mask).sum(), r))
        keep_cols.append(cols[~mask])
        keep_vals.append(vals[~mask])
    fit = sp.csr_matrix(
        (np.concatenate(keep_vals), (np.concatenate(keep_rows), np.concatenate(keep_cols))),
        shape=X.shape,
    )
    return fit, held


def tune_ease(
    X: sp.csr_matrix,
    grid: tuple[tuple[float, float], ...] = EASE_GRID,
    k: int = 10,
    holdout: float = 0.1,
    seeds: tuple[int, ...] = (0, 1, 2),
) -> tuple[tuple[float, float], dict[tuple[float, float], float]]:
    """Choose EASE's (λ, α) by mean nDCG@k over validation splits carved out of the *training*
    matrix (each holds out `holdout` of every user's items, one split per seed).

    The test set is never seen: parameters picked on it would flatter the score. A small
    holdout keeps the validation model's data close to the final model's (λ's best value
    moves with the amount of data); averaging seeds damps one split's noise. Ties go to the
    larger λ and smaller α (the more regularised, simpler model).
    """
    table: dict[tuple[float, float], float] = {p: 0.0 for p in grid}
    for seed in seeds:
        fit, held = _validation_split(X, holdout, seed)
        for l2, alpha in grid:
            # = EASERanker(l2, alpha).fit(fit).recommend(fit, k), without B when users < items.
            scores = ease_training_scores(fit, l2, alpha)
            score = ranking_metrics(top_k(scores, k, fit), held, k).ndcg_at_k
            table[(l2, alpha)] += score / len(seeds)
    best = max(table, key=lambda p: (round(table[p], 12), p[0], -p[1]))
    return best, table


@dataclass(frozen=True)
class ItemUserParams:
    """What `tune_ease_item_user` chose, and the validation tables it chose from.

    `binary` is the best plain (p = 0) item-EASE (λ, α) of the same table, for the `ease` row.
    """

    power: float
    item: tuple[float, float]
    user: tuple[float, float]
    binary: tuple[float, float]
    item_table: dict[tuple[float, float, float], float]
    user_table: dict[tuple[float, float], float]


def item_user_ranker(power: float, item: tuple[float, float], user: tuple[float, float]) -> Ranker:
    """Item-EASE and user-EASE on the same confidence input, averaged with equal weights after
    per-user standardization (a fixed 50/50: nothing to tune, each corrects the other)."""
    binary = power == 0.0
    return BlendRanker(
        [
            ("item_ease", EASERanker(*item, binary=binary, power=power)),
            ("user_ease", UserEASERanker(*user, binary=binary, power=power)),
        ],
        [0.5, 0.5],
    )


def tune_ease_item_user(
    X: sp.csr_matrix,
    powers: tuple[float, ...] = CONFIDENCE_POWERS,
    item_grid: tuple[tuple[float, float], ...] = ITEM_GRID,
    user_grid: tuple[tuple[float, float], ...] = USER_GRID,
    k: int = 10,
    holdout: float = 0.1,
    seeds: tuple[int, ...] = (0, 1, 2),
) -> ItemUserParams:
    """Choose the item+user EASE average's parameters on validation splits of the *training*
    matrix only (as `tune_ease`: `holdout` of each user's items, one split per seed, mean
    nDCG@k), in two stages so the search stays small:

    1. the confidence exponent p (0 = binary; X's values are the confidences, e.g. ratings)
       and item-EASE's (λ, α), by item-EASE's own validation nDCG;
    2. with those fixed, user-EASE's (λ, α), by the validation nDCG of the average.
    Ties go to the larger λ, then the smaller α and p (the simpler model).
    """
    item_table = {(p, l2, a): 0.0 for p in powers for l2, a in item_grid}
    splits = [_validation_split(X, holdout, seed) for seed in seeds]
    for fit, held in splits:
        for p, l2, a in item_table:
            # The training rows' scores only: no items × items matrix when users < items.
            scores = ease_training_scores(fit, l2, a, binary=p == 0.0, power=p)
            score = ranking_metrics(top_k(scores, k, fit), held, k).ndcg_at_k
            item_table[(p, l2, a)] += score / len(seeds)

    def key(point: tuple[float, ...]) -> tuple:
        table = item_table if len(point) == 3 else user_table
        *p, l2, a = point
        return (round(table[point], 12), l2, -a, *(-x for x in p))

    best_p, best_l2, best_a = max(item_table, key=key)
    binary = max((pt for pt in item_table if pt[0] == 0.0), key=key, default=(0.0, 500.0, 0.0))
    user_table: dict[tuple[float, float], float] = {pt: 0.0 for pt in user_grid}
    for fit, held in splits:
        binary_input = best_p == 0.0
        item_z = _standardize(
            ease_training_scores(fit, best_l2, best_a, binary=binary_input, power=best_p)
        )
        for l2, a in user_grid:
            user = user_ease_training_scores(fit, l2, a, binary=binary_input, power=best_p)
            scores = 0.5 * item_z + 0.5 * _standardize(user)
            recs = top_k(scores, k, fit)
            user_table[(l2, a)] += ranking_metrics(recs, held, k).ndcg_at_k / len(seeds)
    return ItemUserParams(
        power=best_p,
        item=(best_l2, best_a),
        user=max(user_table, key=key),
        binary=binary[1:],
        item_table=item_table,
        user_table=user_table,
    )


RANKERS = ("random", "popularity", "item_knn", "ease", "blend", "ease_item_user", "svd")


def default_rankers(
    split: IndexedSplit, random_state: int = 42, names: Sequence[str] | None = None
) -> dict[str, Ranker]:
    """The rankers reported side by side: baselines, item-kNN, EASE (tuned), EASE + item-kNN,
    the item+user EASE average on confidence-weighted input (`ease_item_user`, tuned), and
    Surprise's SVD used as a ranker (MS Recommenders' parameters) to show why rating models
    rank poorly. `names` limits which are built (and so which are tuned)."""
    names = list(RANKERS if names is None else [n for n in RANKERS if n in names])
    out: dict[str, Ranker] = {}
    tuned = None
    if {"ease", "blend", "ease_item_user"} & set(names):
        tuned = tune_ease_item_user(split.train)
    for name in names:
        if name == "random":
            out[name] = RandomRanker(random_state=random_state)
        elif name == "popularity":
            out[name] = PopularityRanker()
        elif name == "item_knn":
            out[name] = ItemKNNRanker(k=100, shrink=10.0)
        elif name == "ease":
            out[name] = EASERanker(*tuned.binary)
        elif name == "blend":
            out[name] = BlendRanker(
                [("ease", EASERanker(*tuned.binary)), ("item_knn", ItemKNNRanker(k=100))],
                [0.8, 0.2],
            )
        elif name == "ease_item_user":
            out[name] = item_user_ranker(tuned.power, tuned.item, tuned.user)
        elif name == "svd":
            svd = SVDRating(n_factors=150, n_epochs=15, lr_all=0.005, reg_all=0.02, random_state=0)
            out[name] = RatingScoreRanker(svd, split.train_frame, split.users, split.items)
    return out


def evaluate_ranking(
    split: IndexedSplit,
    rankers: dict[str, Ranker],
    k: int = 10,
    item_vectors: sp.csr_matrix | None = None,
) -> dict[str, dict[str, float]]:
    """Fit each ranker on the training matrix and score every training user's top-k.

    Each ranker is fitted as a fresh clone that is dropped once scored (the given rankers stay
    unfitted): at 10k items every EASE or item-kNN model holds one or two 0.75 GB
    items × items arrays, and keeping all of them alive until the end cost 4 GB.
    """
    results: dict[str, dict[str, float]] = {}
    for name, template in rankers.items():
        ranker = clone(template)
        start = time.perf_counter()
        ranker.fit(split.train)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        scores = ranker.score(split.train)
        score_s = time.perf_counter() - start
        recs = top_k(scores, k, split.train)
        row = ranking_metrics(recs, split.relevant, k).as_dict()
        row.update(beyond_accuracy(recs, split.train, item_vectors))
        row.update({"fit_seconds": fit_s, "score_all_seconds": score_s})
        if isinstance(ranker, EASERanker):
            row["l2"] = ranker.l2
            row["diag_dropout"] = ranker.diag_dropout
        if isinstance(ranker, BlendRanker):
            for part, est in ranker.components:
                if isinstance(est, EASERanker):
                    row[f"{part}_l2"] = est.l2
                    row[f"{part}_diag_dropout"] = est.diag_dropout
                    if not est.binary:
                        row["confidence_power"] = est.power
        results[name] = row
        del ranker, scores
    return results


RatingFactory = Callable[[], SurpriseRatingModel]


def default_rating_models() -> dict[str, RatingFactory]:
    """Surprise's models at the benchmark's defaults, plus item-based KNNBaseline with the
    shrunk Pearson-baseline similarity (Koren's recommended setting)."""
    return {
        "baseline_only": BaselineOnlyRating,
        "svd": lambda: SVDRating(random_state=0),
        "svdpp": lambda: SVDppRating(random_state=0),
        "knn_baseline": KNNBaselineRating,
        "knn_baseline_item": lambda: KNNBaselineRating(
            k=40, sim_options={"name": "pearson_baseline", "user_based": False}
        ),
    }


#: Worker processes for the rating protocol's (model, fold) fits: Surprise's SGD and
#: similarity loops are single-threaded, and the folds are independent.
RATING_JOBS = min(2, os.cpu_count() or 1)
#: Memory a neighbourhood model's similarity may take. Surprise's `pearson_baseline` holds five
#: n × n arrays of 8 bytes while it computes (n = items for item-based): 3.75 GB per fit at
#: ml-latest-small's 9.7k items, once per worker; over this a default model is skipped.
SIMILARITY_BUDGET_BYTES = 2 * 1024**3
_SIMILARITY_ARRAYS = 5

# What forked rating workers inherit: (ratings, factories, n_splits, random_state), and the
# folds each worker builds once.
_RATING_STATE: tuple | None = None
_RATING_FOLDS: list | None = None


def _init_worker() -> None:
    # One BLAS thread per worker: the machine's cores are the workers (and the ranking
    # protocol in the parent); spinning BLAS threads on top made every fit ≈ 5× slower.
    threadpool_limits(1)


def _rating_folds() -> list:
    global _RATING_FOLDS
    if _RATING_FOLDS is None:
        from surprise import Dataset, Reader
        from surprise.model_selection import KFold

        ratings, _, n_splits, random_state = _RATING_STATE
        scale = (float(ratings[RATING].min()), float(ratings[RATING].max()))
        data = Dataset.load_from_df(ratings[[USER, ITEM, RATING]], Reader(rating_scale=scale))
        _RATING_FOLDS = list(KFold(n_splits=n_splits, random_state=random_state).split(data))
    return _RATING_FOLDS


def _rating_fold(name: str, fold: int) -> tuple[float, float, float, float]:
    """RMSE, MAE, fit and predict seconds of model `name` on fold `fold`."""
    trainset, testset = _rating_folds()[fold]
    model = _RATING_STATE[1][name]()
    start = time.perf_counter()
    model.fit_trainset(trainset)
    fit_s = time.perf_counter() - start
    users = [u for u, _, _ in testset]
    items = [i for _, i, _ in testset]
    truth = np.array([r for _, _, r in testset])
    start = time.perf_counter()
    estimate = model.predict(users, items)
    predict_s = time.perf_counter() - start
    rmse, mae = rmse_mae(truth, estimate)
    return rmse, mae, fit_s, predict_s


class RatingRun:
    """The rating protocol's (model, fold) fits, started at construction and collected by
    `results()`, so the caller can do other work (the ranking protocol) meanwhile.

    With `n_jobs` > 1 the fits run in forked worker processes (forked before the caller starts
    any other thread); every fit is the same deterministic computation as in one process, so
    the figures do not depend on `n_jobs`.
    """

    def __init__(
        self,
        ratings: pd.DataFrame,
        models: dict[str, RatingFactory],
        n_splits: int = 5,
        random_state: int = 0,
        n_jobs: int = 1,
    ):
        global _RATING_STATE, _RATING_FOLDS
        _RATING_STATE, _RATING_FOLDS = (ratings, models, n_splits, random_state), None
        self.names = list(models)
        self.n_splits = n_splits
        self.pool = None
        self.futures: dict[tuple[str, int], Any] = {}
        if n_jobs > 1 and models:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # Fork: workers inherit the state above (factories may be lambdas), and with fork
            # every worker is started by the first submit, from this thread.
            self.pool = ProcessPoolExecutor(
                n_jobs, mp_context=multiprocessing.get_context("fork"), initializer=_init_worker
            )
            # SVD++ first: its fits cost ≈ 10× the others' (its SGD touches every rated item's
            # implicit factor for every rating), so starting them last would leave one worker
            # alone with the tail.
            slow_first = sorted(self.names, key=lambda n: not isinstance(models[n](), SVDppRating))
            for name in slow_first:
                for fold in range(n_splits):
                    self.futures[(name, fold)] = self.pool.submit(_rating_fold, name, fold)

    def results(self) -> dict[str, dict[str, float]]:
        """{model: rmse, mae (means over folds), rmse_folds, cv_fit/predict_seconds}."""
        global _RATING_STATE, _RATING_FOLDS
        try:
            results: dict[str, dict[str, float]] = {}
            for name in self.names:
                runs = [
                    self.futures[(name, f)].result() if self.pool else _rating_fold(name, f)
                    for f in range(self.n_splits)
                ]
                rmses, maes, fits, preds = (list(x) for x in zip(*runs, strict=True))
                results[name] = {
                    "rmse": float(np.mean(rmses)),
                    "mae": float(np.mean(maes)),
                    "rmse_folds": [round(x, 6) for x in rmses],
                    "cv_fit_seconds": float(np.mean(fits)),
                    "cv_predict_seconds": float(np.mean(preds)),
                }
            return results
        finally:
            if self.pool is not None:
                self.pool.shutdown(cancel_futures=True)
            _RATING_STATE, _RATING_FOLDS = None, None


def evaluate_rating(
    ratings: pd.DataFrame,
    models: dict[str, RatingFactory],
    n_splits: int = 5,
    random_state: int = 0,
    n_jobs: int = 1,
) -> dict[str, dict[str, float]]:
    """k-fold RMSE/MAE with Surprise's own KFold, so the folds equal its benchmark's; with
    `n_jobs` > 1 the (model, fold) fits run in that many processes (same figures)."""
    return RatingRun(ratings, models, n_splits, random_state, n_jobs).results()


def similarity_bytes(model: SurpriseRatingModel, ratings: pd.DataFrame) -> int:
    """Peak bytes of a neighbourhood model's similarity computation (0 for other models)."""
    if not isinstance(model, KNNBaselineRating):
        return 0
    user_based = (model.sim_options or {}).get("user_based", True)
    n = ratings[USER if user_based else ITEM].nunique()
    return _SIMILARITY_ARRAYS * 8 * n * n


def genre_vectors(items: pd.DataFrame, item_ids: np.ndarray) -> sp.csr_matrix:
    """Items × genres one-hot (pipe-separated `genres`), in `item_ids` order, for diversity."""
    genres = items.set_index(ITEM)["genres"].reindex(item_ids).fillna("")
    vocab = sorted({g for gs in genres for g in gs.split("|") if g})
    index = {g: k for k, g in enumerate(vocab)}
    rows, cols = [], []
    for r, gs in enumerate(genres):
        for g in gs.split("|"):
            if g:
                rows.append(r)
                cols.append(index[g])
    return sp.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(len(item_ids), max(len(vocab), 1))
    )


#: The ranking protocol's split seeds: `n` seeds from 42 (MS Recommenders' seed) upwards, so
#: one seed is exactly the published protocol and more seeds only add splits.
FIRST_SPLIT_SEED = 42
DEFAULT_SPLIT_SEEDS = 5
#: Row keys that are choices (tuned hyper-parameters), not figures: reported per seed only.
_CHOICE_SUFFIXES = ("l2", "diag_dropout", "confidence_power")


def split_seeds(n: int = DEFAULT_SPLIT_SEEDS) -> tuple[int, ...]:
    """The first `n` split seeds (42, 43, ...)."""
    if n < 1:
        raise ValueError(f"at least one split seed is needed, got {n}")
    return tuple(range(FIRST_SPLIT_SEED, FIRST_SPLIT_SEED + n))


def summarize_seeds(per_seed: dict[int, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """One row per model from each seed's rows: every figure's mean (under its own name, so
    readers of one-seed rows keep working), `<figure>_sd` (sample sd; None for one seed), and
    `per_seed` ({figure or choice: [value per seed]}, seeds in `per_seed`'s order)."""
    seeds = list(per_seed)
    out: dict[str, dict[str, Any]] = {}
    for model in per_seed[seeds[0]]:
        row: dict[str, Any] = {}
        values: dict[str, list] = {}
        for key in per_seed[seeds[0]][model]:
            values[key] = [per_seed[s][model][key] for s in seeds]
            if key.endswith(_CHOICE_SUFFIXES):
                if len(seeds) == 1:
                    row[key] = values[key][0]
                continue
            row[key] = float(np.mean(values[key]))
            row[f"{key}_sd"] = float(np.std(values[key], ddof=1)) if len(seeds) > 1 else None
        row["per_seed"] = values
        out[model] = row
    return out


def evaluate_movielens(
    name: str,
    data_dir: Any,
    protocol: str = "all",
    k: int = 10,
    seeds: tuple[int, ...] = (FIRST_SPLIT_SEED,),
    split_by: str = "user",
    rating_models: list[str] | None = None,
    rankers: list[str] | None = None,
    n_jobs: int = RATING_JOBS,
) -> dict[str, Any]:
    """Both protocols on a MovieLens release; returns the `--json` shape of the CLI:
    `{"dataset", "protocol", "models": {name: {metric: value}}, "resources": {wall_seconds,
    peak_rss_mb, peak_rss_children_mb}}`.

    The ranking protocol runs once per split seed (each with its own tuning on its own
    training part) and reports mean, sd and per-seed values (`summarize_seeds`); the rating
    protocol is Surprise's fixed 5 folds. Its fits run in `n_jobs` worker processes alongside
    the ranking protocol."""
    from ml.datasets import load_items, load_ratings

    started = time.perf_counter()

    ratings = load_ratings(name, data_dir)
    models: dict[str, dict[str, Any]] = {}
    described: dict[str, Any] = {}
    rating_run, skipped = None, {}
    if protocol in ("all", "rating"):
        # Started first: the rating fits run in worker processes while the ranking protocol
        # runs here.
        factories = default_rating_models()
        if rating_models:
            factories = {n: f for n, f in factories.items() if n in rating_models}
        for model_name, factory in list(factories.items()):
            need = similarity_bytes(factory(), ratings)
            if need > SIMILARITY_BUDGET_BYTES and not (
                rating_models and model_name in rating_models
            ):
                skipped[model_name] = (
                    f"its similarity computation needs {need / 1024**3:.1f} GB per fit "
                    f"(> {SIMILARITY_BUDGET_BYTES / 1024**3:.0f} GB budget); name it in "
                    "--models to run it anyway"
                )
                del factories[model_name]
        rating_run = RatingRun(ratings, factories, n_jobs=n_jobs)
    if protocol in ("all", "ranking"):
        per_seed, sizes = {}, []
        items = load_items(name, data_dir)
        # While rating workers run, one BLAS thread here too: n_jobs busy processes already
        # fill the cores, and oversubscribed BLAS threads spin instead of working.
        with threadpool_limits(1) if rating_run and rating_run.pool else nullcontext():
            for seed in seeds:
                train, test = stratified_split(ratings, 0.75, seed, by=split_by)
                sizes.append((len(train), len(test)))
                # Ratings as the confidence values: binary rankers ignore them,
                # `ease_item_user` weighs by them (its exponent, 0 = binary, is chosen on
                # validation).
                split = IndexedSplit.build(train, test, weight_col=RATING)
                chosen = default_rankers(split, random_state=seed, names=rankers)
                vectors = genre_vectors(items, split.items)
                per_seed[seed] = evaluate_ranking(split, chosen, k, vectors)
                del split, chosen
        for model, row in summarize_seeds(per_seed).items():
            models.setdefault(model, {}).update(row)
        described["ranking"] = {
            "split": f"per-{split_by} random 75/25 (MS Recommenders python_stratified_split), "
            f"one per seed; figures are means over seeds, with `_sd` and `per_seed`",
            "seeds": list(seeds),
            "k": k,
            "candidates": "items in training, minus each user's training items",
            "relevance": "any held-out item",
            "tuning": "hyper-parameters chosen on validation splits of the training part only "
            "(10% of each user's training items held out, seeds 0-2)",
            "diversity_vectors": "genres",
            "train_rows": [n for n, _ in sizes],
            "test_rows": [n for _, n in sizes],
        }
    if rating_run is not None:
        for model, row in rating_run.results().items():
            models.setdefault(model, {}).update(row)
        described["rating"] = {
            "cv": "5-fold surprise KFold(random_state=0), same folds for every model",
            "defaults": "Surprise defaults; SVD/SVD++ random_state=0",
            "processes": n_jobs,
        }
        if skipped:
            described["rating"]["skipped"] = skipped
    return {
        "dataset": name,
        "protocol": described,
        "models": models,
        "resources": {
            "wall_seconds": round(time.perf_counter() - started, 1),
            **peak_rss_mb(),
        },
    }


def peak_rss_mb() -> dict[str, float]:
    """Peak resident memory so far: this process's, and the largest finished child's (the
    rating workers), in MB (Linux reports ru_maxrss in kB)."""
    import resource

    return {
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_children_mb": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
    }
