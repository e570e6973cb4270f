"""The statistics of an A/B readout as plain numpy functions: arrays in, numbers out.

Every estimator here reduces a metric to *per-user values whose sample mean is the arm's
estimate*, so one difference-of-means routine serves plain means, ratio metrics (through the
delta method's linearization) and CUPED-adjusted values alike; the readout (`readout.py`)
only chooses which values to pass.

References:
    Deng, Xu, Kohavi, Walker (2013). Improving the sensitivity of online controlled
        experiments by utilizing pre-experiment data (CUPED). WSDM.
    Deng, Knoblich, Lu (2018). Applying the delta method in metric analytics. KDD.
    Johari, Koomen, Pekelis, Walsh (2017/2022). Always valid inference: continuous monitoring
        of A/B tests (mixture SPRT). Operations Research 70(3).
    Howard, Ramdas, McAuliffe, Sekhon (2021). Time-uniform, nonparametric, nonasymptotic
        confidence sequences. Annals of Statistics 49(2).
    Holm (1979). A simple sequentially rejective multiple test procedure. Scand. J. Statist.
    Benjamini, Hochberg (1995). Controlling the false discovery rate. JRSS B 57(1).
    Fabijan et al. / Kohavi, Tang, Xu (2020). Trustworthy Online Controlled Experiments, ch. 21
        (sample ratio mismatch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

Correction = Literal["holm", "bh"]
CORRECTIONS: tuple[Correction, ...] = ("holm", "bh")


@dataclass(frozen=True)
class Difference:
    """Treatment minus control for one metric, on whatever per-user values were passed.

    `se` is the standard error of `diff`; `p_value` is two-sided (normal approximation, the
    arms are large in every use here). `relative`/`relative_se` are diff / control mean by the
    delta method, None when the control mean is zero (a relative lift is then undefined).
    """

    n_control: int
    n_treatment: int
    mean_control: float
    mean_treatment: float
    var_control: float  # per-user sample variance
    var_treatment: float
    diff: float
    se: float
    p_value: float
    relative: float | None
    relative_se: float | None

    @property
    def var_diff(self) -> float:
        return self.se**2


def z_quantile(alpha: float) -> float:
    """The two-sided critical value z_{1-alpha/2} (1.96 at alpha = 0.05)."""
    return float(stats.norm.ppf(1 - alpha / 2))


def difference(control: np.ndarray, treatment: np.ndarray) -> Difference:
    """Difference of means with Welch's (unpooled) variance.

    Var(diff) = s_t²/n_t + s_c²/n_c. When both variances are zero the metric is constant in
    each arm: se is 0, the p-value 1 when the means agree and 0 when they differ, never NaN.
    """
    control = np.asarray(control, dtype=float)
    treatment = np.asarray(treatment, dtype=float)
    n_c, n_t = len(control), len(treatment)
    if n_c < 2 or n_t < 2:
        raise ValueError(f"need at least two users per arm (control {n_c}, treatment {n_t})")
    m_c, m_t = float(control.mean()), float(treatment.mean())
    v_c, v_t = float(control.var(ddof=1)), float(treatment.var(ddof=1))
    var_mean_c, var_mean_t = v_c / n_c, v_t / n_t
    diff = m_t - m_c
    se = math.sqrt(var_mean_c + var_mean_t)
    # a constant metric: no noise, so the difference is either exactly zero or certain
    p_constant = 1.0 if diff == 0 else 0.0
    p = float(2 * stats.norm.sf(abs(diff) / se)) if se > 0 else p_constant
    if m_c != 0:
        relative = diff / m_c
        # r = m_t/m_c - 1; Var(m_t/m_c) ≈ Var(m_t)/m_c² + m_t² Var(m_c)/m_c⁴ (independent arms)
        relative_se = math.sqrt(var_mean_t / m_c**2 + m_t**2 * var_mean_c / m_c**4)
    else:
        relative, relative_se = None, None
    return Difference(n_c, n_t, m_c, m_t, v_c, v_t, diff, se, p, relative, relative_se)


def linearize(numerator: np.ndarray, denominator: np.ndarray | None = None) -> np.ndarray:
    """Per-user values whose mean is the arm's metric and whose variance / n is its variance.

    A mean metric is its own linearization. A ratio metric R = Σx / Σy (click-through = clicks
    over exposures, each user's numerator and denominator kept) is not a mean of independent
    per-user ratios: users with more exposures weigh more, and x and y are correlated. The delta
    method (Deng et al. 2018) linearizes it around the arm's totals:

        l_i = R + (x_i − R·y_i) / ȳ,     mean(l) = R,
        Var(R̂) ≈ Var(l) / n = (s_x² − 2R·s_xy + R²·s_y²) / (n·ȳ²).

    The values can then be differenced, CUPED-adjusted and tested like any mean metric.
    """
    x = np.asarray(numerator, dtype=float)
    if denominator is None:
        return x
    y = np.asarray(denominator, dtype=float)
    y_mean = y.mean()
    if y_mean == 0:
        raise ValueError("the ratio's denominator is zero for every user")
    ratio = x.sum() / y.sum()
    return ratio + (x - ratio * y) / y_mean


@dataclass(frozen=True)
class Cuped:
    """CUPED's adjustment: y_adj = y − (X − X̄)·θ, with θ from the pooled regression of y on X."""

    theta: np.ndarray
    x_mean: np.ndarray

    def adjust(self, values: np.ndarray, covariates: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=float) - (covariates - self.x_mean) @ self.theta


def fit_cuped(
    values: list[np.ndarray],
    covariates: list[np.ndarray],
) -> Cuped:
    """θ on the pooled arms (Deng et al. 2013): θ = Cov(X)⁻¹ Cov(X, y).

    Pooling keeps the adjustment identical for every arm, so E[X̄_t − X̄_c] = 0 under
    randomization and the adjusted difference stays unbiased. Each arm's y is centred on its
    own mean first so the treatment effect itself does not leak into θ. With one covariate this
    is θ = cov(y, x)/var(x); the variance shrinks by the factor (1 − ρ²). A constant covariate
    gets θ = 0 (least squares' minimum-norm solution) rather than a division by zero.
    """
    x = np.vstack([np.asarray(c, dtype=float).reshape(len(c), -1) for c in covariates])
    y = np.concatenate([np.asarray(v, dtype=float) - np.mean(v) for v in values])
    x_mean = x.mean(axis=0)
    xc = x - x_mean
    theta, *_ = np.linalg.lstsq(xc, y, rcond=None)
    return Cuped(theta=theta, x_mean=x_mean)


def srm_test(counts: np.ndarray, planned_split: np.ndarray) -> tuple[float, float]:
    """Pearson's chi-square of observed users per variant against the planned split.

    Returns (statistic, p-value). A tiny p-value says the assignment or the logging is broken
    (Kohavi et al.: a sample-ratio mismatch invalidates every metric of the experiment).
    """
    counts = np.asarray(counts, dtype=float)
    split = np.asarray(planned_split, dtype=float)
    expected = counts.sum() * split / split.sum()
    result = stats.chisquare(counts, f_exp=expected)
    return float(result.statistic), float(result.pvalue)


def adjust_pvalues(p_values: np.ndarray, method: Correction) -> np.ndarray:
    """Corrected p-values for one family of tests, in the input order.

    holm (Holm 1979, controls the family-wise error rate): sort ascending,
        p̃_(i) = max_{j ≤ i} min(1, (m − j + 1) · p_(j)).
    bh (Benjamini–Hochberg 1995, controls the false discovery rate):
        p̃_(i) = min_{j ≥ i} min(1, m · p_(j) / j).
    A test rejects at level α when its corrected p-value is ≤ α.
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return p.copy()
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}; use one of {CORRECTIONS}")
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    ranks = np.arange(1, m + 1)
    if method == "holm":
        adjusted = np.maximum.accumulate(np.minimum(1.0, (m - ranks + 1) * ranked))
    else:
        adjusted = np.minimum.accumulate((np.minimum(1.0, m * ranked / ranks))[::-1])[::-1]
    out = np.empty(m)
    out[order] = adjusted
    return out


# ---------------------------------------------------------------------------------------------
# Always-valid sequential analysis
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SequentialResult:
    """A mixture-SPRT confidence sequence evaluated at each look (usually one per day).

    `low`/`high` are the running intersection of the per-look intervals (still valid, since
    the sequence covers the truth at every look simultaneously with probability ≥ 1 − α);
    `p_value` is the always-valid p-value, the running minimum of 1/Λ.
    """

    days: tuple[int, ...]
    diff: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    p_value: tuple[float, ...]
    tau: float

    @property
    def last_p(self) -> float:
        return self.p_value[-1]


def mixture_sprt(
    diffs: np.ndarray, variances: np.ndarray, tau: float, alpha: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normal-mixture confidence sequence and always-valid p-values for a difference in means.

    At each look t the estimate Δ̂_t has (estimated) variance V_t = s_t²/n_t + s_c²/n_c. Mixing
    the likelihood ratio of N(θ, V_t) against N(θ₀, V_t) over θ ~ N(θ₀, τ²) gives (Johari et
    al. 2017, eq. for the normal mSPRT; Howard et al. 2021, the two-sided normal-mixture
    boundary)

        Λ_t(θ₀) = sqrt(V_t / (V_t + τ²)) · exp( τ² (Δ̂_t − θ₀)² / (2 V_t (V_t + τ²)) ),

    a nonnegative martingale under θ = θ₀, so by Ville's inequality P(∃t: Λ_t ≥ 1/α) ≤ α.
    Inverting it gives the confidence sequence

        Δ̂_t ± sqrt( V_t (V_t + τ²)/τ² · ( 2 log(1/α) + log((V_t + τ²)/V_t) ) ),

    and the always-valid p-value p_t = min(1, min_{s ≤ t} 1/Λ_s(0)). Any number of looks
    (daily, hourly) can be taken and the experiment stopped at any of them. V_t is a plug-in
    estimate, which makes the guarantee asymptotic (large arms), as in the engines that use it.
    τ is the effect size the test is tuned for (the minimum detectable effect is a good
    choice); it is fixed before the data are seen.

    Returns:
        (low, high, p_value) arrays, one entry per look, already intersected / minimised.
    """
    d = np.asarray(diffs, dtype=float)
    v = np.asarray(variances, dtype=float)
    if tau <= 0:
        raise ValueError("the mixture scale tau must be positive")
    tau2 = tau**2
    # a look with zero variance (a constant metric) carries no evidence: Λ = 1
    has_noise = v > 0
    safe_v = np.where(has_noise, v, 1.0)
    log_lambda = np.where(
        has_noise,
        0.5 * np.log(safe_v / (safe_v + tau2)) + tau2 * d**2 / (2 * safe_v * (safe_v + tau2)),
        0.0,
    )
    p = np.minimum.accumulate(np.exp(-np.maximum(log_lambda, 0.0)))
    half = np.where(
        has_noise,
        np.sqrt(
            safe_v * (safe_v + tau2) / tau2 * (2 * np.log(1 / alpha) + np.log1p(tau2 / safe_v))
        ),
        0.0,
    )
    low = np.maximum.accumulate(d - half)
    high = np.minimum.accumulate(d + half)
    return low, high, p


# ---------------------------------------------------------------------------------------------
# Power
# ---------------------------------------------------------------------------------------------


def days_to_power(
    var_diff_now: float, days_observed: float, mde: float, alpha: float, power: float
) -> float:
    """Total days for a fixed-horizon two-sided test at `alpha` to reach `power` against `mde`.

    The difference's variance falls like 1/N, and N grows with the days the experiment runs, so
    with users arriving at the observed rate: days = days_observed · V_now / V_needed, with
    V_needed = (mde / (z_{1−α/2} + z_{power}))². (A returning-user base accrues new users
    more slowly late in a test: the figure is then optimistic.)
    """
    if mde <= 0:
        raise ValueError("the minimum detectable effect must be positive")
    v_needed = (mde / (z_quantile(alpha) + float(stats.norm.ppf(power)))) ** 2
    return days_observed * var_diff_now / v_needed
