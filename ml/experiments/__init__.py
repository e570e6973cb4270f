"""A/B experiment readouts: frames in, typed results and a decision out (no warehouse, no Prefect).

See docs/experiments.md for what each number means and why each method was chosen.
"""

from ml.experiments.readout import (
    Decision,
    MetricResult,
    Readout,
    SampleRatio,
    readout,
    snapshots_by_entry_day,
)
from ml.experiments.spec import (
    ALPHA,
    DONT_SHIP,
    INVESTIGATE,
    KEEP_RUNNING,
    POWER,
    SHIP,
    SRM_ALPHA,
    ExperimentSpec,
    MetricSpec,
    ReadoutError,
)
from ml.experiments.stats import (
    SequentialResult,
    adjust_pvalues,
    difference,
    fit_cuped,
    linearize,
    mixture_sprt,
    srm_test,
)

__all__ = [
    "ALPHA",
    "DONT_SHIP",
    "INVESTIGATE",
    "KEEP_RUNNING",
    "POWER",
    "SHIP",
    "SRM_ALPHA",
    "Decision",
    "ExperimentSpec",
    "MetricResult",
    "MetricSpec",
    "Readout",
    "ReadoutError",
    "SampleRatio",
    "SequentialResult",
    "adjust_pvalues",
    "difference",
    "fit_cuped",
    "linearize",
    "mixture_sprt",
    "readout",
    "snapshots_by_entry_day",
    "srm_test",
]
