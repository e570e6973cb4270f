"""warehouse.experiments: the per-user frame and daily looks a readout reads, on hand-made rows
(fast) and on the session's tiny warehouse (slow, through `tiny_warehouse`)."""

from __future__ import annotations

import pandas as pd
import pytest

from ml.experiments import ExperimentSpec, MetricSpec, readout
from ml.experiments.catalog import METRIC_COLUMNS
from warehouse.experiments import (
    UnknownExperiment,
    cumulative_looks,
    list_experiments,
    load_experiment,
)


def _user(variant: str, user: str, entry: int) -> dict:
    return {"variant": variant, "user_id": user, "entry_day": entry, "plays_pre": 7} | {
        m: 0.0 if m == "watch_minutes" else 0 for m in METRIC_COLUMNS
    }


def _day(variant: str, user: str, day: int, **values) -> dict:
    return {"variant": variant, "user_id": user, "look_day": day} | {
        m: values.get(m, 0) for m in METRIC_COLUMNS
    }


def test_looks_hold_entered_users_with_activity_through_that_day() -> None:
    frame = pd.DataFrame([_user("a", "u1", 0), _user("b", "u2", 2), _user("a", "u3", 1)])
    daily = pd.DataFrame(
        [
            _day("a", "u1", 3, exposures=1, watch_minutes=2.5),
            _day("a", "u1", 0, exposures=2, clicks=1),
            _day("b", "u2", 2, exposures=1, plays=4, abandons=1),
        ]
    )
    looks = cumulative_looks(frame, daily, days=4)
    assert [d for d, _ in looks] == [0, 1, 2, 3]
    by_day = {d: s.set_index("user_id") for d, s in looks}
    assert list(by_day[0].index) == ["u1"]
    assert list(by_day[1].index) == ["u1", "u3"]  # u3 entered on day 1 with no activity yet
    assert list(by_day[2].index) == ["u1", "u2", "u3"]
    assert by_day[0].loc["u1", "exposures"] == 2 and by_day[0].loc["u1", "clicks"] == 1
    assert by_day[2].loc["u1", "exposures"] == 2 and by_day[2].loc["u1", "watch_minutes"] == 0
    assert by_day[3].loc["u1", "exposures"] == 3 and by_day[3].loc["u1", "watch_minutes"] == 2.5
    assert by_day[3].loc["u2", "plays"] == 4 and by_day[3].loc["u3", "exposures"] == 0
    # columns other than the metrics (the pre-period covariates) ride along unchanged
    assert (by_day[3].plays_pre == 7).all()
    assert list(looks[-1][1].columns) == list(frame.columns)
    assert looks[-1][1].dtypes.equals(frame.dtypes)


def test_daily_rows_of_an_unknown_user_are_an_error() -> None:
    frame = pd.DataFrame([_user("a", "u1", 0)])
    daily = pd.DataFrame([_day("a", "u9", 0, exposures=1)])
    with pytest.raises(ValueError, match="1 daily rows belong to no user"):
        cumulative_looks(frame, daily, days=1)


def test_reader_on_the_tiny_warehouse(tiny_warehouse) -> None:
    settings = tiny_warehouse.settings
    summaries = {s.experiment_id: s for s in list_experiments(settings)}
    assert {"artwork_warm_tones", "artwork_title_font"} <= set(summaries)
    data = load_experiment(settings, "artwork_warm_tones")
    summary = summaries["artwork_warm_tones"]
    assert data.variants == summary.variants == ("control", "treatment")
    assert data.frame.groupby("variant").size().to_dict() == summary.users
    assert (data.frame.experiment_id == "artwork_warm_tones").all()
    assert not data.frame.duplicated(["variant", "user_id"]).any()
    assert list(data.frame.index) == list(range(len(data.frame)))
    # deterministic: a second read is the same frame
    pd.testing.assert_frame_equal(load_experiment(settings, "artwork_warm_tones").frame, data.frame)

    assert len(data.looks) == data.days > 30
    sizes = [len(s) for _, s in data.looks]
    assert sizes == sorted(sizes) and sizes[-1] == len(data.frame)
    last = data.looks[-1][1].reset_index(drop=True)
    pd.testing.assert_frame_equal(last, data.frame, check_exact=False, rtol=1e-9)
    middle = data.looks[data.days // 2][1].set_index("user_id")
    final = data.frame.set_index("user_id").loc[middle.index]
    assert (middle.exposures <= final.exposures).all() and (
        middle.exposures < final.exposures
    ).any()

    spec = ExperimentSpec(
        experiment_id="artwork_warm_tones",
        variants=data.variants,
        control="control",
        metrics=(
            MetricSpec(
                "ctr",
                "clicks",
                denominator="exposures",
                role="primary",
                covariates=("clicks_pre", "exposures_pre"),
            ),
            MetricSpec("plays", "plays", covariates=("plays_pre",)),
        ),
    )
    result = readout(data.frame, spec, looks=data.looks)
    ctr = next(r for r in result.metrics if r.metric == "ctr")
    assert ctr.n_control + ctr.n_variant == len(data.frame)
    assert len(ctr.sequential.days) >= data.days - 1  # one point per non-empty look
    plays = next(r for r in result.metrics if r.metric == "plays")
    assert plays.cuped_variance_reduction > 0.2  # the pre-period predicts plays


def test_an_unknown_experiment_names_the_known_ones(tiny_warehouse) -> None:
    with pytest.raises(UnknownExperiment, match=r"'nope'.*artwork_title_font, artwork_warm_tones"):
        load_experiment(tiny_warehouse.settings, "nope")
