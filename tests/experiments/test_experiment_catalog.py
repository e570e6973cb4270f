"""ml.experiments.catalog: the standard metrics of a warehouse experiment."""

from __future__ import annotations

import pytest

from ml.experiments import ReadoutError
from ml.experiments.catalog import CONTROL, METRIC_COLUMNS, pre, standard_spec


def test_every_metric_reads_mart_columns_and_its_own_pre_period() -> None:
    spec = standard_spec("exp", ("treatment", CONTROL))
    assert spec.control == CONTROL and spec.variants == (CONTROL, "treatment")
    assert spec.primary.name == "ctr"
    for m in spec.metrics:
        own = [m.numerator] + ([m.denominator] if m.denominator else [])
        assert set(own) <= set(METRIC_COLUMNS)
        assert m.covariates == tuple(pre(c) for c in own)
    guardrails = [m for m in spec.metrics if m.role == "guardrail"]
    assert [(m.name, m.higher_is_better) for m in guardrails] == [("abandonment", False)]


def test_the_primary_is_a_choice_and_bad_choices_are_named() -> None:
    spec = standard_spec("exp", (CONTROL, "b"), primary="plays", planned_days=14)
    assert spec.primary.name == "plays" and spec.planned_days == 14
    assert {m.name for m in spec.metrics if m.role == "secondary"} == {"ctr", "watch_minutes"}
    with pytest.raises(ReadoutError, match="unknown primary metric 'clicks'"):
        standard_spec("exp", (CONTROL, "b"), primary="clicks")
    with pytest.raises(ReadoutError, match="no 'control' variant"):
        standard_spec("exp", ("a", "b"))
