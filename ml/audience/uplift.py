"""Response (uplift) estimation from randomized nudges: who does a message actually move?

The re-engagement policy must value a nudge by what it *changes* (uplift = P(respond | nudged) −
P(respond | not nudged)), not by who responds anyway. Uplift is only identifiable from randomized
(or known-propensity) assignment, which is why the policy learns it from logged randomized nudges
and why it is checked here on a real randomized campaign (Hillstrom's 64,000-customer e-mail
test).

- `arm_effects`: the average effect of each arm vs control, with a normal-approximation 95% CI.
- `TwoModelUplift`: the T-learner, one calibrated response model per arm,
  uplift(x) = p̂_treated(x) − p̂_control(x). Simple and unbiased under randomization; its noise is
  the price of needing no special loss.
- `qini_curve`, `auuc`, `uplift_at_fraction`: how well a score *ranks* uplift, measured only on
  rows the model never saw (`cross_fit_uplift`).

Definitions (n = rows, sorted by score descending; prefix of the first k rows):
    Qini(k)   = Y_t(k) − Y_c(k) · N_t(k) / N_c(k)           incremental responders among the k
    random(k) = Qini(n) · k / n                              what random targeting would gather
    AUUC      = (1/n) Σ_k Qini(k) / n                        area under the Qini curve, both axes
                                                             as fractions of n
    Qini coefficient = AUUC − Qini(n)/(2n)                 AUUC minus the random line's area
    uplift@f  = response rate of treated − of control among the top f·n rows (random: the ATE)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from ml.audience.churn import ChurnClassifier
from ml.datasets.hillstrom import (
    HILLSTROM,
    HILLSTROM_CSV,
    HillstromFormatError,
    read_hillstrom_csv,
)
from ml.datasets.hillstrom import (
    HILLSTROM_CONTROL as HILLSTROM_CONTROL,  # re-exported: callers import it from here
)


class UpliftDataError(ValueError):
    """Randomized data that cannot support an uplift estimate (an empty arm, one class, ...)."""


# --------------------------------------------------------------------------------------------
# Average effects
# --------------------------------------------------------------------------------------------


def arm_effects(outcome: Any, arm: Any, control: Any) -> pd.DataFrame:
    """Per arm: n, response rate, uplift vs control with its standard error and 95% CI.

    Under randomization the difference in means is unbiased for the average effect; the
    standard error is sqrt(p_a(1−p_a)/n_a + p_c(1−p_c)/n_c) for a 0/1 outcome and the analogous
    variance form for a continuous one (spend). Columns: arm, n, mean, control_mean, uplift, se,
    ci_low, ci_high, relative_lift.
    """
    df = pd.DataFrame({"y": np.asarray(outcome, dtype=float), "arm": np.asarray(arm)})
    ctrl = df.loc[df["arm"] == control, "y"]
    if ctrl.empty:
        raise UpliftDataError(f"no control rows (arm == {control!r})")
    rows = []
    for name, grp in df.groupby("arm", sort=True):
        if name == control:
            continue
        diff = grp["y"].mean() - ctrl.mean()
        se = float(np.sqrt(grp["y"].var(ddof=1) / len(grp) + ctrl.var(ddof=1) / len(ctrl)))
        rows.append(
            {
                "arm": name,
                "n": len(grp),
                "mean": grp["y"].mean(),
                "control_mean": ctrl.mean(),
                "uplift": diff,
                "se": se,
                "ci_low": diff - 1.96 * se,
                "ci_high": diff + 1.96 * se,
                "relative_lift": diff / ctrl.mean() if ctrl.mean() else float("nan"),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# The T-learner
# --------------------------------------------------------------------------------------------


class TwoModelUplift(BaseEstimator):
    """T-learner: uplift(x) = p̂(y=1 | x, treated) − p̂(y=1 | x, control).

    Each arm's response model is a calibrated `ChurnClassifier` (a calibrated binary classifier
    on mixed columns; the name is historical, nothing churn-specific happens in it).

    Args:
        model: "logistic" or "hgb" for both response models.
        calibration: "sigmoid" or "isotonic".
        random_state: seed passed to both response models.
    """

    def __init__(
        self, model: str = "logistic", calibration: str = "sigmoid", random_state: int | None = 0
    ) -> None:
        self.model = model
        self.calibration = calibration
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, treatment: Any, y: Any) -> TwoModelUplift:
        """Fit one response model on treated rows and one on control rows."""
        t = np.asarray(treatment).astype(bool)
        y_arr = np.asarray(y).astype(int)
        for label, mask in (("treated", t), ("control", ~t)):
            if mask.sum() == 0:
                raise UpliftDataError(f"no {label} rows to fit a response model on")
            if len(np.unique(y_arr[mask])) < 2:
                raise UpliftDataError(f"the {label} rows hold one outcome class only")
        base = ChurnClassifier(
            model=self.model, calibration=self.calibration, random_state=self.random_state
        )
        self.treated_model_ = clone(base).fit(X[t], y_arr[t])
        self.control_model_ = clone(base).fit(X[~t], y_arr[~t])
        return self

    def predict_response(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(p̂ if treated, p̂ if not) for each row."""
        check_is_fitted(self, "treated_model_")
        return (
            self.treated_model_.predict_proba(X)[:, 1],
            self.control_model_.predict_proba(X)[:, 1],
        )

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Estimated uplift per row."""
        p_t, p_c = self.predict_response(X)
        return p_t - p_c


def cross_fit_uplift(
    X: pd.DataFrame,
    treatment: Any,
    y: Any,
    estimator: TwoModelUplift | None = None,
    folds: int = 5,
    random_state: int = 0,
) -> np.ndarray:
    """Out-of-fold uplift scores: every row is scored by a model that never saw it.

    Folds are stratified on (treatment, outcome) so each fold keeps the arm balance and enough
    responders in both arms.
    """
    estimator = estimator or TwoModelUplift(random_state=random_state)
    t = np.asarray(treatment).astype(int)
    y_arr = np.asarray(y).astype(int)
    strata = 2 * t + y_arr
    scores = np.full(len(X), np.nan)
    skf = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    for train_idx, hold_idx in skf.split(X, strata):
        model = clone(estimator).fit(X.iloc[train_idx], t[train_idx], y_arr[train_idx])
        scores[hold_idx] = model.predict(X.iloc[hold_idx])
    return scores


# --------------------------------------------------------------------------------------------
# Ranking quality
# --------------------------------------------------------------------------------------------


def qini_curve(y: Any, treatment: Any, score: Any) -> pd.DataFrame:
    """The Qini curve of a score on randomized rows (see the module docstring).

    Ties in the score are broken by row order after a stable sort, so a constant score gives
    the curve of the data's own order (in expectation the random line).
    Columns: k, fraction, qini, random (both as incremental responders), n_treated, n_control.
    """
    y_arr = np.asarray(y, dtype=float)
    t = np.asarray(treatment).astype(bool)
    s = np.asarray(score, dtype=float)
    if not t.any() or t.all():
        raise UpliftDataError("the Qini curve needs both treated and control rows")
    order = np.argsort(-s, kind="stable")
    t_o, y_o = t[order], y_arr[order]
    n_t = np.cumsum(t_o)
    n_c = np.cumsum(~t_o)
    y_t = np.cumsum(y_o * t_o)
    y_c = np.cumsum(y_o * ~t_o)
    with np.errstate(divide="ignore", invalid="ignore"):
        qini = np.where(n_c > 0, y_t - y_c * n_t / np.maximum(n_c, 1), y_t)
    n = len(y_arr)
    k = np.arange(1, n + 1)
    return pd.DataFrame(
        {
            "k": np.concatenate([[0], k]),
            "fraction": np.concatenate([[0.0], k / n]),
            "qini": np.concatenate([[0.0], qini]),
            "random": np.concatenate([[0.0], qini[-1] * k / n]),
            "n_treated": np.concatenate([[0], n_t]),
            "n_control": np.concatenate([[0], n_c]),
        }
    )


def auuc(curve: pd.DataFrame) -> tuple[float, float]:
    """(AUUC of the score, AUUC of random targeting), both normalized by n on each axis.

    Trapezoidal area under Qini(k)/n over k/n ∈ [0, 1]. Random targeting's area is
    Qini(n)/(2n). Their difference is the Qini coefficient.
    """
    n = int(curve["k"].iloc[-1])
    x = curve["fraction"].to_numpy()
    model = float(np.trapezoid(curve["qini"].to_numpy() / n, x))
    rand = float(np.trapezoid(curve["random"].to_numpy() / n, x))
    return model, rand


def uplift_at_fraction(y: Any, treatment: Any, score: Any, fraction: float = 0.3) -> float:
    """Treated minus control response rate among the top `fraction` of rows by score."""
    y_arr = np.asarray(y, dtype=float)
    t = np.asarray(treatment).astype(bool)
    n_top = max(1, int(np.ceil(fraction * len(y_arr))))
    top = np.argsort(-np.asarray(score, dtype=float), kind="stable")[:n_top]
    tt, yy = t[top], y_arr[top]
    if not tt.any() or tt.all():
        return float("nan")
    return float(yy[tt].mean() - yy[~tt].mean())


@dataclass(frozen=True)
class UpliftEvaluation:
    """How well one arm's cross-fitted uplift score ranks the real effect."""

    arm: str
    outcome: str
    n: int
    ate: float
    auuc: float
    auuc_random: float
    qini_coefficient: float
    uplift_at_30: float
    curve: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "arm": self.arm,
            "outcome": self.outcome,
            "n": self.n,
            "ate": self.ate,
            "auuc": self.auuc,
            "auuc_random": self.auuc_random,
            "qini_coefficient": self.qini_coefficient,
            "uplift_at_30": self.uplift_at_30,
            "uplift_at_30_random": self.ate,
        }


