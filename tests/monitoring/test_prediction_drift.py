"""Prediction drift on churn scores (`monitoring.drift.run_prediction_drift`).

Scores come from the generator's truth (`truth/churn.csv`: each user's true churn probability,
month by month; about 1,000 user-months in the tiny world): two random halves are the same
distribution; the same rows with the odds of churning multiplied by e (logit + 1) are a riskier
population. The distribution is heavy-tailed (a few dormant users near 1), which is what the
noise floor has to absorb at a few hundred rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitoring.drift import DriftThresholds, run_prediction_drift

THRESHOLDS = DriftThresholds(permutations=100, min_rows=50)


@pytest.fixture(scope="module")
def month(tiny_warehouse) -> pd.DataFrame:
    truth = pd.read_csv(tiny_warehouse.truth_dir / "churn.csv")
    return truth.loc[:, ["user_id", "churn_probability"]].reset_index(drop=True)


def _riskier(scores: pd.DataFrame, logit_shift: float) -> pd.DataFrame:
    p = scores["churn_probability"].clip(1e-6, 1 - 1e-6)
    logit = np.log(p / (1 - p)) + logit_shift
    return scores.assign(churn_probability=1 / (1 + np.exp(-logit)))


def test_random_halves_do_not_drift(month: pd.DataFrame, tmp_path: Path) -> None:
    assert len(month) > 600
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(len(month))
        half = len(month) // 2
        a, b = month.iloc[order[:half]], month.iloc[order[half:]]
        summary = run_prediction_drift(a, b, THRESHOLDS, tmp_path, write_html=False)
        assert summary.dataset == "churn_scores" and summary.status == "ok", seed
    assert [c.column for c in summary.columns] == ["churn_probability", "risk_band"]


def test_riskier_population_is_prediction_drift(month: pd.DataFrame, tmp_path: Path) -> None:
    current = _riskier(month, 1.0)
    summary = run_prediction_drift(
        month,
        current,
        THRESHOLDS,
        tmp_path,
        reference_window={"snapshot_date": "2026-04-01"},
        current_window={"snapshot_date": "2026-04-15"},
        lineage={"model_version": "churn:v2", "reference_model_version": "churn:v1"},
    )
    assert summary.dataset_drift and "churn_probability" in summary.drifted_columns
    prob = next(c for c in summary.columns if c.column == "churn_probability")
    assert prob.current_mean > prob.reference_mean
    stored = json.loads(Path(summary.json_path).read_text())
    assert stored["lineage"]["model_version"] == "churn:v2"
    assert stored["current_window"] == {"snapshot_date": "2026-04-15"}
    assert Path(summary.html_path).name.startswith("churn_scores_drift_")


def test_a_score_outside_0_1_names_the_row(month: pd.DataFrame, tmp_path: Path) -> None:
    bad = month.copy()
    bad.loc[7, "churn_probability"] = 1.7
    user = bad.loc[7, "user_id"]
    with pytest.raises(ValueError, match=rf"current\): row 7 \(user_id '{user}'\): "
                       r"churn_probability=1.7 is not a probability"):  # fmt: skip
        run_prediction_drift(month, bad, THRESHOLDS, tmp_path, write_html=False)
    with pytest.raises(KeyError, match=r"reference.*'churn_probability' missing"):
        run_prediction_drift(
            month.rename(columns={"churn_probability": "p"}), month, THRESHOLDS, tmp_path
        )
