"""Prefect's temporary API server dies with the command that started it, even on SIGKILL.

Prefect stops that server from an atexit hook, which a SIGKILLed parent never runs (issue 18:
a `tastemaker transform` killed for its memory left its server running). These tests start a
real parent process, SIGKILL it, and check that its child is gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.flows.test_prefect_api import user_env

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the parent-death signal is Linux only"
)

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return not _alive(pid)


def _parent(code: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    """Start a parent running `code`, which prints its child's pid on one line; return both."""
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = parent.stdout.readline()
    assert line.strip().isdigit(), f"the parent printed no child pid: {line!r}"
    return parent, int(line)


def _kill(parent: subprocess.Popen) -> None:
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=30)


def test_a_parent_bound_child_dies_when_its_parent_is_sigkilled() -> None:
    parent, child = _parent(
        """
        import time
        from flows.prefect_api import parent_bound_popen
        p = parent_bound_popen(["sleep", "600"])
        print(p.pid, flush=True)
        time.sleep(600)
        """
    )
    try:
        assert _alive(child)
        _kill(parent)
        assert _gone_within(child, 10), "the child outlived its SIGKILLed parent"
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)


def test_a_plain_child_outlives_its_sigkilled_parent() -> None:
    """The control: without the death signal the child survives, so the test above can fail."""
    parent, child = _parent(
        """
        import subprocess, time
        p = subprocess.Popen(["sleep", "600"])
        print(p.pid, flush=True)
        time.sleep(600)
        """
    )
    try:
        _kill(parent)
        assert not _gone_within(child, 2)
    finally:
        os.kill(child, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.integration
def test_the_temporary_prefect_server_dies_with_its_sigkilled_parent(tmp_path: Path) -> None:
    parent, server = _parent(
        """
        import time
        from prefect.server.api.server import SubprocessASGIServer
        from flows.prefect_api import _start_temporary
        _start_temporary(600, "test")
        print(SubprocessASGIServer._instances[None].server_process.pid, flush=True)
        time.sleep(600)
        """,
        env=user_env(tmp_path, PREFECT_SERVER_ANALYTICS_ENABLED="false"),
    )
    try:
        assert _alive(server)
        _kill(parent)
        assert _gone_within(server, 30), "the Prefect server outlived its SIGKILLed parent"
    finally:
        if _alive(server):
            os.kill(server, signal.SIGKILL)
