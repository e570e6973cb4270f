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
    base_p, base_y = _calibrated(5_000, rng, 1.5, 5.0)
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
