"""Ranking and beyond-accuracy metrics over top-k lists in matrix-index space.

Definitions follow Microsoft Recommenders' python_evaluation (binary relevance: any held-out
item is relevant), averaged over every test user (users with no hit count as 0):

- Precision@k = |hits| / k
- Recall@k    = |hits| / |relevant|
- nDCG@k      = Σ_{hits at rank r} 1/log(1+r)  /  Σ_{r=1}^{min(|relevant|,k)} 1/log(1+r)
- MAP@k       = mean over users of AP@k, with
                AP@k = Σ_{hits at rank r ≤ k} (hits up to r)/r  /  min(|relevant|, k)
                (MS Recommenders `map_at_k`, ml_metrics/Kaggle `apk`).

MAP has this one definition (`average_precision_at_k`). An earlier version also reported MS
Recommenders' `map` (the same sum divided by all |relevant| items); the CLI showed that one and
the registry the other, so one model on one holdout had two "MAP@10"s (reported: 0.1278 vs
0.1296). The min(|relevant|, k) normaliser is the one kept because it measures the list that
was asked for: a perfect top-k list scores 1 however many relevant items lie beyond k (with
|relevant| it could not, and a user's score would fall as their holdout grows), and it is the
same "ideal list" as nDCG's denominator, so the two metrics agree on what perfect means.

Beyond accuracy, with pop_i = share of training users who interacted with i:
- coverage         = |∪ recommended items| / |catalogue|
- novelty          = mean over recommended items of −log2(pop_i)    (higher = less obvious)
- intra-list diversity = mean over lists of mean pairwise (1 − cos(i, j)), item vectors given
- ARP (average recommendation popularity) = mean over lists of mean pop_i
- Gini of how often each catalogue item is recommended (0 = even exposure, 1 = one item)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class RankingScores:
    map_at_k: float
    ndcg_at_k: float
    precision_at_k: float
    recall_at_k: float
    n_users: int

    def as_dict(self) -> dict[str, float]:
        """The scores by name (one MAP: `map_at_k`, AP@k over min(k, |relevant|))."""
        return asdict(self)


def average_precision_at_k(hits: np.ndarray, n_relevant: int, k: int) -> float:
    """AP@k of one list: Σ over hit ranks r ≤ k of precision@r, divided by min(n_relevant, k).

    Args:
        hits: 0/1 per rank of the list (at least its first k entries are read).
        n_relevant: how many items are relevant to this user (> 0), found in the list or not.
        k: list length scored.
    """
    if n_relevant <= 0:
        raise ValueError(f"average precision needs at least one relevant item, got {n_relevant}")
    top = np.asarray(hits[:k], dtype=float)
    precision_at_r = np.cumsum(top) / np.arange(1, len(top) + 1)
    return float((top * precision_at_r).sum() / min(n_relevant, k))


def ranking_metrics(
    recs: np.ndarray, relevant: list[set[int]] | list[np.ndarray], k: int = 10
) -> RankingScores:
    """Metrics of top-k lists `recs` (n_users × ≥k item indices) against each user's relevant
    set; users with an empty relevant set are skipped (they have nothing to find)."""
    discounts = 1.0 / np.log(np.arange(2, k + 2))
    maps, ndcgs, precs, recalls = [], [], [], []
    for row, rel in zip(recs, relevant, strict=True):
        rel = set(int(x) for x in rel)
        if not rel:
            continue
        hits = np.array([int(item) in rel for item in row[:k]], dtype=float)
        n_hit = hits.sum()
        maps.append(average_precision_at_k(hits, len(rel), k))
        idcg = discounts[: min(len(rel), k)].sum()
        ndcgs.append(float((hits * discounts[: len(hits)]).sum() / idcg))
        precs.append(n_hit / k)
        recalls.append(n_hit / len(rel))
    return RankingScores(
        map_at_k=float(np.mean(maps)),
        ndcg_at_k=float(np.mean(ndcgs)),
        precision_at_k=float(np.mean(precs)),
        recall_at_k=float(np.mean(recalls)),
        n_users=len(ndcgs),
    )


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative counts: Σ_i (2i − n − 1) x_(i) / (n Σ x), x sorted."""
    x = np.sort(np.asarray(counts, dtype=float))
    n = len(x)
    if n == 0 or x.sum() == 0:
        return 0.0
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * x).sum() / (n * x.sum()))


def beyond_accuracy(
    recs: np.ndarray, train: sp.csr_matrix, item_vectors: sp.csr_matrix | None = None
) -> dict[str, float]:
    """Coverage, novelty, intra-list diversity, ARP and Gini of top-k lists.

    Args:
        recs: n_users × k recommended item indices.
        train: users × items training interactions (popularity source).
        item_vectors: items × features for diversity; default the items' training columns
            (two items are similar when the same users watched them).
    """
    n_users, n_items = train.shape
    binary = (train > 0).astype(np.float64)
    pop = np.asarray(binary.sum(axis=0)).ravel() / max(n_users, 1)
    flat = recs.ravel()
    counts = np.bincount(flat, minlength=n_items)
    novelty = float(np.mean(-np.log2(np.clip(pop[flat], 1.0 / max(n_users, 1), None))))
    vectors = item_vectors if item_vectors is not None else binary.T.tocsr()
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    diversities = []
    k = recs.shape[1]
    if k > 1:
        for row in recs:
            v = vectors[row]
            sim = (v @ v.T).toarray() / np.outer(norms[row], norms[row])
            off = sim[~np.eye(k, dtype=bool)]
            diversities.append(1.0 - off.mean())
    return {
        "coverage": float((counts > 0).sum() / n_items),
        "novelty": novelty,
        "intra_list_diversity": float(np.mean(diversities)) if diversities else 0.0,
        "arp": float(pop[recs].mean()),
        "gini": gini(counts),
    }


def rmse_mae(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """Root mean squared error √(mean (r − r̂)²) and mean absolute error mean |r − r̂|."""
    err = np.asarray(truth, dtype=float) - np.asarray(predicted, dtype=float)
    return float(np.sqrt(np.mean(err**2))), float(np.mean(np.abs(err)))
