"""The readout of one experiment: a per-user frame in, a typed result and a decision out.

`readout(frame, spec)` checks the assignment (users in two variants, labels nobody planned, the
sample ratio), compares every treatment with the control on every metric (delta method for
ratio metrics, CUPED on the pre-period covariates), corrects the p-values across metrics,
tests guardrails for non-inferiority, evaluates the always-valid sequential test over the daily
looks, breaks effects down by segment, and states a decision with its reason.

No warehouse and no Prefect: the caller passes frames (from a dbt mart, a data set, a
simulation). docs/experiments.md explains every number for a product manager.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ml.experiments.spec import (
    DONT_SHIP,
    INVESTIGATE,
    KEEP_RUNNING,
    MULTI_VARIANT_SHARE,
    SHIP,
    SRM_ALPHA,
    ExperimentSpec,
    MetricSpec,
    ReadoutError,
    Verdict,
)
from ml.experiments.stats import (
    Difference,
    SequentialResult,
    adjust_pvalues,
    days_to_power,
    difference,
    fit_cuped,
    linearize,
    mixture_sprt,
    srm_test,
    z_quantile,
)

NON_INFERIOR = "non-inferior"
BREACH = "breach"
INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class SampleRatio:
    """Users per variant against the planned split (chi-square); `flagged` blocks "ship"."""

    counts: dict[str, int]
    planned_share: dict[str, float]
    statistic: float
    p_value: float
    flagged: bool


@dataclass(frozen=True)
class MetricResult:
    """One metric, one treatment against the control (optionally within one segment).

    `lift`, `ci_*`, `relative_*`, `se` and `p_value` are CUPED-adjusted when the metric has
    covariates (the raw figures stay in `*_raw`); `cuped_variance_reduction` is
    1 − Var(adjusted lift)/Var(raw lift). `p_adjusted` is corrected across the family
    (primary and secondary metrics of all treatments; guardrails are not corrected, so a harm
    is not hidden by the number of metrics). `sequential` is the always-valid analysis over
    the looks, `sequential_p_adjusted` its corrected p-value.
    """

    experiment_id: str
    metric: str
    role: str
    variant: str
    control: str
    segment: str | None
    n_control: int
    n_variant: int
    mean_control: float
    mean_variant: float
    lift: float
    se: float
    ci_low: float
    ci_high: float
    relative_lift: float | None
    relative_ci_low: float | None
    relative_ci_high: float | None
    p_value: float
    lift_raw: float
    se_raw: float
    ci_low_raw: float
    ci_high_raw: float
    cuped_variance_reduction: float | None
    p_adjusted: float = math.nan
    sequential: SequentialResult | None = None
    sequential_p_adjusted: float | None = None
    guardrail: str | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    """A verdict in plain words, with its reason and, for "keep running", the days still
    needed (None when they cannot be estimated)."""

    verdict: Verdict
    reason: str
    variant: str | None = None
    days_needed: int | None = None


@dataclass(frozen=True)
class Readout:
    """Everything a readout states about one experiment."""

    experiment_id: str
    srm: SampleRatio
    metrics: tuple[MetricResult, ...]
    segments: tuple[MetricResult, ...]
    variant_decisions: tuple[Decision, ...]
    decision: Decision
    flags: tuple[str, ...]
    excluded_users: int
    days_observed: float | None
    correction: str
    alpha: float

    def table(self, segments: bool = False) -> pd.DataFrame:
        """One row per (variant, metric[, segment]); the sequential series left out."""
        rows = self.segments if segments else self.metrics
        records = []
        for r in rows:
            rec = {k: v for k, v in r.__dict__.items() if k not in ("sequential", "flags")}
            rec["sequential_low"] = r.sequential.low[-1] if r.sequential else None
            rec["sequential_high"] = r.sequential.high[-1] if r.sequential else None
            rec["sequential_p"] = r.sequential.last_p if r.sequential else None
            rec["flags"] = "; ".join(r.flags)
            records.append(rec)
        return pd.DataFrame.from_records(records)


# ---------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------


def _where(spec: ExperimentSpec, variant: str | None = None, metric: str | None = None) -> str:
    parts = [f"experiment {spec.experiment_id!r}"]
    if variant is not None:
        parts.append(f"variant {variant!r}")
    if metric is not None:
        parts.append(f"metric {metric!r}")
    return ", ".join(parts)


def _clean(frame: pd.DataFrame, spec: ExperimentSpec) -> tuple[pd.DataFrame, list[str], int]:
    """The rows a readout may use, the flags raised on the way and the users excluded."""
    if not isinstance(frame, pd.DataFrame):
        raise ReadoutError(f"{_where(spec)}: expected a pandas DataFrame, got {type(frame)}")
    needed = [spec.user_column, spec.variant_column]
    needed += [c for m in spec.metrics for c in m.columns]
    needed += [spec.segment_column] if spec.segment_column else []
    missing = sorted(set(needed) - set(frame.columns))
    if missing:
        raise ReadoutError(f"{_where(spec)}: the frame lacks columns {missing}")
    if frame.empty:
        raise ReadoutError(f"{_where(spec)}: the frame has no users")
    flags: list[str] = []
    variant = frame[spec.variant_column].astype(str)
    unknown = ~variant.isin(spec.variants)
    excluded = 0
    if unknown.any():
        labels = sorted(variant[unknown].unique())
        n = int(frame.loc[unknown, spec.user_column].nunique())
        flags.append(
            f"{_where(spec)}: {n} users in variants {labels} that the experiment does not "
            f"declare ({list(spec.variants)}); excluded"
        )
        excluded += n
        frame = frame.loc[~unknown]
        variant = variant[~unknown]
    frame = frame.assign(**{spec.variant_column: variant})
    per_user = frame.groupby(spec.user_column)[spec.variant_column].nunique()
    multi = per_user.index[per_user > 1]
    if len(multi):
        share = len(multi) / len(per_user)
        flags.append(
            f"{_where(spec)}: {len(multi)} users ({share:.2%}) were exposed to two or more "
            "variants; excluded from every metric"
        )
        excluded += len(multi)
        frame = frame[~frame[spec.user_column].isin(multi)]
    repeated = frame[spec.user_column].duplicated()
    if repeated.any():
        raise ReadoutError(
            f"{_where(spec)}: {int(repeated.sum())} users have more than one row in the same "
            "variant; the readout expects one row per user"
        )
    return frame, flags, excluded


def _srm(frame: pd.DataFrame, spec: ExperimentSpec) -> SampleRatio:
    counts = frame[spec.variant_column].value_counts()
    observed = np.array([int(counts.get(v, 0)) for v in spec.variants])
    split = np.array(spec.split, dtype=float)
    if observed.sum() == 0:
        raise ReadoutError(f"{_where(spec)}: no user is left in any declared variant")
    statistic, p = srm_test(observed, split)
    return SampleRatio(
        counts=dict(zip(spec.variants, observed.tolist(), strict=True)),
        planned_share=dict(zip(spec.variants, (split / split.sum()).tolist(), strict=True)),
        statistic=statistic,
        p_value=p,
        flagged=p < SRM_ALPHA,
    )


# ---------------------------------------------------------------------------------------------
# One comparison
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Compared:
    raw: Difference
    adjusted: Difference
    reduction: float | None
    flags: tuple[str, ...]


def _compare(
    control: pd.DataFrame, treatment: pd.DataFrame, metric: MetricSpec, where: str
) -> _Compared:
    """Raw and CUPED-adjusted difference for one metric; ValueError when not estimable."""
    flags: list[str] = []
    arms = []
    for arm in (control, treatment):
        try:
            data = arm[list(metric.columns)].to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: non-numeric values in {list(metric.columns)}") from None
        ok = ~np.isnan(data).any(axis=1)
        if not ok.all():
            flags.append(f"{where}: {int((~ok).sum())} users with missing values left out")
        arms.append(data[ok])
    if min(len(a) for a in arms) < 2:
        raise ValueError(f"{where}: fewer than two users with values in an arm")
    # columns: numerator, [denominator], covariates... (MetricSpec.columns)
    first_covariate = 2 if metric.denominator else 1
    try:
        values = [linearize(a[:, 0], a[:, 1] if metric.denominator else None) for a in arms]
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    raw = difference(*values)
    if raw.se == 0:
        flags.append(f"{where}: zero variance in both arms; the interval is the point estimate")
    if raw.relative is None:
        flags.append(f"{where}: the control mean is zero, so no relative lift")
    adjusted, reduction = raw, None
    if metric.covariates:
        covs = [a[:, first_covariate:] for a in arms]
        cuped = fit_cuped(values, covs)
        adjusted = difference(*(cuped.adjust(v, x) for v, x in zip(values, covs, strict=True)))
        if raw.var_diff > 0:
            reduction = 1.0 - adjusted.var_diff / raw.var_diff
    return _Compared(raw, adjusted, reduction, tuple(flags))


def _result(
    compared: _Compared,
    spec: ExperimentSpec,
    metric: MetricSpec,
    variant: str,
    segment: str | None,
) -> MetricResult:
    z = z_quantile(spec.alpha)
    a, r = compared.adjusted, compared.raw
    rel_low = rel_high = None
    if a.relative is not None and a.relative_se is not None:
        rel_low, rel_high = a.relative - z * a.relative_se, a.relative + z * a.relative_se
    return MetricResult(
        experiment_id=spec.experiment_id,
        metric=metric.name,
        role=metric.role,
        variant=variant,
        control=spec.control,
        segment=segment,
        n_control=a.n_control,
        n_variant=a.n_treatment,
        mean_control=r.mean_control,
        mean_variant=r.mean_treatment,
        lift=a.diff,
        se=a.se,
        ci_low=a.diff - z * a.se,
        ci_high=a.diff + z * a.se,
        relative_lift=a.relative,
        relative_ci_low=rel_low,
        relative_ci_high=rel_high,
        p_value=a.p_value,
        lift_raw=r.diff,
        se_raw=r.se,
        ci_low_raw=r.diff - z * r.se,
        ci_high_raw=r.diff + z * r.se,
        cuped_variance_reduction=compared.reduction,
        guardrail=_guardrail_status(metric, rel_low, rel_high),
        flags=compared.flags,
    )


def _guardrail_status(metric: MetricSpec, low: float | None, high: float | None) -> str | None:
    """Non-inferior when the whole interval is better than −margin (relative); a breach when
    the whole interval is on the harmful side of zero; inconclusive otherwise."""
    if metric.role != "guardrail":
        return None
    if low is None or high is None:
        return INCONCLUSIVE
    sign = 1.0 if metric.higher_is_better else -1.0
    good_low, good_high = sorted((sign * low, sign * high))
    if good_high < 0:
        return BREACH
    if good_low > -(metric.margin or 0.0):
        return NON_INFERIOR
    return INCONCLUSIVE


def _comparisons(
    frame: pd.DataFrame, spec: ExperimentSpec, segment: str | None, flags: list[str]
) -> list[tuple[MetricSpec, str, _Compared]]:
    control = frame[frame[spec.variant_column] == spec.control]
    out = []
    for variant in spec.treatments:
        treated = frame[frame[spec.variant_column] == variant]
        for metric in spec.metrics:
            where = _where(spec, variant, metric.name)
            if segment is not None:
                where += f", segment {segment!r}"
            try:
                out.append((metric, variant, _compare(control, treated, metric, where)))
            except ValueError as exc:
                flags.append(f"{exc}; not estimated")
    return out


def _corrected(results: list[MetricResult], spec: ExperimentSpec) -> list[MetricResult]:
    """Correct primary+secondary p-values (fixed and sequential) as one family."""
    family = [i for i, r in enumerate(results) if r.role != "guardrail"]
    fixed = adjust_pvalues(np.array([results[i].p_value for i in family]), spec.correction)
    out = [replace(r, p_adjusted=r.p_value) if r.role == "guardrail" else r for r in results]
    for i, p in zip(family, fixed, strict=True):
        out[i] = replace(out[i], p_adjusted=float(p))
    seq_family = [i for i in family if out[i].sequential is not None]
    if seq_family:
        seq = adjust_pvalues(
            np.array([out[i].sequential.last_p for i in seq_family]),  # type: ignore[union-attr]
            spec.correction,
        )
        for i, p in zip(seq_family, seq, strict=True):
            out[i] = replace(out[i], sequential_p_adjusted=float(p))
    return out


# ---------------------------------------------------------------------------------------------
# Sequential looks
# ---------------------------------------------------------------------------------------------


def snapshots_by_entry_day(frame: pd.DataFrame, day_column: str) -> list[tuple[int, pd.DataFrame]]:
    """Cumulative looks from a day-of-first-exposure column: look d holds the users who
    entered by day d (with the metric values the frame holds for them). A mart with daily
    cumulative metrics should pass its own snapshots instead."""
    days = sorted(int(d) for d in frame[day_column].dropna().unique())
    return [(d, frame[frame[day_column] <= d]) for d in days]


def _sequential(
    looks: Sequence[tuple[int, list[tuple[MetricSpec, str, _Compared]]]],
    spec: ExperimentSpec,
) -> dict[tuple[str, str], SequentialResult]:
    """The mixture SPRT per (variant, metric) over the looks' comparisons."""
    series: dict[tuple[str, str], list[tuple[int, float, float]]] = {}
    for day, comparisons in looks:
        for metric, variant, compared in comparisons:
            a = compared.adjusted
            series.setdefault((variant, metric.name), []).append((day, a.diff, a.var_diff))
    out = {}
    metrics = {m.name: m for m in spec.metrics}
    for key, points in series.items():
        days, diffs, variances = (np.array(x) for x in zip(*points, strict=True))
        tau = metrics[key[1]].mde
        if tau is None:
            # no effect size declared: tune the mixture to the first look's standard error
            # (fixed once seen, so the guarantee holds over the looks that follow)
            positive = variances[variances > 0]
            tau = 2 * math.sqrt(positive[0]) if len(positive) else 1.0
        low, high, p = mixture_sprt(diffs, variances, tau, spec.alpha)
        out[key] = SequentialResult(
            days=tuple(int(d) for d in days),
            diff=tuple(diffs.tolist()),
            low=tuple(low.tolist()),
            high=tuple(high.tolist()),
            p_value=tuple(p.tolist()),
            tau=float(tau),
        )
    return out


