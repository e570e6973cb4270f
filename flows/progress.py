"""Progress of a run for whoever watches it: a live display in a terminal, nothing in a worker.

Flows say when a stage begins and ends and how far a long step is (dbt nodes done of total);
the command line decides how to show it. A deployment run on a worker has no reporter, so the
calls cost nothing there; the Prefect UI shows the same stages as flow and task runs.

Kept free of Prefect and of rich, so any layer can report without importing a display. One
reporter per process (module state, not a context variable): Prefect runs tasks in worker
threads, which would not see a context variable set by the CLI.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Reporter(Protocol):
    """What a display implements. Every method must be cheap and must never raise."""

    def begin(self, stage: str, what: str = "") -> None:
        """`stage` started; `what` is a few words on what it does."""

    def advance(self, stage: str, done: int, total: int, what: str = "") -> None:
        """`done` of `total` units of `stage` are finished (e.g. dbt nodes)."""

    def end(self, stage: str, ok: bool = True, detail: str = "") -> None:
        """`stage` finished (or failed); `detail` is its headline figure or error."""


class _Silent:
    def begin(self, stage: str, what: str = "") -> None:
        pass

    def advance(self, stage: str, done: int, total: int, what: str = "") -> None:
        pass

    def end(self, stage: str, ok: bool = True, detail: str = "") -> None:
        pass


_SILENT = _Silent()
_current: Reporter = _SILENT
_lock = threading.Lock()


def current() -> Reporter:
    """The reporter of this process (a silent one unless a command installed a display)."""
    return _current


@contextmanager
def reporting(reporter: Reporter) -> Iterator[Reporter]:
    """Install `reporter` for the duration of the block (the CLI wraps a flow run in this)."""
    global _current
    with _lock:
        previous, _current = _current, reporter
    try:
        yield reporter
    finally:
        with _lock:
            _current = previous


@contextmanager
def stage(name: str, what: str = "") -> Iterator[None]:
    """Report `name` as begun, then ended (failed if the block raises)."""
    reporter = current()
    reporter.begin(name, what)
    try:
        yield
    except BaseException as exc:
        reporter.end(name, ok=False, detail=type(exc).__name__)
        raise
    reporter.end(name, ok=True)


def dbt_node_progress(stage_name: str = "transform"):
    """A `run_dbt(on_node=...)` callback that reports dbt nodes done of total."""

    def on_node(done: int, total: int, unique_id: str, status: str) -> None:
        current().advance(stage_name, done, total, unique_id.split(".")[-1])

    return on_node
