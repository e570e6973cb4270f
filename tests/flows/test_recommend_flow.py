"""The recommender flow on a tiny world with a real Prefect API: registry, gate, lineage of
every published row, and the markdown artifact."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _clone_home(built, home: Path) -> Path:
    (home / "dbt" / "target").mkdir(parents=True)
    shutil.copyfile(built.db_path, home / "warehouse.duckdb")
    shutil.copyfile(
        built.settings.home_dir / "dbt" / "target" / "manifest.json",
        home / "dbt" / "target" / "manifest.json",
    )
    return home


def test_recommend_flow_registers_gates_and_publishes(
    prefect_harness, tiny_warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.recommend import RecommendParams, recommend_flow
    from flows.tasks.dbtrun import manifest_sha256
    from flows.tasks.publish import read_table

    home = _clone_home(tiny_warehouse, tmp_path / "home")
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
