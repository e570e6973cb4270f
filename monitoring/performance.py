"""Does the drift matter? The churn model's ROC-AUC estimated without labels (CBPE).

A drift alert says the inputs moved; whether the model got worse needs labels, which for churn
arrive a label window (30 days) after the scores. Confidence-based performance estimation
(CBPE, as NannyML describes it) estimates the metric from the calibrated probabilities alone:
if a score p is calibrated, a user scored p churns with probability p, so at each threshold
t the expected confusion matrix is

    TP(t) = sum_{p_i >= t} p_i        FP(t) = sum_{p_i >= t} (1 - p_i)
    FN(t) = sum_{p_i <  t} p_i        TN(t) = sum_{p_i <  t} (1 - p_i)

and the expected ROC curve is (FPR, TPR) = (FP / (FP + TN), TP / (TP + FN)) over the distinct
scores; its area is the estimated ROC-AUC. It moves with the score distribution (scores
bunched near the base rate: lower AUC; spread to 0 and 1: higher), so covariate shift that
pushes users into regions where the model is unsure shows up before any label does. It
assumes the calibration still holds on the new data (no concept drift): where labels have
arrived, the realized AUC is shown beside it, and their gap is the estimate's error.

Plain Python (numpy, scikit-learn's roc_auc_score for the realized value), no warehouse or
Prefect: the caller reads scores and labels and hands them in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: Fewer scored rows than this: no estimate (the curve of a few dozen scores is noise).
MIN_ROWS = 50


def cbpe_roc_auc(probabilities: Sequence[float] | np.ndarray) -> float | None:
    """The ROC-AUC expected from calibrated `probabilities` alone (module docstring), or None
    when there are no rows or the scores leave no expected positives or negatives."""
    p = np.asarray(probabilities, dtype=float)
    p = p[np.isfinite(p)]
    if p.size == 0:
        return None
    if np.any((p < 0) | (p > 1)):
        raise ValueError("CBPE needs probabilities in [0, 1]")
    order = np.argsort(-p, kind="stable")
    p = p[order]
    positives, negatives = p.sum(), (1 - p).sum()
    if positives <= 0 or negatives <= 0:
        return None
    # One point per distinct score (ties move together), from the highest threshold down.
    last_of_run = np.r_[p[1:] != p[:-1], True]
    tpr = np.r_[0.0, np.cumsum(p)[last_of_run] / positives]
    fpr = np.r_[0.0, np.cumsum(1 - p)[last_of_run] / negatives]
    return float(np.trapezoid(tpr, fpr))


def realized_roc_auc(
    labels: Sequence[int] | np.ndarray, probabilities: Sequence[float] | np.ndarray
) -> float | None:
    """ROC-AUC against the labels, or None when one class is missing."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(labels, dtype=int)
    if y.size == 0 or y.min() == y.max():
        return None
    return float(roc_auc_score(y, np.asarray(probabilities, dtype=float)))


@dataclass(frozen=True)
class PerformanceEstimate:
    """The churn model's ROC-AUC on the current window, estimated (CBPE) and, where labels
    have arrived, realized; the same on the reference (the model's latest labelled snapshot);
    the estimated change; and the model's holdout AUC for scale.

    `change` is estimated current minus the reference's estimate when the reference's
    probabilities are known (both sides CBPE, so a calibration bias common to both cancels),
    else minus the reference's realized AUC (`change_against` says which)."""

    metric: str
    model_version: str | None
    current_rows: int
    current_estimate: float | None
    current_realized: float | None
    current_labelled: int
    reference_rows: int
    reference_estimate: float | None
    reference_realized: float | None
    reference_label: str
    current_label: str
    change: float | None
    change_against: str | None
    note: str | None = None
    #: The model's ROC-AUC on its training holdout (out of sample), when known.
    holdout_realized: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        """`churn ROC-AUC on the current window (ml.churn_scores 2026-06-03): estimated 0.771
        (CBPE, labels not yet arrived), against 0.790 estimated on churn:v3's holdout (realized
        0.786): -0.019`."""
        cur = _fmt(self.current_estimate)
        realized = (
            f"realized {_fmt(self.current_realized)} on {self.current_labelled} labelled rows"
            if self.current_realized is not None
            else "labels not yet arrived"
        )
        text = (
            f"churn ROC-AUC on the current window ({self.current_label}): estimated {cur} "
            f"(CBPE, {realized})"
        )
        if self.change is not None:
            ref = (
                f"{_fmt(self.reference_estimate)} estimated on {self.reference_label} (realized "
                f"{_fmt(self.reference_realized)})"
                if self.change_against == "reference_estimate"
                else f"{_fmt(self.reference_realized)} realized on {self.reference_label}"
            )
            text += f", against {ref}: estimated change {self.change:+.3f}"
        if self.holdout_realized is not None and self.change_against == "reference_estimate":
            text += f"; holdout ROC-AUC {_fmt(self.holdout_realized)}"
        if self.note:
            text += f" ({self.note})"
        return text


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def estimate_roc_auc(
    current_probabilities: Sequence[float] | np.ndarray,
    *,
    current_labels: Sequence[float] | np.ndarray | None = None,
    reference_probabilities: Sequence[float] | np.ndarray | None = None,
    reference_labels: Sequence[float] | np.ndarray | None = None,
    reference_realized: float | None = None,
    holdout_realized: float | None = None,
    model_version: str | None = None,
    current_label: str = "current window",
    reference_label: str = "the reference",
    min_rows: int = MIN_ROWS,
) -> PerformanceEstimate:
    """CBPE of the current scores beside the realized AUC where labels exist (`current_labels`
    may hold NaN for users whose label has not arrived), and the change against the reference:
    its CBPE when its probabilities are given, else its realized AUC (given, or computed from
    `reference_labels`)."""
    p = np.asarray(current_probabilities, dtype=float)
    note = None
    estimate = cbpe_roc_auc(p) if p.size >= min_rows else None
    if p.size < min_rows:
        note = f"{p.size} scored rows, fewer than {min_rows}: no estimate"
    realized, labelled = None, 0
    if current_labels is not None:
        y = np.asarray(current_labels, dtype=float)
        known = np.isfinite(y)
        labelled = int(known.sum())
        if labelled >= min_rows:
            realized = realized_roc_auc(y[known].astype(int), p[known])
    ref_p = None if reference_probabilities is None else np.asarray(reference_probabilities, float)
    ref_estimate = cbpe_roc_auc(ref_p) if ref_p is not None and ref_p.size >= min_rows else None
    if reference_realized is None and ref_p is not None and reference_labels is not None:
        reference_realized = realized_roc_auc(np.asarray(reference_labels, dtype=int), ref_p)
    change, against = None, None
    if estimate is not None and ref_estimate is not None:
        change, against = estimate - ref_estimate, "reference_estimate"
    elif estimate is not None and reference_realized is not None:
        change, against = estimate - reference_realized, "reference_realized"
    return PerformanceEstimate(
        metric="roc_auc",
        model_version=model_version,
        current_rows=int(p.size),
        current_estimate=estimate,
        current_realized=realized,
        current_labelled=labelled,
        reference_rows=0 if ref_p is None else int(ref_p.size),
        reference_estimate=ref_estimate,
        reference_realized=reference_realized,
        reference_label=reference_label,
        current_label=current_label,
        change=change,
        change_against=against,
        note=note,
        holdout_realized=holdout_realized,
    )
