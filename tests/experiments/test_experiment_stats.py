"""The statistics hold on simulated data with known effects: intervals cover, CUPED removes ρ²
of the variance, SRM flags a broken split, daily peeks at the sequential test stay within α,
corrections match statsmodels, the delta method matches a bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.experiments import (
    ExperimentSpec,
    MetricSpec,
    adjust_pvalues,
    difference,
    fit_cuped,
    linearize,
    mixture_sprt,
    readout,
    srm_test,
)
from ml.experiments.stats import z_quantile


def simulate(
    rng: np.random.Generator,
    n: int,
    lift: float = 0.0,
    rho: float = 0.6,
    ctr_lift: float = 0.0,
    share: float = 0.5,
) -> pd.DataFrame:
    """Users with a continuous metric (pre/post correlation rho, +lift in treatment) and a
    click-through ratio (Poisson exposures, binomial clicks, +ctr_lift in treatment)."""
    treated = rng.random(n) < share
    pre = rng.normal(size=n)
    post = rho * pre + np.sqrt(1 - rho**2) * rng.normal(size=n) + lift * treated
    exposures = rng.poisson(4, size=n) + 1
    clicks = rng.binomial(exposures, 0.10 + ctr_lift * treated)
    return pd.DataFrame(
        {
            "user_id": np.arange(n),
            "variant": np.where(treated, "treatment", "control"),
            "minutes": post,
            "minutes_pre": pre,
            "clicks": clicks,
            "exposures": exposures,
        }
    )


SPEC = ExperimentSpec(
    experiment_id="sim",
    variants=("control", "treatment"),
    control="control",
    metrics=(
        MetricSpec("minutes", "minutes", role="primary", mde=0.2, covariates=("minutes_pre",)),
        MetricSpec("ctr", "clicks", denominator="exposures"),
    ),
)


def test_intervals_cover_the_planted_lift_over_200_simulations() -> None:
    lift, ctr_lift = 0.15, 0.02
    covered = {"minutes": 0, "ctr": 0, "minutes_raw": 0}
    sims = 200
    for seed in range(sims):
        r = readout(simulate(np.random.default_rng(seed), 400, lift, ctr_lift=ctr_lift), SPEC)
        by = {m.metric: m for m in r.metrics}
        covered["minutes"] += by["minutes"].ci_low <= lift <= by["minutes"].ci_high
        covered["minutes_raw"] += by["minutes"].ci_low_raw <= lift <= by["minutes"].ci_high_raw
        covered["ctr"] += by["ctr"].ci_low <= ctr_lift <= by["ctr"].ci_high
    rates = {k: v / sims for k, v in covered.items()}
    assert all(0.92 <= rate <= 0.98 for rate in rates.values()), rates


@pytest.mark.parametrize("rho", [0.3, 0.6, 0.9])
def test_cuped_variance_reduction_is_rho_squared(rho: float) -> None:
    r = readout(simulate(np.random.default_rng(7), 20_000, 0.1, rho=rho), SPEC)
    minutes = next(m for m in r.metrics if m.metric == "minutes")
    assert minutes.cuped_variance_reduction == pytest.approx(rho**2, abs=0.02)
    assert minutes.se < minutes.se_raw


def test_cuped_with_a_useless_covariate_changes_nothing_much() -> None:
    rng = np.random.default_rng(3)
    y = [rng.normal(size=5000), rng.normal(size=5000)]
    x = [rng.normal(size=(5000, 1)), rng.normal(size=(5000, 1))]
    cuped = fit_cuped(y, x)
    assert abs(cuped.theta[0]) < 0.05
    constant = fit_cuped(y, [np.ones((5000, 1)), np.ones((5000, 1))])
    assert constant.theta[0] == 0.0


def test_srm_flags_52_48_at_20k_and_not_a_fair_split() -> None:
    _, p_bad = srm_test(np.array([10_400, 9_600]), np.array([1, 1]))
    _, p_fair = srm_test(np.array([10_050, 9_950]), np.array([1, 1]))
    assert p_bad < 0.001 < p_fair
    rng = np.random.default_rng(11)
    broken = readout(simulate(rng, 20_000, 0.3, share=0.52), SPEC)
    fair = readout(simulate(rng, 20_000, 0.3, share=0.50), SPEC)
    assert broken.srm.flagged and broken.decision.verdict == "investigate"
    assert "sample-ratio mismatch" in broken.decision.reason
    assert not fair.srm.flagged and fair.decision.verdict == "ship"


def _daily_looks(
    rng: np.random.Generator, sims: int, days: int, per_day: int, lift: float
) -> tuple[np.ndarray, np.ndarray]:
    """(sims, days) arrays of the cumulative difference in means and its variance."""
    c = rng.normal(size=(sims, days, per_day))
    t = rng.normal(size=(sims, days, per_day)) + lift
    n = per_day * np.arange(1, days + 1)
    out = []
    for arm in (c, t):
        s1 = np.cumsum(arm.sum(axis=2), axis=1)
        s2 = np.cumsum((arm**2).sum(axis=2), axis=1)
        mean = s1 / n
        var = (s2 - n * mean**2) / (n - 1)
        out.append((mean, var / n))
    (mc, vc), (mt, vt) = out
    return mt - mc, vc + vt


def test_sequential_false_positive_rate_with_daily_looks_is_within_alpha() -> None:
    alpha, sims, days = 0.05, 400, 21
    diff, var = _daily_looks(np.random.default_rng(5), sims, days, 60, 0.0)
    sequential = np.mean(
        [mixture_sprt(d, v, 0.2, alpha)[2][-1] <= alpha for d, v in zip(diff, var, strict=True)]
    )
    # what a naive daily t-test (stop at the first p < alpha) would claim on the same data
    naive = np.mean((np.abs(diff) / np.sqrt(var) > z_quantile(alpha)).any(axis=1))
    assert sequential <= alpha
    assert naive > 2 * alpha  # peeking without correction inflates the error several-fold


def test_sequential_detects_a_real_effect_and_its_sequence_covers_it() -> None:
    lift, alpha = 0.2, 0.05
    diff, var = _daily_looks(np.random.default_rng(6), 200, 21, 60, lift)
    results = [mixture_sprt(d, v, 0.2, alpha) for d, v in zip(diff, var, strict=True)]
    power = np.mean([p[-1] <= alpha for _, _, p in results])
    covers = np.mean([np.all((low <= lift) & (lift <= high)) for low, high, _ in results])
    assert power > 0.8
    assert covers >= 1 - alpha


def test_mixture_sprt_with_zero_variance_has_no_nan() -> None:
    low, high, p = mixture_sprt(np.array([0.0, 0.0]), np.array([0.0, 0.0]), 0.1, 0.05)
    assert np.isfinite(low).all() and np.isfinite(high).all() and (p == 1).all()


def test_holm_and_bh_match_hand_computed_values() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 → 0.02, 0.03, 0.06, 0.04 → running max
    assert adjust_pvalues(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: sorted times 4/1, 4/2, 4/3, 4/4 → 0.02, 0.02, 0.04, 0.04 → running min from the top
    assert adjust_pvalues(p, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert adjust_pvalues(np.array([]), "holm").size == 0


@pytest.mark.parametrize("method,name", [("holm", "holm"), ("bh", "fdr_bh")])
def test_corrections_match_statsmodels(method: str, name: str) -> None:
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    rng = np.random.default_rng(2)
    for size in (1, 3, 10, 40):
        p = np.concatenate([rng.uniform(size=size // 2), rng.uniform(0, 0.01, size - size // 2)])
        expected = multitest.multipletests(p, method=name)[1]
        assert adjust_pvalues(p, method) == pytest.approx(expected)  # type: ignore[arg-type]


def test_delta_method_variance_matches_a_bootstrap() -> None:
    rng = np.random.default_rng(4)
    n = 2000
    exposures = rng.poisson(6, size=n) + 1
    # clicks correlated with exposures and overdispersed: a per-user CTR that varies
    clicks = rng.binomial(exposures, rng.beta(2, 18, size=n))
    delta_se = linearize(clicks, exposures).std(ddof=1) / np.sqrt(n)
    boots = np.empty(2000)
    for b in range(len(boots)):
        idx = rng.integers(0, n, size=n)
        boots[b] = clicks[idx].sum() / exposures[idx].sum()
    assert delta_se == pytest.approx(boots.std(ddof=1), rel=0.07)
    # the naive per-user-ratio-as-independent-rows answer is a different number
    assert linearize(clicks, exposures).mean() == pytest.approx(clicks.sum() / exposures.sum())


def test_difference_of_constant_metrics_has_finite_answers() -> None:
    same = difference(np.zeros(10), np.zeros(10))
    apart = difference(np.zeros(10), np.ones(10))
    assert (same.se, same.p_value, same.relative) == (0.0, 1.0, None)
    assert apart.p_value == 0.0 and apart.diff == 1.0
