"""CBPE of ROC-AUC (monitoring/performance.py): on calibrated scores the estimate is close to
the realized AUC over several seeds, it moves with the score distribution as the realized AUC
does, and the change is stated against the reference."""

from __future__ import annotations

import numpy as np
import pytest

from monitoring.performance import cbpe_roc_auc, estimate_roc_auc, realized_roc_auc


def _calibrated(n: int, rng: np.random.Generator, a: float = 1.5, b: float = 5.0):
    """Scores from Beta(a, b) and labels drawn with exactly that probability: calibrated."""
    p = rng.beta(a, b, n)
    return p, (rng.random(n) < p).astype(int)


def test_estimate_is_close_to_the_realized_auc_when_calibrated() -> None:
    errors = []
    for seed in range(5):
        p, y = _calibrated(5_000, np.random.default_rng(seed))
        errors.append(cbpe_roc_auc(p) - realized_roc_auc(y, p))
    # the label draw alone moves a realized AUC on 5,000 rows by about 0.01 (sd)
    assert abs(np.mean(errors)) < 0.01, errors
    assert np.std(errors) < 0.015, errors
    assert max(abs(e) for e in errors) < 0.03, errors


def test_estimate_moves_with_the_score_distribution() -> None:
    """Scores bunched near the base rate separate less; scores spread to 0 and 1 separate more.
    The estimate follows the realized AUC of calibrated labels either way."""
    rng = np.random.default_rng(1)
    base_p, _ = _calibrated(5_000, rng, 1.5, 5.0)
    bunched_p, bunched_y = _calibrated(5_000, rng, 15.0, 50.0)  # same mean, far less spread
    spread_p, spread_y = _calibrated(5_000, rng, 0.3, 1.0)  # same mean, more spread
    base, bunched, spread = (cbpe_roc_auc(p) for p in (base_p, bunched_p, spread_p))
    assert bunched < base - 0.1 and spread > base + 0.05
    for p, y in ((bunched_p, bunched_y), (spread_p, spread_y)):
        assert cbpe_roc_auc(p) == pytest.approx(realized_roc_auc(y, p), abs=0.03)


def test_change_is_stated_against_the_reference() -> None:
    rng = np.random.default_rng(2)
    ref_p, ref_y = _calibrated(3_000, rng)
    cur_p, _ = _calibrated(3_000, rng, 15.0, 50.0)
    est = estimate_roc_auc(
        cur_p,
        reference_probabilities=ref_p,
        reference_labels=ref_y,
        model_version="churn:v1",
        current_label="ml.churn_scores 2026-06-03",
        reference_label="churn:v1's holdout",
    )
    assert est.change == pytest.approx(est.current_estimate - est.reference_estimate)
    assert est.change < -0.1 and est.change_against == "reference_estimate"
    assert est.reference_realized == pytest.approx(realized_roc_auc(ref_y, ref_p))
    assert est.current_realized is None
    text = est.text()
    assert "labels not yet arrived" in text and f"{est.change:+.3f}" in text
    # without the reference's probabilities: against its realized AUC
    only_auc = estimate_roc_auc(cur_p, reference_realized=0.8)
    assert only_auc.change == pytest.approx(only_auc.current_estimate - 0.8)
    assert only_auc.change_against == "reference_realized"


def test_realized_where_labels_have_arrived_and_small_samples() -> None:
    rng = np.random.default_rng(3)
    p, y = _calibrated(2_000, rng)
    labels = y.astype(float)
    labels[:500] = np.nan  # not arrived yet
    est = estimate_roc_auc(p, current_labels=labels)
    assert est.current_labelled == 1_500
    assert est.current_realized == pytest.approx(realized_roc_auc(y[500:], p[500:]))
    small = estimate_roc_auc(p[:20])
    assert small.current_estimate is None and "fewer than" in (small.note or "")
    assert cbpe_roc_auc([]) is None and cbpe_roc_auc([0.0, 0.0]) is None
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        cbpe_roc_auc([0.2, 1.4])


def test_performance_step_on_the_tiny_world(tiny_warehouse, tmp_path) -> None:
    """The champion trained and its scores published as the churn flow does (without Prefect):
    realized AUC where labels have arrived (scores of a labelled snapshot), the estimate alone
    once the latest scores have none, the change against the model's recorded reference, and
    the line in the drift mail."""
    import datetime as dt
    import email
    import email.policy

    import pandas as pd

    from flows.params import ChurnParams
    from flows.steps.monitor import drift_step, mail_step, performance_step
    from ml.audience.churn import LABEL
    from ml.audience.gates import fit_churn, save_churn, score_with_champion
    from ml.registry import ModelRegistry
    from monitoring.config import DriftConfig
    from tests.homes import clone_home
    from warehouse.audience import load_churn_inputs, publish_churn_scores
    from warehouse.monitoring import load_feature_windows
    from warehouse.publish import PublishLineage
    from warehouse.settings import Settings

    home = clone_home(tiny_warehouse, tmp_path / "home")
    settings = Settings(home=home, drift=DriftConfig(permutations=5, reference="adjacent"))
    skipped = performance_step(settings)
    assert skipped.reason.startswith("ml.churn_scores does not exist")

    params = ChurnParams()
    inputs = load_churn_inputs(settings)
    registry = ModelRegistry(settings.artifacts_path)
    save_churn(registry, fit_churn(inputs.training, params), inputs.training, params,
               run_id="t", manifest=None)  # fmt: skip
    labelled = inputs.training[inputs.training["snapshot_date"] == inputs.training[
        "snapshot_date"].min()]  # fmt: skip
    scores, ref = score_with_champion(registry, labelled, params.top_reasons)
    publish_churn_scores(settings, scores, PublishLineage("t", ref, None))
    with_labels = performance_step(settings)
    assert with_labels.current_labelled == len(labelled)
    expected = realized_roc_auc(labelled[LABEL].to_numpy(), scores["churn_probability"])
    assert with_labels.current_realized == pytest.approx(expected)
    assert with_labels.change_against == "reference_estimate"
    assert "latest labelled snapshot" in with_labels.reference_label
    assert with_labels.holdout_realized is not None

    current, _ = score_with_champion(registry, inputs.scoring, params.top_reasons)
    publish_churn_scores(settings, current, PublishLineage("t", ref, None))
    estimate = performance_step(settings)
    assert estimate.current_label.endswith(
        str(pd.Timestamp(current["snapshot_date"].iloc[0]).date())
    )
    assert estimate.current_realized is None and estimate.current_estimate is not None
    assert estimate.change == pytest.approx(estimate.current_estimate - estimate.reference_estimate)

    summary = drift_step(settings, load_feature_windows(settings))
    settings = settings.model_copy(
        update={"mail": settings.mail.model_copy(update={"policy": "daily_digest"})}
    )
    path = mail_step(settings, summary, today=dt.date(2026, 6, 1), impact=estimate)
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    text = parsed.get_body(("plain",)).get_content()
    assert f"Does it matter? {estimate.text()}." in " ".join(text.split())
