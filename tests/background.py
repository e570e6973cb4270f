"""End-to-end subprocesses that start when the session starts and are waited for when needed.

The suite runs in one pytest process, which keeps one of CI's two cores busy; a test that runs
the CLI in a subprocess and waits for it leaves the other idle while pytest itself idles too.
The suite's end-to-end `tastemaker run` (tests/flows/test_platform.py, about 2 minutes) and
`tastemaker up` (tests/flows/test_stack.py, about 1.5 minutes, mostly waiting on Prefect's server,
CLI and worker processes) are such tests: nothing in them depends on other tests, so they can run
beside them instead of after them.

A test module that wants this defines `start_early(items)`; tests/conftest.py calls it once
collection is done with the module's selected items (so a deselected module starts nothing), and
its fixture then takes the finished process from `launch`'s handle. The command, environment and
assertions are the test's own: only *when* the process starts moves.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flows.prefect_api import parent_bound_popen

_RUNS: dict[str, BackgroundRun] = {}


@dataclass
class BackgroundRun:
    """One subprocess whose output goes to files under `work` (a pipe could fill and stall it)."""

    name: str
    args: list[str]
    env: dict[str, str]
    work: Path
    cwd: Path | None = None
    #: Called by `stop_all` unless `done()` was: undoes what the process leaves running (a
    #: `tastemaker up` stack outlives its CLI) when the test that would have never ran.
    cleanup: Callable[[], object] | None = field(default=None, repr=False)
    started_at: float = 0.0
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        with (self.work / "stdout").open("w") as out, (self.work / "stderr").open("w") as err:
            # Bound to pytest: a killed session does not leave a `tastemaker run` behind.
            self.proc = parent_bound_popen(
                self.args, env=self.env, cwd=self.cwd, stdout=out, stderr=err, text=True
            )
        self.started_at = time.monotonic()

    def wait(self, timeout_s: float) -> subprocess.CompletedProcess[str]:
        """The finished process (stdout and stderr as text); kills it after `timeout_s` counted
        from its start, as `subprocess.run(timeout=...)` would have."""
        assert self.proc is not None, f"{self.name} was never started"
        left = max(1.0, timeout_s - (time.monotonic() - self.started_at))
        try:
            self.proc.wait(timeout=left)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        return subprocess.CompletedProcess(
            self.args,
            self.proc.returncode,
            (self.work / "stdout").read_text(),
            (self.work / "stderr").read_text(),
        )

    def done(self) -> None:
        """The test has cleaned up after the process itself."""
        self.cleanup = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.cleanup is not None:
            cleanup, self.cleanup = self.cleanup, None
            cleanup()


def launch(
    name: str,
    args: list[str],
    env: dict[str, str],
    work: Path,
    cwd: Path | None = None,
    cleanup: Callable[[], object] | None = None,
) -> BackgroundRun:
    """Start `args` under `name` unless a run of that name exists; return the run."""
    if name not in _RUNS:
        run = BackgroundRun(name=name, args=args, env=env, work=work, cwd=cwd, cleanup=cleanup)
        run.start()
        _RUNS[name] = run
    return _RUNS[name]


def get(name: str) -> BackgroundRun | None:
    """The run started under `name`, or None."""
    return _RUNS.get(name)


def stop_all() -> None:
    """Stop whatever is still running (an interrupted session, a test that never waited)."""
    for run in _RUNS.values():
        try:
            run.stop()
        except Exception as exc:  # one failed clean-up must not skip the others
            print(f"tests/background: stopping {run.name} failed: {exc}")
