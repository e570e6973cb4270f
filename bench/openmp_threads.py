"""KMeans and HistGradientBoosting with 1 and 2 OpenMP threads, and whether results differ.

Why ml/threads.py fixes OpenMP at one thread: on a machine whose cores other jobs hold, OpenMP's
spin-waiting threads make the fits several times slower. Run it idle and with a background job
(e.g. `yes > /dev/null &` per core) to see both sides:

    uv run python bench/openmp_threads.py [--rows 20000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from sklearn.cluster import KMeans
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.rows, 30))
    y = (X[:, 0] + rng.normal(size=args.rows) > 0).astype(int)
    results: dict[int, tuple] = {}
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.rows} x 30")
    print(f"{'threads':>7} {'KMeans s (median)':>18} {'HGB s (median)':>15}")
    for threads in (1, 2):
        km_s, hgb_s = [], []
        for _ in range(args.repeats):
            with threadpool_limits(threads, user_api="openmp"):
                start = time.perf_counter()
                km = KMeans(7, n_init=4, random_state=0).fit(X)
                km_s.append(time.perf_counter() - start)
                start = time.perf_counter()
                proba = HistGradientBoostingClassifier(random_state=0).fit(X, y).predict_proba(X)
                hgb_s.append(time.perf_counter() - start)
        results[threads] = (km.labels_, km.cluster_centers_, proba)
        print(f"{threads:>7} {statistics.median(km_s):>18.2f} {statistics.median(hgb_s):>15.2f}")
    (l1, c1, p1), (l2, c2, p2) = results[1], results[2]
    print(
        f"same KMeans labels: {np.array_equal(l1, l2)}; max centre difference "
        f"{np.abs(c1 - c2).max():.1e}; max HGB probability difference {np.abs(p1 - p2).max():.1e}"
    )


if __name__ == "__main__":
    main()