# ---------------------------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------------------------


def _fmt(r: MetricResult) -> str:
    rel = f" ({r.relative_lift:+.1%})" if r.relative_lift is not None else ""
    return f"{r.metric} {r.lift:+.4g}{rel}, 95% CI [{r.ci_low:+.4g}, {r.ci_high:+.4g}]"


def _days_left(
    var_diff: float, days: float | None, mde: float | None, spec: ExperimentSpec
) -> int | None:
    if days is None or mde is None or var_diff <= 0:
        return None
    return max(0, math.ceil(days_to_power(var_diff, days, mde, spec.alpha, spec.power) - days))


def _harm_holds(guard: MetricResult, spec: ExperimentSpec) -> bool:
    """The guardrail's always-valid interval lies wholly on the harmful side of zero."""
    if guard.sequential is None:
        return True
    metric = next(m for m in spec.metrics if m.name == guard.metric)
    low, high = guard.sequential.low[-1], guard.sequential.high[-1]
    return high < 0 if metric.higher_is_better else low > 0


def _guardrail_days(
    guard: MetricResult, spec: ExperimentSpec, days_observed: float | None
) -> int | None:
    """Days until a guardrail with no true change would be shown within its margin."""
    metric = next(m for m in spec.metrics if m.name == guard.metric)
    margin = (metric.margin or 0.0) * abs(guard.mean_control)
    return _days_left(guard.se**2, days_observed, margin or None, spec)


