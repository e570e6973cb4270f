"""Recommendation quality over time (monitoring/recsys.py) on the tiny generated world.

Periods are cut from the warehouse's `user_title_interactions` by first watch: the reference
period trains on everything before t - 2w and holds out [t - 2w, t - w); the current period
trains before t - w and holds out [t - w, t). Recommendations come from the project's rankers.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from ml.recommend.rankers import ItemKNNRanker, RandomRanker
from monitoring.recsys import METRICS, RecsysPeriod, ranking_frame, run_recsys_quality

K = 10
WINDOW = dt.timedelta(days=20)


@pytest.fixture(scope="module")
def interactions(tiny_warehouse) -> pd.DataFrame:
    con = duckdb.connect(str(tiny_warehouse.db_path), read_only=True)
    try:
        return con.execute(
            "select user_id, title_id, first_watched_at from user_title_interactions "
            "where first_watched_at is not null"
        ).df()
    finally:
        con.close()


def _period(frame: pd.DataFrame, start: pd.Timestamp, ranker) -> RecsysPeriod:
    """Train before `start`, hold out first watches in [start, start + WINDOW), recommend top K."""
    train = frame[frame["first_watched_at"] < start]
    holdout = frame[
        (frame["first_watched_at"] >= start) & (frame["first_watched_at"] < start + WINDOW)
    ]
    users = np.array(sorted(set(train["user_id"]) & set(holdout["user_id"])))
    titles = np.array(sorted(set(frame["title_id"])))
    u_idx = {u: i for i, u in enumerate(users)}
    t_idx = {t: i for i, t in enumerate(titles)}
    known = train[train["user_id"].isin(u_idx)]
    X = sp.csr_matrix(
        (
            np.ones(len(known)),
            (known["user_id"].map(u_idx).to_numpy(), known["title_id"].map(t_idx).to_numpy()),
        ),
        shape=(len(users), len(titles)),
    )
    top = ranker.fit(X).recommend(X, k=K)
    recs = pd.DataFrame(
        {
            "user_id": np.repeat(users, K),
            "title_id": titles[top.ravel()],
            "rank": np.tile(np.arange(1, K + 1), len(users)),
        }
    )
    window = {"start": str(start.date()), "end": str((start + WINDOW).date())}
    return RecsysPeriod(recs, holdout[["user_id", "title_id"]], train, window)


@pytest.fixture(scope="module")
def periods(interactions):
    end = interactions["first_watched_at"].max().normalize() + pd.Timedelta(days=1)
    cur_start, ref_start = end - WINDOW, end - 2 * WINDOW
    return {
        "knn_ref": _period(interactions, ref_start, ItemKNNRanker(k=50)),
        "knn_cur": _period(interactions, cur_start, ItemKNNRanker(k=50)),
        "random_cur": _period(interactions, cur_start, RandomRanker(random_state=0)),
    }


def test_ranking_frame_marks_hits_and_misses() -> None:
    period = RecsysPeriod(
        recommendations=pd.DataFrame(
            {"user_id": ["a", "a", "b"], "title_id": ["t1", "t2", "t3"], "rank": [2, 1, 1]}
        ),
        holdout=pd.DataFrame({"user_id": ["a", "a", "c"], "title_id": ["t1", "t9", "t1"]}),
        train=pd.DataFrame({"user_id": ["a"], "title_id": ["t5"]}),
    )
    frame = ranking_frame(period, k=3).sort_values(["user_id", "prediction"])
    assert frame.to_dict("records") == [
        {"user_id": "a", "item_id": "t2", "prediction": 1, "target": 0},
        {"user_id": "a", "item_id": "t1", "prediction": 2, "target": 1},
        {"user_id": "a", "item_id": "t9", "prediction": 4, "target": 1},  # missed: rank k + 1
        {"user_id": "b", "item_id": "t3", "prediction": 1, "target": 0},
    ]  # user c got no recommendations: not evaluated


def test_same_period_twice_changes_nothing(periods, tmp_path: Path) -> None:
    summary = run_recsys_quality(
        periods["knn_cur"], periods["knn_cur"], tmp_path, k=K, min_users=20, write_html=False
    )
    assert summary.status == "ok" and summary.degraded_metrics == []
    assert {m.name for m in summary.metrics} == set(METRICS)
    for m in summary.metrics:
        assert m.current is not None and m.current == m.reference, m
    assert 0 < summary.value("ndcg") < 1 and 0 < summary.value("coverage") <= 1
    assert json.loads(Path(summary.json_path).read_text())["status"] == "ok"


def test_a_worse_model_is_flagged_against_the_reference_period(periods, tmp_path: Path) -> None:
    """Item-KNN in the reference period, random lists in the current one: accuracy collapses
    and popularity bias falls (random lists favour no title), so NDCG is flagged, not bias."""
    good = run_recsys_quality(
        periods["knn_ref"], periods["knn_cur"], tmp_path, k=K, min_users=20, write_html=False
    )
    bad = run_recsys_quality(
        periods["knn_ref"],
        periods["random_cur"],
        tmp_path,
        k=K,
        min_users=20,
        lineage={"model_version": "random-1", "run_id": "r-1"},
    )
    assert bad.status == "degraded"
    assert {"ndcg", "hit_rate"} <= set(bad.degraded_metrics)
    assert "popularity_bias" not in bad.degraded_metrics
    assert bad.value("ndcg") < 0.5 * bad.value("ndcg", "reference")
    assert bad.value("ndcg", "reference") == pytest.approx(good.value("ndcg", "reference"))
    assert bad.value("coverage") > good.value("coverage")  # random lists cover more titles
    stored = json.loads(Path(bad.json_path).read_text())
    assert stored["lineage"] == {"model_version": "random-1", "run_id": "r-1",
                                 "report_id": bad.report_id}  # fmt: skip
    assert Path(bad.html_path).stat().st_size > 100_000


def test_few_users_is_insufficient_data_not_degraded(periods, tmp_path: Path) -> None:
    summary = run_recsys_quality(
        periods["knn_ref"], periods["random_cur"], tmp_path, k=K, min_users=10_000,
        write_html=False,
    )  # fmt: skip
    assert summary.status == "insufficient_data" and summary.degraded_metrics == []


def test_bad_rank_names_the_row(periods, tmp_path: Path) -> None:
    recs = periods["knn_cur"].recommendations.copy()
    recs.loc[3, "rank"] = 0
    broken = RecsysPeriod(recs, periods["knn_cur"].holdout, periods["knn_cur"].train)
    with pytest.raises(ValueError, match=r"current recommendations: row 3 .*rank=0"):
        run_recsys_quality(periods["knn_ref"], broken, tmp_path, write_html=False)
    with pytest.raises(KeyError, match="reference holdout: columns missing"):
        run_recsys_quality(
            RecsysPeriod(recs, pd.DataFrame({"user_id": []}), recs), broken, tmp_path
        )