def evaluate_uplift(
    X: pd.DataFrame,
    treatment: Any,
    y: Any,
    arm: str = "treated",
    outcome: str = "y",
    estimator: TwoModelUplift | None = None,
    folds: int = 5,
    random_state: int = 0,
) -> UpliftEvaluation:
    """Cross-fit a T-learner and measure its Qini/AUUC and uplift@30% against random targeting.

    Random targeting's uplift@30% is the average effect (a random 30% is the population in
    expectation), so `uplift_at_30 > ate` is the claim that the score finds the movable.
    """
    t = np.asarray(treatment).astype(bool)
    y_arr = np.asarray(y, dtype=float)
    scores = cross_fit_uplift(X, t, y_arr, estimator, folds, random_state)
    curve = qini_curve(y_arr, t, scores)
    area, area_random = auuc(curve)
    return UpliftEvaluation(
        arm=arm,
        outcome=outcome,
        n=len(y_arr),
        ate=float(y_arr[t].mean() - y_arr[~t].mean()),
        auuc=area,
        auuc_random=area_random,
        qini_coefficient=area - area_random,
        uplift_at_30=uplift_at_fraction(y_arr, t, scores, 0.3),
        curve=curve,
    )


# --------------------------------------------------------------------------------------------
# Real data: Hillstrom's randomized e-mail campaign
# --------------------------------------------------------------------------------------------

HILLSTROM_FILE = Path(HILLSTROM) / HILLSTROM_CSV
HILLSTROM_FEATURES = ["recency", "history", "mens", "womens", "zip_code", "newbie", "channel"]


def load_hillstrom(path: Path) -> pd.DataFrame:
    """Read the Hillstrom CSV: features, `segment` (the randomized arm) and the outcomes.

    `history_segment` is dropped as a feature (it is a binning of `history`, which is kept);
    `mens`, `womens`, `newbie` stay numeric 0/1; `zip_code` and `channel` are categorical.
    The file's layout is ml.datasets.hillstrom's, declared there once.

    Args:
        path: the CSV file, or a data folder holding `hillstrom/<file>`.
    """
    if path.is_dir():
        path = path / HILLSTROM_FILE
    if not path.is_file():
        raise FileNotFoundError(f"Hillstrom file not found: {path}")
    try:
        return read_hillstrom_csv(path)
    except HillstromFormatError as exc:
        raise UpliftDataError(str(exc)) from None
