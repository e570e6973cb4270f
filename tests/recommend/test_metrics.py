"""Metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from ml.recommend.metrics import (
    average_precision_at_k,
    beyond_accuracy,
    gini,
    ranking_metrics,
    rmse_mae,
)


def test_ranking_metrics_by_hand() -> None:
    recs = np.array([[0, 1, 2], [3, 4, 5]])
    relevant = [{1, 9}, {7}]  # user 0: a hit at rank 2 (item 9 unrecommendable); user 1: none
    scores = ranking_metrics(recs, relevant, k=3)
    dcg = 1 / math.log(3)
    idcg = 1 / math.log(2) + 1 / math.log(3)
    assert scores.ndcg_at_k == pytest.approx((dcg / idcg + 0) / 2)
    assert scores.precision_at_k == pytest.approx((1 / 3 + 0) / 2)
    assert scores.recall_at_k == pytest.approx((1 / 2 + 0) / 2)
    assert scores.map_at_k == pytest.approx(((1 / 2) / 2 + 0) / 2)
    assert scores.n_users == 2


def test_perfect_ranking_scores_one() -> None:
    scores = ranking_metrics(np.array([[5, 6]]), [{5, 6}], k=2)
    assert scores.ndcg_at_k == scores.precision_at_k == scores.recall_at_k == scores.map_at_k == 1.0


def test_map_at_k_is_normalised_by_min_of_k_and_relevant_by_hand() -> None:
    """One MAP, pinned on a list shorter than the user's relevant set (where the two old
    definitions parted): k = 3, relevant {0, 1, 2, 3}, list [0, 5, 1] hits at ranks 1 and 3.
    AP@3 = (1/1 + 2/3) / min(4, 3) = 5/9 (dividing by all 4 relevant items would give 5/12).
    A second user, relevant {7}, list [9, 7, 8]: AP@3 = (1/2) / 1."""
    recs = np.array([[0, 5, 1], [9, 7, 8]])
    scores = ranking_metrics(recs, [{0, 1, 2, 3}, {7}], k=3)
    assert scores.map_at_k == pytest.approx((5 / 9 + 1 / 2) / 2)
    # every reader of the evaluation dict (CLI column `map`, registry's `map_at_k`) sees it
    row = scores.as_dict()
    assert row["map_at_k"] == pytest.approx((5 / 9 + 1 / 2) / 2)
    assert "map" not in row  # one MAP, one name


def test_a_perfect_list_shorter_than_the_relevant_set_scores_one() -> None:
    scores = ranking_metrics(np.array([[3, 1]]), [{1, 2, 3, 4, 5}], k=2)
    assert scores.map_at_k == scores.precision_at_k == scores.ndcg_at_k == 1.0
    assert average_precision_at_k(np.array([1.0, 1.0]), 5, 2) == 1.0


def test_average_precision_needs_a_relevant_item() -> None:
    assert average_precision_at_k(np.array([0.0, 1.0, 0.0]), 2, 3) == pytest.approx(1 / 4)
    with pytest.raises(ValueError, match="at least one relevant item, got 0"):
        average_precision_at_k(np.array([0.0]), 0, 1)


def test_users_without_relevant_items_are_skipped() -> None:
    scores = ranking_metrics(np.array([[0], [1]]), [set(), {1}], k=1)
    assert scores.n_users == 1 and scores.precision_at_k == 1.0


def test_gini() -> None:
    assert gini(np.array([5, 5, 5, 5])) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 8])) == pytest.approx(0.75)


def test_beyond_accuracy() -> None:
    train = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 1.0], [1, 0, 0, 0]]))
    recs = np.array([[0, 1], [0, 1], [0, 1], [0, 1]])
    out = beyond_accuracy(recs, train)
    assert out["coverage"] == 0.5
    assert out["arp"] == pytest.approx((1.0 + 0.25) / 2)
    assert out["novelty"] == pytest.approx((0 + 2) / 2)
    # Items 0 and 1 share one user out of √4·√1: cosine 0.5.
    assert out["intra_list_diversity"] == pytest.approx(0.5)


def test_rmse_mae() -> None:
    assert rmse_mae(np.array([1, 2, 3]), np.array([1, 2, 5])) == pytest.approx(
        (math.sqrt(4 / 3), 2 / 3)
    )
