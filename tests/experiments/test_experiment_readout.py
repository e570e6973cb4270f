"""The readout's decisions and its handling of bad input, on small simulated experiments."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ml.experiments import (
    DONT_SHIP,
    INVESTIGATE,
    KEEP_RUNNING,
    SHIP,
    ExperimentSpec,
    MetricSpec,
    ReadoutError,
    readout,
    snapshots_by_entry_day,
)


def frame(
    n: int,
    *,
    lift: float = 0.0,
    guard_lift: float = 0.0,
    seed: int = 0,
    segment_lift: float = 0.0,
    days: int = 14,
) -> pd.DataFrame:
    """Users with a primary metric (sd 1), a guardrail (mean 10, sd 1) and a segment column;
    `segment_lift` is added to the primary only in segment "a"."""
    rng = np.random.default_rng(seed)
    treated = np.arange(n) % 2 == 1
    segment = np.where(rng.random(n) < 0.5, "a", "b")
    pre = rng.normal(size=n)
    primary = 0.5 * pre + rng.normal(size=n) + lift * treated
    primary += segment_lift * (treated & (segment == "a"))
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "variant": np.where(treated, "B", "A"),
            "plays": primary,
            "plays_pre": pre,
            "completion": 10 + rng.normal(size=n) + guard_lift * treated,
            "segment": segment,
            "day": rng.integers(0, days, size=n),
        }
    )


def spec(**overrides: object) -> ExperimentSpec:
    base: dict[str, object] = dict(
        experiment_id="trailer_autoplay",
        variants=("A", "B"),
        control="A",
        metrics=(
            MetricSpec("plays", "plays", role="primary", mde=0.1, covariates=("plays_pre",)),
            MetricSpec("completion", "completion", role="guardrail", margin=0.01),
        ),
        segment_column="segment",
    )
    base.update(overrides)
    return ExperimentSpec(**base)  # type: ignore[arg-type]


def test_a_clear_win_with_a_healthy_guardrail_ships() -> None:
    r = readout(frame(8000, lift=0.2), spec(), days_observed=14)
    assert r.decision.verdict == SHIP and r.decision.variant == "B"
    plays = r.metrics[0]
    assert plays.ci_low > 0 and plays.p_adjusted <= 0.05
    assert r.metrics[1].guardrail == "non-inferior"
    assert "plays" in r.decision.reason


def test_a_primary_win_with_a_worse_guardrail_is_not_shipped() -> None:
    r = readout(frame(8000, lift=0.2, guard_lift=-0.3), spec(), days_observed=14)
    assert r.metrics[1].guardrail == "breach"
    assert r.decision.verdict == DONT_SHIP
    assert "guardrail worse" in r.decision.reason and "completion" in r.decision.reason
    flagged = readout(frame(8000, lift=0.2, guard_lift=-0.3), spec(on_guardrail_breach=INVESTIGATE))
    assert flagged.decision.verdict == INVESTIGATE


def test_an_underpowered_test_keeps_running_for_the_days_its_variance_needs() -> None:
    # 600 users over 2 days; sd of CUPED-adjusted plays ≈ 1, so the mde 0.1 needs
    # n per arm ≈ 2·(2.80/0.1)² ≈ 1570, i.e. ≈ 2 · 1570/300 ≈ 10.5 days in all.
    r = readout(frame(600, lift=0.0, seed=3), spec(), days_observed=2)
    assert r.decision.verdict == KEEP_RUNNING
    expected = 2 * r.metrics[0].se ** 2 / (0.1 / (1.959964 + 0.841621)) ** 2 - 2
    assert r.decision.days_needed == math.ceil(expected)
    assert 5 <= r.decision.days_needed <= 13
    assert f"{r.decision.days_needed} more days" in r.decision.reason


def test_a_powered_null_result_is_not_shipped() -> None:
    r = readout(frame(20000, lift=0.0, seed=1), spec(), days_observed=14)
    assert r.decision.verdict == DONT_SHIP
    assert "no effect as large as 0.1" in r.decision.reason


def test_before_the_planned_end_the_decision_uses_the_sequential_p_value() -> None:
    data = frame(4000, lift=0.08, seed=2)
    looks = snapshots_by_entry_day(data, "day")
    early = readout(data, spec(planned_days=28), looks=looks)
    at_end = readout(data, spec(planned_days=14), looks=looks)
    plays = early.metrics[0]
    assert early.days_observed == 14
    assert plays.sequential is not None and len(plays.sequential.days) == 14
    # the always-valid interval is wider than the fixed-horizon one and its p-value larger
    assert plays.sequential.low[-1] < plays.ci_low and plays.sequential.high[-1] > plays.ci_high
    assert plays.sequential_p_adjusted is not None
    assert plays.sequential_p_adjusted >= plays.p_adjusted
    assert "always-valid sequential" in early.variant_decisions[0].reason
    with_empty_day = readout(data, spec(planned_days=28), looks=[(0, data.iloc[:0]), *looks])
    assert with_empty_day.metrics[0].sequential == plays.sequential
    assert "fixed-horizon" in at_end.variant_decisions[0].reason


def test_segment_effects_carry_their_own_correction() -> None:
    r = readout(frame(12000, segment_lift=0.3, seed=4), spec(), days_observed=14)
    seg = {(m.segment, m.metric): m for m in r.segments}
    assert seg[("a", "plays")].ci_low > 0.15
    assert seg[("b", "plays")].ci_low < 0 < seg[("b", "plays")].ci_high
    assert all(m.p_adjusted >= m.p_value for m in r.segments)
    assert r.table(segments=True)["segment"].tolist().count("a") == 2


def test_the_correction_method_is_a_parameter() -> None:
    metrics = (
        MetricSpec("plays", "plays", role="primary", mde=0.1),
        MetricSpec("completion", "completion"),
        MetricSpec("plays_pre", "plays_pre"),
    )
    data = frame(3000, lift=0.06, seed=5)
    holm = readout(data, spec(metrics=metrics, correction="holm"))
    bh = readout(data, spec(metrics=metrics, correction="bh"))
    for h, b in zip(holm.metrics, bh.metrics, strict=True):
        assert h.p_value == b.p_value
        assert h.p_value <= b.p_adjusted <= h.p_adjusted
    assert any(b.p_adjusted < h.p_adjusted for h, b in zip(holm.metrics, bh.metrics, strict=True))


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------


def test_an_unknown_control_is_a_clear_error() -> None:
    with pytest.raises(ReadoutError, match=r"experiment 'trailer_autoplay': control 'C'"):
        spec(control="C")


def test_missing_columns_and_empty_frames_are_clear_errors() -> None:
    with pytest.raises(ReadoutError, match=r"trailer_autoplay.*lacks columns \['completion'\]"):
        readout(frame(100).drop(columns="completion"), spec())
    with pytest.raises(ReadoutError, match=r"trailer_autoplay.*no users"):
        readout(frame(100).iloc[:0], spec())


def test_a_variant_with_no_users_is_flagged_and_investigated() -> None:
    data = frame(1000)
    r = readout(data, spec(variants=("A", "B", "C")))
    assert r.srm.counts["C"] == 0 and r.srm.flagged
    assert r.decision.verdict == INVESTIGATE
    assert "variants with no users: ['C']" in r.decision.reason
    assert any("variant 'C': no users" in f for f in r.flags)
    only_control = readout(data[data["variant"] == "A"], spec())
    assert only_control.decision.verdict == INVESTIGATE
    assert only_control.metrics == ()


def test_users_in_two_variants_are_counted_flagged_and_excluded() -> None:
    data = frame(2000)
    twice = data.iloc[:30].assign(variant=lambda d: np.where(d["variant"] == "A", "B", "A"))
    r = readout(pd.concat([data, twice]), spec())
    assert r.excluded_users == 30
    assert r.metrics[0].n_control + r.metrics[0].n_variant == 1970
    assert any("30 users (1.50%) were exposed to two or more variants" in f for f in r.flags)
    assert r.decision.verdict == INVESTIGATE  # 1.5 % is above the 1 % the assignment allows


def test_unexpected_variant_labels_are_flagged_and_excluded() -> None:
    data = frame(2000)
    data.loc[:9, "variant"] = "b "
    r = readout(data, spec())
    assert r.excluded_users == 10
    assert any("['b ']" in f for f in r.flags)


def test_a_constant_metric_is_flagged_without_nan() -> None:
    data = frame(1000).assign(completion=1.0)
    r = readout(data, spec())
    guard = r.metrics[1]
    values = [guard.lift, guard.ci_low, guard.ci_high, guard.se, guard.p_value, guard.p_adjusted]
    assert not any(math.isnan(v) for v in values)
    assert guard.ci_low == guard.ci_high == guard.lift == 0.0
    assert any("metric 'completion'" in f and "zero variance" in f for f in guard.flags)
    numbers = ["lift", "ci_low", "ci_high", "relative_ci_low", "relative_ci_high", "p_adjusted"]
    numbers += ["sequential_low", "sequential_high", "sequential_p"]
    assert not r.table()[numbers].isna().any().any()


def test_a_ratio_with_no_exposures_in_an_arm_is_flagged_not_raised() -> None:
    data = frame(400).assign(clicks=1, exposures=lambda d: np.where(d["variant"] == "A", 0, 3))
    metrics = (
        MetricSpec("plays", "plays", role="primary", mde=0.1),
        MetricSpec("ctr", "clicks", denominator="exposures"),
    )
    r = readout(data, spec(metrics=metrics))
    assert [m.metric for m in r.metrics] == ["plays"]
    assert any("metric 'ctr'" in f and "denominator is zero" in f for f in r.flags)


def test_repeated_rows_for_one_user_are_a_clear_error() -> None:
    data = frame(200)
    with pytest.raises(ReadoutError, match="more than one row"):
        readout(pd.concat([data, data.iloc[:3]]), spec())


def test_a_lower_is_better_guardrail_breaches_when_it_rises() -> None:
    data = frame(8000, lift=0.2, guard_lift=0.3)  # abandonment goes up
    metrics = (
        MetricSpec("plays", "plays", role="primary", mde=0.1),
        MetricSpec(
            "abandonment", "completion", role="guardrail", higher_is_better=False, margin=0.01
        ),
    )
    r = readout(data, spec(metrics=metrics), days_observed=14)
    assert r.metrics[1].guardrail == "breach"
    assert r.decision.verdict == DONT_SHIP
    fine = readout(frame(8000, lift=0.2, guard_lift=-0.3), spec(metrics=metrics))
    assert fine.metrics[1].guardrail == "non-inferior" and fine.decision.verdict == SHIP


def test_cuped_on_a_ratio_metric_uses_the_pre_period_numerator_and_denominator() -> None:
    rng = np.random.default_rng(8)
    n = 20000
    # each user's own click-through, stable over time: with ~40 exposures a period the binomial
    # noise (0.09/40) is small beside the spread of tastes (0.0082), so pre and post per-user
    # rates correlate at about 0.8 and CUPED should remove well over a third of the variance
    taste = rng.beta(1, 9, size=n)
    exposures_pre, exposures = rng.poisson(40, size=n) + 1, rng.poisson(40, size=n) + 1
    data = pd.DataFrame(
        {
            "user_id": np.arange(n),
            "variant": np.where(np.arange(n) % 2 == 0, "A", "B"),
            "clicks": rng.binomial(exposures, taste),
            "exposures": exposures,
            "clicks_pre": rng.binomial(exposures_pre, taste),
            "exposures_pre": exposures_pre,
        }
    )
    metrics = (
        MetricSpec(
            "ctr",
            "clicks",
            denominator="exposures",
            role="primary",
            mde=0.005,
            covariates=("clicks_pre", "exposures_pre"),
        ),
    )
    r = readout(data, spec(metrics=metrics, segment_column=None))
    ctr = r.metrics[0]
    assert ctr.mean_control == pytest.approx(0.1, abs=0.005)
    assert ctr.cuped_variance_reduction > 0.4
    assert ctr.ci_low < 0 < ctr.ci_high  # no effect planted


def test_a_non_numeric_metric_is_flagged_not_raised() -> None:
    data = frame(400).assign(completion=lambda d: d["completion"].map("{:.1f} min".format))
    r = readout(data, spec())
    assert [m.metric for m in r.metrics] == ["plays"]
    assert any("metric 'completion'" in f and "non-numeric" in f for f in r.flags)
