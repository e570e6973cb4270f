"""The drift noise floor: one vectorised pass against one Evidently call per split.

A back-filled day compares 6,843 reference with about 1,770 current rows on 41 columns (35
numerical, 6 categorical) with 50 random splits per column. Frames of that shape are drawn
here (gamma-distributed counts, four-level categories), so no world needs building; the
statistics are the same functions either way (tests/monitoring/test_noise_floor.py).
Alternating repeats, medians; the load average is printed since the machine is shared.

    uv run python bench/noise_floor.py [--repeats 5] [--permutations 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import pandas as pd


def per_split_floor(ref: pd.Series, cur: pd.Series, kind: str, permutations: int, rng) -> float:
    """The former implementation: Evidently's stattest called once per split."""
    from evidently.legacy.core import ColumnType

    from monitoring.drift import _stattest

    test = _stattest(kind)
    col_type = ColumnType.Numerical if kind == "numerical" else ColumnType.Categorical
    values = pd.concat([ref, cur], ignore_index=True).to_numpy()
    stats = []
    for _ in range(permutations):
        order = rng.permutation(len(values))
        a, b = pd.Series(values[order[: len(ref)]]), pd.Series(values[order[len(ref) :]])
        stats.append(test(a, b, col_type, None).drift_score)
    return float(np.quantile(stats, 0.99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--permutations", type=int, default=50)
    args = parser.parse_args()
    from monitoring.drift import noise_floor

    rng = np.random.default_rng(0)

    def frame(n: int) -> pd.DataFrame:
        data = {f"n{i}": rng.gamma(2.0, 1.0, n) for i in range(35)}
        data |= {f"c{i}": rng.choice(["a", "b", "c", "d"], n) for i in range(6)}
        return pd.DataFrame(data)

    ref, cur = frame(6843), frame(1770)
    kinds = {c: "numerical" if c.startswith("n") else "categorical" for c in ref.columns}

    def vectorised() -> None:
        r = np.random.default_rng(0)
        for col, kind in kinds.items():
            noise_floor(
                ref[col], cur[col], kind, permutations=args.permutations, quantile=0.99, rng=r
            )

    def per_split() -> None:
        r = np.random.default_rng(0)
        for col, kind in kinds.items():
            per_split_floor(ref[col], cur[col], kind, args.permutations, r)

    vectorised(), per_split()  # imports
    times: dict[str, list[float]] = {"vectorised": [], "per split (before)": []}
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeats):
        for label, fn in (("vectorised", vectorised), ("per split (before)", per_split)):
            start = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - start)
    loads.append(os.getloadavg()[0])
    print(
        f"41 columns, {args.permutations} splits, 6,843 vs 1,770 rows; {args.repeats} alternating "
        f"repeats; load {loads[0]:.1f} -> {loads[1]:.1f}"
    )
    print(f"{'noise floor of one day':<22} {'median s':>9} {'range s':>14}")
    for label, values in times.items():
        print(
            f"{label:<22} {statistics.median(values):>9.2f} "
            f"{f'{min(values):.2f}-{max(values):.2f}':>14}"
        )


if __name__ == "__main__":
    main()
