"""What a readout is asked: the experiment, its metrics and its thresholds, declared once.

The readout reads one row per user (a dbt mart, or a data set such as Hillstrom's): the user
id, the variant, each metric's numerator (and denominator for a ratio metric), the pre-period
covariates for CUPED and, optionally, a segment column. These specs name those columns, so the
engine never guesses from column names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ml.experiments.stats import CORRECTIONS, Correction

#: Two-sided level of every test and interval (95 % intervals).
ALPHA: float = 0.05
#: The planned power used for "keep running … days still needed".
POWER: float = 0.8
#: Sample-ratio-mismatch threshold: at p below this the experiment is flagged (Kohavi et al.
#: use 0.001 so that a healthy portfolio of many experiments is rarely flagged by chance).
SRM_ALPHA: float = 0.001
#: Share of users seen in two variants above which the assignment itself is suspect.
MULTI_VARIANT_SHARE: float = 0.01

Role = Literal["primary", "secondary", "guardrail"]
ROLES: tuple[Role, ...] = ("primary", "secondary", "guardrail")

Verdict = Literal["ship", "don't ship", "keep running", "investigate"]
SHIP: Verdict = "ship"
DONT_SHIP: Verdict = "don't ship"
KEEP_RUNNING: Verdict = "keep running"
INVESTIGATE: Verdict = "investigate"


class ReadoutError(ValueError):
    """An experiment that cannot be read out as asked; the message names what and where."""


@dataclass(frozen=True)
class MetricSpec:
    """One metric of an experiment.

    Attributes:
        name: how the readout names it.
        numerator: column of the per-user value (a mean metric) or the ratio's numerator.
        denominator: column of the ratio's denominator (ratio metrics only: clicks/exposures).
        role: "primary" (exactly one; drives the decision), "secondary" (reported, corrected
            with the primary), "guardrail" (must not get worse).
        higher_is_better: the direction that counts as better.
        margin: guardrails only: the tolerated relative degradation (0.02 = 2 % worse) in the
            non-inferiority test.
        mde: the smallest absolute effect worth detecting (metric units). The primary needs it
            for "days still needed"; it also tunes the sequential test's mixture.
        covariates: pre-period columns for CUPED (pre-treatment by construction: measured
            before the user's first exposure).
    """

    name: str
    numerator: str
    denominator: str | None = None
    role: Role = "secondary"
    higher_is_better: bool = True
    margin: float | None = None
    mde: float | None = None
    covariates: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        own = (self.numerator,) + ((self.denominator,) if self.denominator else ())
        return own + self.covariates


@dataclass(frozen=True)
class ExperimentSpec:
    """An experiment to read out: variants, planned split, metrics and the analysis choices.

    Attributes:
        experiment_id: named in every message and result.
        variants: every variant, control included, as they appear in `variant_column`.
        control: the variant every other one is compared against.
        metrics: the metrics (exactly one primary).
        planned_split: planned share per variant (same order as `variants`); equal if None.
        user_column / variant_column: the frame's id and variant columns.
        segment_column: a column to break effects down by (reported with its own correction).
        correction: "holm" (family-wise error) or "bh" (false discovery rate) across the
            primary and secondary metrics of all variants.
        alpha / power: test level and planned power.
        planned_days: the planned duration; before it the decision uses the always-valid
            sequential p-values, so a daily look cannot inflate false positives.
        on_guardrail_breach: the verdict when a guardrail is significantly worse.
    """

    experiment_id: str
    variants: tuple[str, ...]
    control: str
    metrics: tuple[MetricSpec, ...]
    planned_split: tuple[float, ...] | None = None
    user_column: str = "user_id"
    variant_column: str = "variant"
    segment_column: str | None = None
    correction: Correction = "holm"
    alpha: float = ALPHA
    power: float = POWER
    planned_days: int | None = None
    on_guardrail_breach: Verdict = DONT_SHIP
    treatments: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        where = f"experiment {self.experiment_id!r}"
        if len(set(self.variants)) != len(self.variants) or len(self.variants) < 2:
            raise ReadoutError(f"{where}: needs two or more distinct variants, got {self.variants}")
        if self.control not in self.variants:
            raise ReadoutError(
                f"{where}: control {self.control!r} is not one of its variants {self.variants}"
            )
        if self.planned_split is not None and (
            len(self.planned_split) != len(self.variants) or min(self.planned_split) <= 0
        ):
            raise ReadoutError(
                f"{where}: planned_split {self.planned_split} needs one positive share per "
                f"variant {self.variants}"
            )
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            raise ReadoutError(f"{where}: metric names repeat: {names}")
        primaries = [m.name for m in self.metrics if m.role == "primary"]
        if len(primaries) != 1:
            raise ReadoutError(f"{where}: needs exactly one primary metric, got {primaries}")
        for m in self.metrics:
            if m.role not in ROLES:
                raise ReadoutError(f"{where}, metric {m.name!r}: unknown role {m.role!r}")
            if m.role == "guardrail" and (m.margin is None or m.margin < 0):
                raise ReadoutError(
                    f"{where}, guardrail {m.name!r}: needs a non-negative relative margin"
                )
            if m.mde is not None and m.mde <= 0:
                raise ReadoutError(f"{where}, metric {m.name!r}: mde must be positive")
        if self.correction not in CORRECTIONS:
            raise ReadoutError(
                f"{where}: unknown correction {self.correction!r}; use one of {CORRECTIONS}"
            )
        if self.on_guardrail_breach not in (DONT_SHIP, INVESTIGATE):
            raise ReadoutError(
                f"{where}: on_guardrail_breach must be {DONT_SHIP!r} or {INVESTIGATE!r}"
            )
        object.__setattr__(self, "treatments", tuple(v for v in self.variants if v != self.control))

    @property
    def primary(self) -> MetricSpec:
        return next(m for m in self.metrics if m.role == "primary")

    @property
    def split(self) -> tuple[float, ...]:
        return self.planned_split or tuple(1.0 for _ in self.variants)
