"""The noise floor's vectorised statistics are Evidently's own, split by split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring.drift import _stattest, noise_floor, permutation_statistics


def _evidently_per_split(pooled: np.ndarray, orders: np.ndarray, n_ref: int, kind: str) -> list:
    """What the noise floor computed before: one Evidently stattest call per split."""
    from evidently.legacy.core import ColumnType

    test = _stattest(kind)
    col_type = ColumnType.Numerical if kind == "numerical" else ColumnType.Categorical
    return [
        test(pd.Series(pooled[o[:n_ref]]), pd.Series(pooled[o[n_ref:]]), col_type, None).drift_score
        for o in orders
    ]


def _columns(rng: np.random.Generator) -> dict[str, tuple[np.ndarray, str]]:
    return {
        "continuous": (rng.normal(3.0, 2.0, 700), "numerical"),
        "integer counts with ties": (rng.poisson(2.0, 700).astype(float), "numerical"),
        "mostly zero share": (np.where(rng.random(700) < 0.8, 0.0, rng.random(700)), "numerical"),
        "constant": (np.full(700, 4.0), "numerical"),
        "devices": (
            rng.choice(["tv", "mobile", "web", "tablet"], 700, p=[0.5, 0.3, 0.19, 0.01]),
            "categorical",
        ),
        "two levels": (rng.choice(["true", "false"], 700), "categorical"),
    }


@pytest.mark.parametrize("n_ref", [400, 37])
def test_vectorised_statistics_equal_evidently_split_by_split(n_ref: int) -> None:
    rng = np.random.default_rng(5)
    for name, (pooled, kind) in _columns(rng).items():
        orders = np.stack([rng.permutation(len(pooled)) for _ in range(23)])
        ours = permutation_statistics(pooled, orders, n_ref, kind, chunk=5)  # type: ignore[arg-type]
        theirs = _evidently_per_split(pooled, orders, n_ref, kind)
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12, err_msg=name)


def test_noise_floor_is_the_quantile_of_the_splits_and_seeded() -> None:
    rng = np.random.default_rng(1)
    ref = pd.Series(rng.normal(0, 1, 300))
    cur = pd.Series(rng.normal(0, 1, 120))
    floor = noise_floor(
        ref, cur, "numerical", permutations=40, quantile=0.99, rng=np.random.default_rng(0)
    )
    orders_rng = np.random.default_rng(0)
    pooled = pd.concat([ref, cur], ignore_index=True).to_numpy()
    orders = np.stack([orders_rng.permutation(len(pooled)) for _ in range(40)])
    expected = np.quantile(_evidently_per_split(pooled, orders, len(ref), "numerical"), 0.99)
    assert floor == pytest.approx(expected, rel=1e-9)
    # A sample of 120 from the same distribution drifts by chance well beyond 0: the floor
    # is what makes a configured 0.1 meaningful at small windows.
    assert 0.05 < floor < 0.5
    assert noise_floor(ref, cur, "numerical", permutations=0, quantile=0.99, rng=orders_rng) is None
