"""How a command shows a run's progress on stderr: a live display in a terminal, a few plain
lines when piped (CI logs, `2> file`), at most a handful per stage either way.

Implements flows.progress.Reporter. Prefect's and dbt's own per-task and per-node lines stay
out of the console at default verbosity (they go to the Prefect UI and dbt's log file); `-v`
brings them back, each Prefect line prefixed with the task or flow run it belongs to.
"""

from __future__ import annotations

import logging
import threading
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

#: Plain mode prints a long step's progress at these fractions only.
_PLAIN_MARKS = (0.25, 0.5, 0.75)


class RunFormatter(logging.Formatter):
    """Log lines that name the Prefect task or flow run they come from.

    Prefect's run loggers attach `task_run_name` / `flow_run_name` to each record; without them
    a line reads `Finished in state Completed()` and nobody can tell which of 600 tasks it was.
    """

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        run = getattr(record, "task_run_name", None) or getattr(record, "flow_run_name", None)
        kind = "task" if getattr(record, "task_run_name", None) else "flow"
        return line if not run else line.replace(": ", f": [{kind} {run}] ", 1)


class LiveReporter:
    """A rich progress display: one line per stage, a bar when the stage reports units."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[what]}[/]"),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> LiveReporter:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def _task(self, stage: str) -> TaskID:
        with self._lock:
            if stage not in self._tasks:
                self._tasks[stage] = self._progress.add_task(stage, total=None, what="")
            return self._tasks[stage]

    def begin(self, stage: str, what: str = "") -> None:
        self._progress.update(self._task(stage), what=what)

    def advance(self, stage: str, done: int, total: int, what: str = "") -> None:
        self._progress.update(self._task(stage), completed=done, total=total, what=what)

    def end(self, stage: str, ok: bool = True, detail: str = "") -> None:
        task = self._task(stage)
        label = stage if ok else f"[red]{stage} failed[/]"
        total = self._progress.tasks[task].total or 1
        self._progress.update(task, description=label, total=total, completed=total, what=detail)
        self._progress.stop_task(task)


class PlainReporter:
    """Plain lines for a log file: a stage's start, its quarter marks, its end with seconds."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._started: dict[str, float] = {}
        self._marks: dict[str, int] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> PlainReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def _say(self, line: str) -> None:
        self._console.print(line, highlight=False, soft_wrap=True, markup=False)

    def begin(self, stage: str, what: str = "") -> None:
        with self._lock:
            self._started[stage] = time.perf_counter()
            self._marks[stage] = 0
        self._say(f"- {stage}: {what}" if what else f"- {stage}")

    def advance(self, stage: str, done: int, total: int, what: str = "") -> None:
        if total <= 0:
            return
        with self._lock:
            passed = self._marks.get(stage, 0)
            if passed >= len(_PLAIN_MARKS) or done / total < _PLAIN_MARKS[passed]:
                return
            while passed < len(_PLAIN_MARKS) and done / total >= _PLAIN_MARKS[passed]:
                passed += 1
            self._marks[stage] = passed
        self._say(f"  {stage}: {done}/{total}")

    def end(self, stage: str, ok: bool = True, detail: str = "") -> None:
        with self._lock:
            seconds = time.perf_counter() - self._started.pop(stage, time.perf_counter())
        verdict = "done" if ok else "FAILED"
        self._say(f"  {stage} {verdict} in {seconds:.0f} s" + (f": {detail}" if detail else ""))


def reporter_for(console: Console) -> LiveReporter | PlainReporter:
    """A live display on a terminal, plain lines otherwise."""
    return LiveReporter(console) if console.is_terminal else PlainReporter(console)
