"""Short histories: `NotEnoughHistory` says how much more history time-based validation needs,
and that estimate is right (that many more days of snapshots at the same cadence is enough, one
snapshot fewer is not). Other data errors stay plain `ChurnDataError`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.audience.churn import (
    ChurnClassifier,
    ChurnDataError,
    NotEnoughHistory,
    fit_validate_churn,
    time_split,
)


def _dates(start: str, n: int, every_days: int) -> pd.Series:
    return pd.Series(pd.date_range(start, periods=n, freq=f"{every_days}D"))


@pytest.mark.parametrize(("n", "every"), [(1, 14), (2, 14), (3, 14), (2, 7), (5, 7)])
def test_the_estimate_is_the_least_history_that_works(n: int, every: int) -> None:
    dates = _dates("2026-01-01", n, every)
    with pytest.raises(NotEnoughHistory, match="more days of snapshots needed") as info:
        time_split(dates.repeat(2), valid_fraction=0.3, embargo_days=30)
    more = info.value.more_days
    assert more > 0 and f"about {more} more days" in str(info.value)
    assert info.value.embargo_days == 30
    # at the cadence the data had (one snapshot: daily, the finest a service can have)
    step = every if n > 1 else 1
    enough = _dates("2026-01-01", n + more // step, step)
    train, valid = time_split(enough, valid_fraction=0.3, embargo_days=30)
    assert train.any() and valid.any()
    short = enough.iloc[:-1]
    with pytest.raises(NotEnoughHistory):
        time_split(short, valid_fraction=0.3, embargo_days=30)


def test_a_single_snapshot_names_its_date_and_has_no_validation_date() -> None:
    with pytest.raises(NotEnoughHistory, match=r"got 1 \(2026-01-29\)") as info:
        time_split(pd.Series(pd.to_datetime(["2026-01-29"] * 4)))
    assert info.value.first_valid is None
    assert info.value.more_days == 42  # 43 daily snapshots: 30 train-side days + 13 validation


def test_two_close_snapshots_name_the_validation_date() -> None:
    with pytest.raises(NotEnoughHistory, match="label window before the first validation date "
                       "2026-01-15") as info:  # fmt: skip
        time_split(_dates("2026-01-01", 2, 14))
    assert str(info.value.first_valid) == "2026-01-15" and info.value.more_days == 28


def test_other_data_errors_are_not_short_history() -> None:
    with pytest.raises(ChurnDataError, match="got 0") as info:
        time_split(pd.Series([], dtype="datetime64[ns]"))
    assert not isinstance(info.value, NotEnoughHistory)
    with pytest.raises(ChurnDataError, match="empty") as info:
        fit_validate_churn(pd.DataFrame(columns=["user_id", "snapshot_date", "churned_30d"]))
    assert not isinstance(info.value, NotEnoughHistory)
    # enough history, but nobody ever churned: bad data, not a young service
    dates = _dates("2026-01-01", 6, 14)
    rows = pd.DataFrame(
        {
            "user_id": [f"u{i % 20}" for i in range(120)],
            "snapshot_date": dates.repeat(20).to_numpy(),
            "views_28d": np.arange(120) % 7,
            "churned_30d": 0,
        }
    )
    with pytest.raises(ChurnDataError) as info:
        fit_validate_churn(rows, estimator=ChurnClassifier(C=0.1), n_repeats=1)
    assert not isinstance(info.value, NotEnoughHistory)


def test_a_handful_of_cancellations_is_not_enough_history() -> None:
    """A small service: the dates suffice but a few churners cannot be learned from or judged."""
    dates = _dates("2026-01-01", 6, 14)
    churned = np.zeros(120, dtype=int)
    churned[[3, 47, 95]] = 1  # two in training snapshots, one in validation
    rows = pd.DataFrame(
        {
            "user_id": [f"u{i % 20}" for i in range(120)],
            "snapshot_date": dates.repeat(20).to_numpy(),
            "views_28d": np.arange(120) % 7,
            "churned_30d": churned,
        }
    )
    with pytest.raises(NotEnoughHistory, match="cancellation") as info:
        fit_validate_churn(rows, estimator=ChurnClassifier(C=0.1), n_repeats=1)
    assert info.value.more_days is None
    assert info.value.first_valid is not None
