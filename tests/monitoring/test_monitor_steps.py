"""The monitor flow's churn-score and recommendation steps against published ml.* tables.

Tables are written with the project's publish helper (warehouse/publish.py), so rows carry
run id, model version and dbt manifest hash exactly as the training flows will publish them.
Churn scores come from the generator's truth; recommendations from the project's rankers.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from flows.steps.monitor import prediction_drift_step, recsys_step
from ml.recommend.rankers import ItemKNNRanker
from monitoring.checks import Skipped
from monitoring.config import DriftConfig
from monitoring.drift import DriftSummary
from monitoring.lineage import resolve
from monitoring.recsys import RecsysSummary
from tests.homes import publish_to as publish_table
from warehouse.lineage import read_published_runs
from warehouse.publish import PublishLineage
from warehouse.settings import Settings


@pytest.fixture
def settings(tiny_warehouse, tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    (home / "dbt" / "target").mkdir(parents=True)
    shutil.copyfile(tiny_warehouse.db_path, home / "warehouse.duckdb")
    shutil.copyfile(
        tiny_warehouse.settings.home_dir / "dbt" / "target" / "manifest.json",
        home / "dbt" / "target" / "manifest.json",
    )
    return Settings(home=home, drift=DriftConfig(permutations=30, min_rows=50, window_days=20))


def _lineage(version: str, run: str) -> PublishLineage:
    return PublishLineage(run_id=run, model_version=version, dbt_manifest_sha256="ab" * 32)


def test_churn_scores_skip_until_two_snapshots_then_compare(settings, tiny_warehouse) -> None:
    skipped = prediction_drift_step(settings, run_id="m-1")
    assert isinstance(skipped, Skipped) and "ml.churn_scores does not exist" in skipped.reason

    truth = pd.read_csv(tiny_warehouse.truth_dir / "churn.csv")
    scores = truth.loc[:, ["user_id", "churn_probability"]].assign(top_reasons="tenure")
    first = scores.assign(snapshot_date=dt.date(2026, 4, 1))
    publish_table(
        settings.warehouse_path, "churn_scores", first, _lineage("churn:v1", "train-1"),
        replace_where={"snapshot_date": dt.date(2026, 4, 1)},
    )  # fmt: skip
    skipped = prediction_drift_step(settings, run_id="m-2")
    assert isinstance(skipped, Skipped) and "1 snapshot date(s) (2026-04-01)" in skipped.reason

    p = scores["churn_probability"].clip(1e-6, 1 - 1e-6)
    riskier = scores.assign(
        churn_probability=1 / (1 + np.exp(-(np.log(p / (1 - p)) + 1.0))),
        snapshot_date=dt.date(2026, 4, 15),
    )
    publish_table(
        settings.warehouse_path, "churn_scores", riskier, _lineage("churn:v2", "train-2"),
        replace_where={"snapshot_date": dt.date(2026, 4, 15)},
    )  # fmt: skip
    summary = prediction_drift_step(settings, run_id="m-3")
    assert isinstance(summary, DriftSummary) and summary.dataset_drift
    assert summary.reference_window["snapshot_date"] == "2026-04-01"
    assert summary.current_window["snapshot_date"] == "2026-04-15"
    assert summary.lineage["model_version"] == "churn:v2"
    assert summary.lineage["reference_model_version"] == "churn:v1"
    assert summary.lineage["scores_run_id"] == "train-2"
    assert summary.lineage["scores_dbt_manifest_sha256"] == "ab" * 32
    # the report traces back to the monitor run, the scores' run and the model version
    chain = resolve(
        summary.report_id,
        reports_root=settings.reports_path,
        artifacts_root=settings.artifacts_path,
        manifest=settings.home_dir / "dbt" / "target" / "manifest.json",
        published=read_published_runs(settings),
    )
    assert chain["run_id"] == "m-3" and chain["model_version"] == "churn:v2"
    assert chain["dbt_build_is_current"] is True
    assert chain["published"]["scores_run_id"] == "train-2"
    assert chain["published_rows"] == [
        {"table": "ml.churn_scores", "run_id": "train-2", "dbt_manifest_sha256": "ab" * 32,
         "rows": len(scores)}
    ]  # fmt: skip
    # and a model version that only exists in published rows (not in the registry)
    by_version = resolve(
        "churn:v1",
        reports_root=settings.reports_path,
        artifacts_root=settings.artifacts_path,
        manifest=None,
        published=read_published_runs(settings),
    )
    assert by_version["run_id"] == "train-1" and by_version["registry"] == "not found"


def _recommend(settings: Settings, made_on: dt.date, k: int = 10) -> pd.DataFrame:
    """Item-KNN top-k for every user, trained on first watches before `made_on`."""
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    watched = con.execute(
        "select user_id, title_id, first_watched_at from user_title_interactions "
        "where first_watched_at < ?",
        [made_on],
    ).df()
    rows = con.execute("select title_id from title_features").fetchall()
    titles = np.array(sorted(r[0] for r in rows))
    con.close()
    users = np.array(sorted(watched["user_id"].unique()))
    import scipy.sparse as sp

    u = {x: i for i, x in enumerate(users)}
    t = {x: i for i, x in enumerate(titles)}
    X = sp.csr_matrix(
        (np.ones(len(watched)), (watched["user_id"].map(u), watched["title_id"].map(t))),
        shape=(len(users), len(titles)),
    )
    top = ItemKNNRanker(k=50).fit(X).recommend(X, k=k)
    return pd.DataFrame(
        {
            "user_id": np.repeat(users, k),
            "row_name": "top_picks",
            "rank": np.tile(np.arange(1, k + 1), len(users)),
            "title_id": titles[top.ravel()],
            "score": np.tile(np.linspace(1, 0.1, k), len(users)),
            "snapshot_date": made_on,
        }
    )


def test_recommendations_are_judged_against_the_set_they_replaced(settings) -> None:
    skipped = recsys_step(settings, run_id="m-1")
    assert isinstance(skipped, Skipped) and "ml.recommendations does not exist" in skipped.reason

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    (end,) = con.execute("select snapshot_date from user_features limit 1").fetchone()
    con.close()
    first_day, second_day = end - dt.timedelta(days=40), end - dt.timedelta(days=20)
    path = settings.warehouse_path
    recs = _recommend(settings, first_day)
    publish_table(path, "recommendations", recs, _lineage("rec:v1", "t1"))
    skipped = recsys_step(settings, run_id="m-2")
    assert isinstance(skipped, Skipped) and "no earlier recommendations" in skipped.reason
    assert len(list((settings.home_dir / "monitoring" / "recsys").glob("*.parquet"))) == 1

    recs = _recommend(settings, second_day)
    publish_table(path, "recommendations", recs, _lineage("rec:v2", "t2"))
    summary = recsys_step(settings, run_id="m-3")
    assert isinstance(summary, RecsysSummary), summary
    assert summary.status in {"ok", "degraded"}
    assert summary.reference_window["made_on"] == str(first_day)
    assert summary.reference_window["holdout"] == [str(first_day), str(second_day)]
    assert summary.current_window["holdout"] == [str(second_day), str(end)]
    assert summary.lineage["model_version"] == "rec:v2"
    assert summary.lineage["reference_model_version"] == "rec:v1"
    assert summary.lineage["recommendations_run_id"] == "t2"
    assert 0 < summary.value("ndcg") < 1 and 0 < summary.value("ndcg", "reference") < 1
    stored = json.loads(Path(summary.json_path).read_text())
    assert stored["lineage"]["run_id"] == "m-3"