def _decide_variant(
    variant: str,
    results: list[MetricResult],
    spec: ExperimentSpec,
    days_observed: float | None,
) -> Decision:
    primary = next((r for r in results if r.variant == variant and r.role == "primary"), None)
    if primary is None:
        return Decision(
            INVESTIGATE, f"{variant}: the primary metric could not be estimated", variant
        )
    complete = spec.planned_days is None or (
        days_observed is not None and days_observed >= spec.planned_days
    )
    guards = [r for r in results if r.variant == variant and r.role == "guardrail"]
    # before the planned end a breach must also hold on the always-valid interval, so a
    # daily look at the guardrails cannot stop a good variant by chance either
    breached = [g for g in guards if g.guardrail == BREACH and (complete or _harm_holds(g, spec))]
    pending = [g for g in guards if g.guardrail != NON_INFERIOR and g not in breached]
    if complete or primary.sequential_p_adjusted is None or primary.sequential is None:
        p, test, shown = primary.p_adjusted, "fixed-horizon", _fmt(primary)
    else:
        p, test = primary.sequential_p_adjusted, "always-valid sequential"
        seq = primary.sequential
        shown = (
            f"{primary.metric} {primary.lift:+.4g}, always-valid 95% interval "
            f"[{seq.low[-1]:+.4g}, {seq.high[-1]:+.4g}]"
        )
    better = (primary.lift > 0) == spec.primary.higher_is_better and primary.lift != 0
    evidence = f"{shown}, corrected {test} p = {p:.3g}"
    if breached:
        worst = "; ".join(_fmt(g) for g in breached)
        return Decision(
            spec.on_guardrail_breach,
            f"{variant}: guardrail worse ({worst}); primary {evidence}",
            variant,
        )
    if p <= spec.alpha and better:
        if pending:
            known = [
                d for g in pending if (d := _guardrail_days(g, spec, days_observed)) is not None
            ]
            return Decision(
                KEEP_RUNNING,
                f"{variant}: primary wins ({evidence}) but guardrails "
                f"{[g.metric for g in pending]} are not yet shown non-inferior",
                variant,
                max(known) if known else None,
            )
        held = "guardrails hold" if guards else "no guardrail declared"
        return Decision(SHIP, f"{variant}: primary better ({evidence}); {held}", variant)
    if p <= spec.alpha:
        return Decision(DONT_SHIP, f"{variant}: primary worse ({evidence})", variant)
    left = _days_left(primary.se**2, days_observed, spec.primary.mde, spec)
    if not complete:
        # before the planned end the always-valid test may still find the effect: run on to
        # the planned end, or longer if the observed variance needs it for the planned power
        to_end = math.ceil(spec.planned_days - (days_observed or 0))  # type: ignore[operator]
        days = max(to_end, left or 0)
        return Decision(
            KEEP_RUNNING,
            f"{variant}: no significant effect yet ({evidence}); {days} more days to the "
            "planned end and the planned power",
            variant,
            days,
        )
    if left is None:
        return Decision(DONT_SHIP, f"{variant}: no significant effect ({evidence})", variant)
    if left > 0:
        return Decision(
            KEEP_RUNNING,
            f"{variant}: no significant effect yet ({evidence}); {left} more days to reach "
            f"{spec.power:.0%} power for {spec.primary.mde:g}",
            variant,
            left,
        )
    return Decision(
        DONT_SHIP,
        f"{variant}: no effect as large as {spec.primary.mde:g} ({evidence}) at "
        f"{spec.power:.0%} power",
        variant,
    )


