"""The metrics a readout of a warehouse experiment reports, declared once for every experiment
whose exposures land in the warehouse.

The column names are those of dbt's `experiment_user_metrics` (post-period metrics, and the same
names with `PRE_SUFFIX` for the equal-length pre-period before the first exposure); tests hold
the two equal. No experiment is named here: a new experiment in the exposures gets the same
metrics, with `primary` choosing the one that drives its decision.
"""

from __future__ import annotations

from dataclasses import replace

from ml.experiments.spec import ExperimentSpec, MetricSpec, ReadoutError

#: Post-period metric columns of the per-user mart (and of its daily increments).
METRIC_COLUMNS: tuple[str, ...] = ("exposures", "clicks", "plays", "watch_minutes", "abandons")
#: Suffix of the pre-period columns: the CUPED covariates.
PRE_SUFFIX = "_pre"
#: The variant every other one is compared against (the world's and the warehouse's name).
CONTROL = "control"
#: Tolerated relative worsening of the abandonment guardrail (5 % more abandoned sessions).
ABANDONMENT_MARGIN = 0.05


def pre(column: str) -> str:
    """The pre-period column of a metric column."""
    return f"{column}{PRE_SUFFIX}"


def standard_metrics(primary: str = "ctr") -> tuple[MetricSpec, ...]:
    """Click-through (clicks / exposures), plays, watch minutes, and abandonment (abandons /
    plays) as a guardrail; each adjusted by CUPED on its own pre-period columns.

    Args:
        primary: the metric that drives the decision (ctr, plays or watch_minutes); the
            others are secondary.
    """
    metrics = (
        MetricSpec(
            "ctr", "clicks", denominator="exposures", covariates=(pre("clicks"), pre("exposures"))
        ),
        MetricSpec("plays", "plays", covariates=(pre("plays"),)),
        MetricSpec("watch_minutes", "watch_minutes", covariates=(pre("watch_minutes"),)),
    )
    names = [m.name for m in metrics]
    if primary not in names:
        raise ReadoutError(f"unknown primary metric {primary!r}; choose one of {names}")
    chosen = tuple(
        replace(m, role="primary" if m.name == primary else "secondary") for m in metrics
    )
    guardrail = MetricSpec(
        "abandonment",
        "abandons",
        denominator="plays",
        role="guardrail",
        higher_is_better=False,
        margin=ABANDONMENT_MARGIN,
        covariates=(pre("abandons"), pre("plays")),
    )
    return (*chosen, guardrail)


def standard_spec(
    experiment_id: str, variants: tuple[str, ...], *, primary: str = "ctr", **choices: object
) -> ExperimentSpec:
    """The readout spec of a warehouse experiment: its variants against `CONTROL` on
    `standard_metrics(primary)`; `choices` go to ExperimentSpec (planned_days, correction...)."""
    if CONTROL not in variants:
        raise ReadoutError(
            f"experiment {experiment_id!r}: no {CONTROL!r} variant among {list(variants)}"
        )
    ordered = (CONTROL, *(v for v in variants if v != CONTROL))
    return ExperimentSpec(
        experiment_id=experiment_id,
        variants=ordered,
        control=CONTROL,
        metrics=standard_metrics(primary),
        **choices,  # type: ignore[arg-type]
    )
