"""The recommender flow on a tiny world with a real Prefect API: registry, gate, lineage of
every published row, and the markdown artifact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.homes import clone_home

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_recommend_flow_registers_gates_and_publishes(
    prefect_harness, tiny_warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.recommend import RecommendParams, recommend_flow
    from tests.homes import read_ml as read_table
    from warehouse.dbtrun import manifest_sha256

    home = clone_home(tiny_warehouse, tmp_path / "home")
    monkeypatch.setenv("TASTEMAKER_HOME", str(home))
    manifest = manifest_sha256(home / "dbt" / "target")

    first = recommend_flow(RecommendParams())
    assert first["promoted"] and first["champion"] == first["candidate"]
    metrics = first["metrics"]
    assert metrics["ndcg_at_10"] > metrics["popularity_ndcg_at_10"] > metrics["random_ndcg_at_10"]

    version_dir = Path(first["artifacts"])
    assert version_dir.parent == home / "artifacts" / "recommender"
    meta = json.loads((version_dir / "metadata.json").read_text())
    assert meta["metrics"]["ndcg_at_10"] == pytest.approx(metrics["ndcg_at_10"])
    assert meta["data_window"]["start"] < meta["data_window"]["end"]
    assert meta["data_window"]["snapshot_date"]
    assert meta["row_counts"]["user_title_interactions"] > 0 and meta["row_counts"]["test_pairs"]
    assert meta["manifest_sha256"] == manifest and meta["run_id"]
    assert meta["holdout_id"].startswith("temporal:")
    champion = json.loads((version_dir.parent / "champion.json").read_text())
    assert champion["version"] == meta["version"]

    table = read_table(home / "warehouse.duckdb", "recommendations")
    assert {
        "user_id",
        "row_name",
        "rank",
        "title_id",
        "score",
        "model_version",
        "row_position",
        "row_title",
        "run_id",
        "dbt_manifest_sha256",
    } <= set(table.columns)
    assert set(table["model_version"]) == {first["champion"]}
    assert set(table["run_id"]) == {meta["run_id"]}
    assert set(table["dbt_manifest_sha256"]) == {manifest}
    assert len(table) == first["rows_published"]
    assert not table.duplicated(["user_id", "title_id"]).any()

    # A worse candidate on the same holdout is saved but not promoted; homepages keep using
    # the champion, and this run's rows say so.
    second = recommend_flow(RecommendParams(model="popularity", gate_tolerance=0.0))
    assert not second["promoted"] and second["champion"] == first["champion"]
    decision = second["decision"]
    assert decision["metric"] == "ndcg_at_10"
    assert (
        decision["candidate_score"]
        < decision["champion_score"]
        == pytest.approx(metrics["ndcg_at_10"])
    )
    table = read_table(home / "warehouse.duckdb", "recommendations")
    assert set(table["model_version"]) == {first["champion"]}
    assert table["run_id"].nunique() == 1 and table["run_id"].iloc[0] != meta["run_id"]
    assert len(list((home / "artifacts" / "recommender").glob("2*"))) == 2

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["tastemaker-recommender"]))
        )
    texts = [str(a.data) for a in artifacts]
    assert len(texts) >= 2
    assert any("**ease** (Top Picks)" in t and "| popularity |" in t for t in texts)
    assert any("kept the champion" in t for t in texts)


def test_champion_from_another_holdout_is_rescored_on_the_candidates(
    tiny_warehouse, tmp_path: Path
) -> None:
    """Scores from different holdouts are not comparable: the champion's configuration is refit
    on the candidate's training split and judged on the candidate's test pairs."""
    from flows.recommend import RecommendParams
    from ml.recommend.evaluate import evaluate_ranking
    from ml.recommend.gates import evaluate_recommender, train_recommender
    from ml.recommend.rankers import ItemKNNRanker
    from ml.recommend.training import temporal_holdout
    from ml.registry import ModelRegistry
    from warehouse.recommend import read_marts
    from warehouse.settings import Settings

    settings = Settings(home=clone_home(tiny_warehouse, tmp_path / "home"))
    registry = ModelRegistry(settings.artifacts_path)
    marts = read_marts(settings)
    old = RecommendParams(model="item_knn", holdout_days=28)
    first, decision = train_recommender(
        registry, marts, old, evaluate_recommender(marts, old), run_id="run-1"
    )
    assert decision.promoted and decision.champion_score is None

    new = RecommendParams(model="popularity", holdout_days=21, gate_tolerance=0.0)
    evaluation = evaluate_recommender(marts, new)
    second, decision = train_recommender(registry, marts, new, evaluation, run_id="run-2")
    assert first.holdout_id != second.holdout_id
    split, _, _ = temporal_holdout(marts.interactions, 21)
    expected = evaluate_ranking(split, {"knn": ItemKNNRanker(k=100, shrink=10.0)}, 10)
    assert decision.champion_score == pytest.approx(expected["knn"]["ndcg_at_k"])
    assert decision.candidate_score == pytest.approx(
        evaluation["models"]["popularity"]["ndcg_at_k"]
    )
    assert not decision.promoted and decision.previous_champion == first.ref
