"""`tastemaker lineage` on a drift report and on a model version; `drift` without a warehouse."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from typer.testing import CliRunner

from flows.cli import app
from ml.registry import ModelRegistry, PromotionGate
from monitoring.drift import DriftSpec, DriftThresholds, run_drift
from warehouse.settings import Settings

runner = CliRunner()


def _home(tmp_path: Path) -> tuple[Settings, str]:
    settings = Settings(home=tmp_path / "home")
    target = settings.home_dir / "dbt" / "target"
    target.mkdir(parents=True)
    (target / "manifest.json").write_text('{"nodes": {}}')
    from warehouse.dbtrun import manifest_sha256

    return settings, manifest_sha256(target) or ""


def test_lineage_of_a_report_and_of_a_model(tmp_path: Path, monkeypatch) -> None:
    settings, manifest = _home(tmp_path)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300)})
    summary = run_drift(
        frame,
        frame.sample(frac=1.0, random_state=1),
        DriftSpec("toy", numerical=("x",)),
        DriftThresholds(permutations=5),
        settings.reports_path,
        write_html=False,
        lineage={"run_id": "run-7", "manifest_sha256": manifest, "model_version": None},
    )
    home = ["--home", str(settings.home_dir)]
    result = runner.invoke(app, [*home, "lineage", summary.report_id, "--json"])
    assert result.exit_code == 0, result.output
    chain = json.loads(result.stdout)
    assert chain["kind"] == "report" and chain["run_id"] == "run-7"
    assert chain["manifest_sha256"] == manifest and chain["dbt_build_is_current"] is True
    assert chain["report_json"] == summary.json_path and Path(chain["report_json"]).is_absolute()

    # a report named by a relative path (as typed in a shell) still lists absolute paths
    monkeypatch.chdir(tmp_path)
    relative = Path(summary.json_path).relative_to(tmp_path)
    result = runner.invoke(app, [*home, "lineage", str(relative), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["report_json"] == summary.json_path

    registry = ModelRegistry(settings.artifacts_path)
    meta = registry.save(
        DummyClassifier().fit([[0], [1]], [0, 1]),
        "churn",
        metrics={"auc": 0.5},
        manifest_sha256="0" * 64,
        run_id="run-8",
    )
    registry.promote("churn", meta.version, PromotionGate("auc"))
    result = runner.invoke(app, [*home, "lineage", meta.ref])
    assert result.exit_code == 0, result.output
    assert "run-8" in result.stdout and "is_champion: True" in result.stdout
    assert "dbt_build_is_current: False" in result.stdout  # built on another dbt manifest

    missing = runner.invoke(app, [*home, "lineage", "nope:123"])
    assert missing.exit_code == 2 and "neither a report" in missing.output


def test_drift_without_a_warehouse_fails_cleanly(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--home", str(tmp_path / "empty"), "drift", "--json"])
    assert result.exit_code == 2
    assert "no warehouse" in result.output
