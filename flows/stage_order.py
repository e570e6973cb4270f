"""Which stage of a platform run another stage must wait for when the two run side by side.

The platform flow runs the recommender beside the audience stage (two cores, one OpenMP thread
per fit). Segments and the churn model read only the marts, but the re-engagement plan's
content teasers read `ml.recommendations`, so that step waits for the recommender to finish
(successfully or not, as it would have in sequence). Outside a platform run nothing is
announced and `wait_for` returns at once.

Prefect-free, process-level state (not a context variable): Prefect runs the side stage in a
worker thread, which would not see a context variable set by the flow.
"""

from __future__ import annotations

import threading

_running: dict[str, threading.Event] = {}
_lock = threading.Lock()


def announce(stage: str) -> None:
    """`stage` is about to run beside others: `wait_for(stage)` blocks until `finished`."""
    with _lock:
        _running[stage] = threading.Event()


def finished(stage: str) -> None:
    """`stage` is over (whatever its outcome): release whoever waits for it."""
    with _lock:
        event = _running.pop(stage, None)
    if event is not None:
        event.set()


def wait_for(stage: str, timeout_s: float | None = None) -> bool:
    """Block until an announced `stage` has finished; True at once when none is announced."""
    with _lock:
        event = _running.get(stage)
    return True if event is None else event.wait(timeout_s)
