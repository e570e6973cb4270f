"""One OpenMP thread for the scikit-learn fits that use OpenMP (KMeans, HistGradientBoosting).

Why: libgomp's threads spin-wait for each other at every synchronisation. When other jobs hold
the cores (the usual case on a shared 2-core machine, and in CI), a thread is often descheduled
and the others spin until it returns. Measured on this 2-core machine at load 3.5, 20,000 x 30
(`bench/openmp_threads.py`): KMeans(7, n_init=4) 2.3 s with one
thread against 10.5 s with two; HistGradientBoosting 0.9 s against 10.8 s; a churn test went from
46 s to under 2 s. On an idle machine two threads save at most half of a second-long fit. The
results do not depend on it: identical HistGradientBoosting probabilities, identical KMeans
labels (centres equal to 2e-15).

BLAS threads are left alone for the rankers (numpy's large matrix products, the EASE solves):
those products do use both cores. The churn classifier's are small (about 10,000 rows x 40
columns; L-BFGS steps, one-hot and scaling products), and there OpenBLAS's second thread costs
more than it brings: its fit with Platt calibration took 2.4-3.0 s with two BLAS threads against
0.8-0.9 s with one, and the whole time-validated fit (`fit_churn`, regularization search and
permutation drivers included) 51 s against 23 s at load 7 (identical probabilities, ROC-AUC and
drivers). `one_thread` limits both, for the churn classifier.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from threadpoolctl import threadpool_limits

#: OpenMP threads used by the decorated fits.
OPENMP_THREADS = 1

P = ParamSpec("P")
R = TypeVar("R")


def one_openmp_thread(fn: Callable[P, R]) -> Callable[P, R]:
    """Run `fn` with OpenMP limited to `OPENMP_THREADS` (restored afterwards)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with threadpool_limits(limits=OPENMP_THREADS, user_api="openmp"):
            return fn(*args, **kwargs)

    return wrapper


def one_thread(fn: Callable[P, R]) -> Callable[P, R]:
    """Run `fn` with OpenMP and BLAS each limited to one thread (restored afterwards)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with threadpool_limits(limits=OPENMP_THREADS, user_api=None):
            return fn(*args, **kwargs)

    return wrapper