def _decide(
    spec: ExperimentSpec,
    srm: SampleRatio,
    variant_decisions: list[Decision],
    results: list[MetricResult],
    multi_share: float,
) -> Decision:
    problems = []
    if srm.flagged:
        counts = ", ".join(f"{v} {n}" for v, n in srm.counts.items())
        problems.append(
            f"sample-ratio mismatch (users {counts}; chi-square p = {srm.p_value:.2g} < "
            f"{SRM_ALPHA}): the assignment or the logging is broken"
        )
    empty = [v for v, n in srm.counts.items() if n == 0]
    if empty:
        problems.append(f"variants with no users: {empty}")
    if multi_share > MULTI_VARIANT_SHARE:
        problems.append(f"{multi_share:.1%} of users were exposed to two or more variants")
    if problems:
        return Decision(INVESTIGATE, "; ".join(problems))
    by = {
        d.verdict: [x for x in variant_decisions if x.verdict == d.verdict]
        for d in variant_decisions
    }
    if INVESTIGATE in by:
        return Decision(INVESTIGATE, " | ".join(d.reason for d in by[INVESTIGATE]))
    if SHIP in by:
        primary = {r.variant: r for r in results if r.role == "primary"}
        sign = 1.0 if spec.primary.higher_is_better else -1.0
        best = max(by[SHIP], key=lambda d: sign * primary[d.variant].lift)  # type: ignore[index]
        return Decision(SHIP, best.reason, best.variant)
    if KEEP_RUNNING in by:
        known = [d.days_needed for d in by[KEEP_RUNNING] if d.days_needed is not None]
        return Decision(
            KEEP_RUNNING,
            " | ".join(d.reason for d in by[KEEP_RUNNING]),
            days_needed=max(known) if known else None,
        )
    return Decision(DONT_SHIP, " | ".join(d.reason for d in variant_decisions))


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def readout(
    frame: pd.DataFrame,
    spec: ExperimentSpec,
    *,
    days_observed: float | None = None,
    looks: Sequence[tuple[int, pd.DataFrame]] | None = None,
) -> Readout:
    """Read out one experiment.

    Args:
        frame: one row per user: `spec.user_column`, `spec.variant_column`, every metric's
            numerator/denominator/covariate columns, and the segment column if any.
        spec: the experiment, its metrics and choices.
        days_observed: how many days the experiment has run (for "days still needed" and
            for choosing fixed-horizon or sequential evidence against `spec.planned_days`).
            Defaults to the last look's day index + 1.
        looks: cumulative snapshots `(day, frame)` in day order, `day` the look's 0-based
            day index, e.g. one per day (see `snapshots_by_entry_day`); the always-valid
            analysis runs over them. Without looks, `frame` is the single look.

    Raises:
        ReadoutError: the frame cannot be read as this experiment (missing columns, no users,
            repeated rows). Data problems (users in two variants, an empty variant, a constant
            metric, a sample-ratio mismatch) are flagged in the result instead.
    """
    cleaned, flags, excluded = _clean(frame, spec)
    multi_share = 0.0
    if excluded:
        multi = frame.groupby(spec.user_column)[spec.variant_column].nunique()
        multi_share = float((multi > 1).mean())
    srm = _srm(cleaned, spec)
    for v, n in srm.counts.items():
        if n == 0:
            flags.append(f"{_where(spec, v)}: no users")
    if looks is not None and days_observed is None and len(looks):
        days_observed = looks[-1][0] + 1
    compared = _comparisons(cleaned, spec, None, flags)
    if looks is None:
        # the frame is the only look (always-valid at any single look too)
        compared_looks = [(int(days_observed or 0), compared)]
    else:
        # a day before anyone was exposed is no look at all (a mart may still have the row)
        compared_looks = [
            (day, _comparisons(_clean(snapshot, spec)[0], spec, None, []))
            for day, snapshot in looks
            if not snapshot.empty
        ]
    sequential = _sequential(compared_looks, spec)
    results = [
        replace(_result(c, spec, m, v, None), sequential=sequential.get((v, m.name)))
        for m, v, c in compared
    ]
    results = _corrected(results, spec)
    segments: list[MetricResult] = []
    if spec.segment_column:
        for value in sorted(cleaned[spec.segment_column].dropna().unique(), key=str):
            part = cleaned[cleaned[spec.segment_column] == value]
            segments += [
                _result(c, spec, m, v, str(value))
                for m, v, c in _comparisons(part, spec, str(value), flags)
            ]
        segments = _corrected(segments, spec)
    variant_decisions = [
        _decide_variant(v, results, spec, days_observed)
        for v in spec.treatments
        if srm.counts.get(v, 0) > 0
    ]
    decision = _decide(spec, srm, variant_decisions, results, multi_share)
    return Readout(
        experiment_id=spec.experiment_id,
        srm=srm,
        metrics=tuple(results),
        segments=tuple(segments),
        variant_decisions=tuple(variant_decisions),
        decision=decision,
        flags=tuple(flags),
        excluded_users=excluded,
        days_observed=days_observed,
        correction=spec.correction,
        alpha=spec.alpha,
    )
