"""Alert rules and the stable reference on tiny data: a change alerts when it is both beyond
chance and large in readable units, a key feature alerts on its own, and the reference is the
champions' training window cut to end where the current window starts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows.steps.monitor import drift_reference, key_features
from ml.registry import DataWindow, ModelRegistry, PromotionGate
from monitoring.config import DriftConfig
from monitoring.drift import (
    DriftSpec,
    DriftThresholds,
    run_drift,
    weekend_fraction,
    without_calendar_columns,
)
from warehouse.monitoring import ReferencePeriod, fit_reference
from warehouse.settings import Settings

SPEC = DriftSpec(
    name="toy_features",
    numerical=("genre_share_a", "genre_share_b", "hours", "active_days_total"),
    categorical=("plan",),
)


def _frame(
    n: int, rng: np.random.Generator, *, a: float = 0.0, b: float = 0.0, hours_sd: float = 0.0
) -> pd.DataFrame:
    """Shares around 30% and 40% moved by `a` and `b` (fractions), hours moved by `hours_sd`
    of its SD; active days and plan never move."""
    return pd.DataFrame(
        {
            "genre_share_a": np.clip(rng.normal(0.30 + a, 0.1, n), 0, 1),
            "genre_share_b": np.clip(rng.normal(0.40 + b, 0.1, n), 0, 1),
            "hours": rng.normal(10 + 4 * hours_sd, 4, n),
            "active_days_total": rng.poisson(8, n).astype(float),
            "plan": rng.choice(["basic", "standard", "premium"], n, p=[0.5, 0.3, 0.2]),
        }
    )


def _run(tmp_path: Path, ref: pd.DataFrame, cur: pd.DataFrame, **kwargs):
    thresholds = DriftThresholds(
        permutations=20,
        alert_share_points=kwargs.pop("alert_share_points", 5.0),
        alert_mean_shift_sd=kwargs.pop("alert_mean_shift_sd", 0.5),
        key_effect_fraction=kwargs.pop("key_effect_fraction", 0.5),
    )
    return run_drift(ref, cur, SPEC, thresholds, tmp_path, write_html=False, **kwargs)


def test_a_change_alerts_only_when_beyond_chance_and_large(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ref = _frame(3000, rng)
    # share a +10 points (large), share b +2 points (beyond chance at 3000 rows, but small),
    # hours +1 SD (large)
    cur = _frame(3000, rng, a=0.10, b=0.02, hours_sd=1.0)
    summary = _run(tmp_path, ref, cur)
    cols = {c.column: c for c in summary.columns}
    assert cols["genre_share_a"].alert_rule == "large_drift"
    assert cols["genre_share_a"].effect == pytest.approx(10, abs=1.0)
    assert cols["genre_share_a"].effect_unit == "points"
    assert cols["genre_share_b"].significant and not cols["genre_share_b"].large
    assert cols["genre_share_b"].alert_rule is None
    assert cols["hours"].alert_rule == "large_drift" and cols["hours"].effect_unit == "sd"
    assert cols["hours"].effect == pytest.approx(1.0, abs=0.15)
    assert summary.status == "drift" and summary.alerts[0].rule == "large_drift"
    assert set(summary.alerts[0].columns) == {"genre_share_a", "hours"}
    # one threshold moved at a time: a 15-point bar leaves share a below it, hours still fires
    stricter = _run(tmp_path, ref, cur, alert_share_points=15.0)
    assert {c.column for c in stricter.columns if c.alert_rule} == {"hours"}


def test_a_large_looking_change_on_few_rows_is_not_an_alert(tmp_path: Path) -> None:
    """Beyond chance is the permutation floor's job: on 120 rows a 4-point wobble is noise."""
    rng = np.random.default_rng(5)
    ref, cur = _frame(120, rng), _frame(120, rng)
    summary = _run(tmp_path, ref, cur, alert_share_points=1.0, alert_mean_shift_sd=0.05)
    assert [c.column for c in summary.columns if c.large]  # something looks "large"...
    assert not summary.alerts and summary.status == "ok"  # ...but none is beyond chance


def test_a_key_feature_alerts_on_its_own_and_28d_names_count(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    ref = _frame(3000, rng)
    cur = _frame(3000, rng, hours_sd=0.3)  # drifted, beyond chance, half of "large" or more
    plain = _run(tmp_path, ref, cur)
    assert next(c for c in plain.columns if c.column == "hours").drifted
    assert not plain.alerts
    keyed = _run(tmp_path, ref, cur, key_columns=["hours", "active_days_28d"])
    assert [(a.rule, a.columns) for a in keyed.alerts] == [("key_feature", ["hours"])]
    assert {c.column for c in keyed.columns if c.key} == {"hours", "active_days_total"}
    # a key feature still needs its lower bar: 0.3 SD is below 0.8 of a 0.5 SD large shift
    assert not _run(tmp_path, ref, cur, key_columns=["hours"], key_effect_fraction=0.8).alerts


def test_the_reference_ends_where_the_current_window_starts() -> None:
    training = ReferencePeriod("training", dt.date(2026, 1, 29), dt.date(2026, 6, 20), "churn")
    fitted, count = fit_reference(training, dt.date(2026, 7, 1), 28)
    # cut at 2026-06-03 (the current window's start), then whole 28-day windows back from it
    assert (fitted.start, fitted.end, count) == (dt.date(2026, 2, 11), dt.date(2026, 6, 3), 4)
    short = ReferencePeriod("pinned", dt.date(2026, 5, 20), dt.date(2026, 7, 1), "pinned")
    fallback, count = fit_reference(short, dt.date(2026, 7, 1), 28)
    assert fallback.kind == "adjacent" and count == 0
    assert "no whole 28-day window" in fallback.notes[-1]


def _champion(registry: ModelRegistry, model: str, start: str | None, end: str) -> None:
    meta = registry.save(
        {"model": model},
        model,
        metrics={"m": 1.0},
        data_window=DataWindow(start=start, end=end),
    )
    registry.promote(model, meta.version, PromotionGate("m"))


def test_training_reference_is_what_every_champion_saw(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert drift_reference(settings).kind == "adjacent"  # no champion yet: said in a note
    assert "no champion" in drift_reference(settings).notes[0]
    registry = ModelRegistry(settings.artifacts_path)
    _champion(registry, "churn", "2026-01-29", "2026-06-20")
    _champion(registry, "recommender", "2025-12-31T14:18:19+00:00", "2026-06-30T07:50:12+00:00")
    _champion(registry, "segmenter", None, "2026-07-01")  # no start: cannot bound a period
    ref = drift_reference(settings)
    assert (ref.kind, ref.start, ref.end) == (
        "training",
        dt.date(2026, 1, 29),
        dt.date(2026, 6, 20),
    )
    assert "churn:" in ref.source and "recommender:" in ref.source
    pinned = Settings(
        home=tmp_path,
        drift=DriftConfig(
            reference="pinned", reference_start="2026-02-01", reference_end="2026-05-01"
        ),
    )
    assert (drift_reference(pinned).start, drift_reference(pinned).end) == (
        dt.date(2026, 2, 1),
        dt.date(2026, 5, 1),
    )
    with pytest.raises(ValueError, match=r"drift.reference_start < drift.reference_end"):
        drift_reference(Settings(home=tmp_path, drift=DriftConfig(reference="pinned")))
    adjacent = Settings(home=tmp_path, drift=DriftConfig(reference="adjacent"))
    assert drift_reference(adjacent).kind == "adjacent"


def test_key_features_are_the_churn_drivers_then_the_setting(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, drift=DriftConfig(key_drivers=2, key_features=["plan"]))
    assert key_features(settings) == ["plan"]
    registry = ModelRegistry(settings.artifacts_path)
    _champion(registry, "churn", "2026-01-29", "2026-06-20")
    version = registry.champion_version("churn")
    drivers = [
        {"feature": "active_days_28d", "importance": 0.01},
        {"feature": "days_since_last_view", "importance": 0.04},
        {"feature": "monthly_price", "importance": 0.001},
    ]
    (registry.version_dir("churn", version) / "evaluation.json").write_text(
        json.dumps({"drivers": drivers})
    )
    assert key_features(settings) == ["days_since_last_view", "active_days_28d", "plan"]
    no_drivers = settings.drift.model_copy(update={"key_drivers": 0})
    assert key_features(settings.model_copy(update={"drift": no_drivers})) == ["plan"]


def test_weekend_share_is_left_out_when_the_windows_hold_different_weekends() -> None:
    """45-day windows from Wednesday 2026-04-01 and Saturday 2026-05-16: 12 and 14 weekend days."""
    assert weekend_fraction("2026-04-01", "2026-05-16") == pytest.approx(12 / 45)
    assert weekend_fraction("2026-05-16", "2026-06-30") == pytest.approx(14 / 45)
    spec = DriftSpec("u", numerical=("weekend_share", "series_share"), categorical=("plan",))
    ref, cur = (
        {"start": "2026-04-01", "end": "2026-05-16"},
        {"start": "2026-05-16", "end": "2026-06-30"},
    )
    kept, note = without_calendar_columns(spec, ref, cur)
    assert kept.columns == ("series_share", "plan") and "26.7% and 31.1%" in note
    weeks = (
        {"start": "2026-02-11", "end": "2026-06-03"},
        {"start": "2026-06-03", "end": "2026-07-01"},
    )
    assert without_calendar_columns(spec, *weeks) == (spec, None)  # whole weeks: kept
