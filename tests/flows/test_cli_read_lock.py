"""Read-only commands and a run that is writing: a short wait, then one `error:` line naming the
writer (pid, host, since) and exit 2, instead of waiting up to `warehouse_lock_timeout_s`.

The writer is a real second process holding the real warehouse lock, not a mock.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.cli import app
from warehouse.settings import Settings

runner = CliRunner()
# One retry of the lock (it polls every 0.5 s) and still a wait a reader can tell from none.
READ_WAIT_S = 0.5

READ_COMMANDS = {
    "segments": ["segments"],
    "churn": ["churn", "--json"],
    "recommend": ["recommend", "u000001"],
    "lineage": ["lineage", "recommender:20260101T000000000000Z-00000000"],
    "drift": ["drift", "--json"],
    "evaluate-synthetic": ["evaluate", "recommender", "--dataset", "synthetic"],
}


@pytest.fixture(scope="module")
def busy_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """A home with a warehouse file whose lock another process holds (as a writing run does).
    Yields the home and the holder's pid."""
    home = tmp_path_factory.mktemp("busy") / "home"
    settings = Settings(home=home)
    home.mkdir(parents=True)
    duckdb.connect(str(settings.warehouse_path)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from pathlib import Path; from warehouse.lock import warehouse_lock\n"
            f"with warehouse_lock(Path({str(settings.lock_path)!r})):\n"
            "    print('held', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        yield home, holder.pid
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("command", list(READ_COMMANDS))
def test_read_command_gives_up_quickly_naming_the_writer(
    command: str, busy_home: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    home, pid = busy_home
    monkeypatch.setenv("TASTEMAKER_HOME", str(home))
    monkeypatch.setenv("TASTEMAKER_READ_LOCK_TIMEOUT_S", str(READ_WAIT_S))
    started = time.monotonic()
    result = runner.invoke(app, READ_COMMANDS[command])
    elapsed = time.monotonic() - started
    assert result.exit_code == 2, result.output
    # before: 60 s (segments, churn) or warehouse_lock_timeout_s = 30 min; imports take a few s
    assert READ_WAIT_S * 0.9 <= elapsed < 30, elapsed
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    message = errors[0]
    assert "a Tastemaker run is writing" in message
    assert f"pid {pid}" in message and socket.gethostname() in message and " since 20" in message
    assert "try again in a minute" in message.lower()
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_writers_keep_their_long_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The short wait is a reader's only (`Warehouse(settings, reader=True)`); the settings and
    a writer's wait are untouched by it."""
    from warehouse.db import Warehouse

    monkeypatch.setenv("TASTEMAKER_READ_LOCK_TIMEOUT_S", "3")
    plain = Settings()
    assert plain.warehouse_lock_timeout_s == 1800.0 and plain.read_lock_timeout_s == 3.0
    assert Warehouse(plain, reader=True).timeout_s == 3.0
    assert Warehouse(plain).timeout_s == 1800.0
    assert Settings.model_fields["read_lock_timeout_s"].default == 10.0
    assert "read-only" in (Settings.model_fields["read_lock_timeout_s"].description or "")


def test_read_lock_timeout_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASTEMAKER_READ_LOCK_TIMEOUT_S", "0")
    result = runner.invoke(app, ["segments"])
    assert result.exit_code == 2
    assert "read_lock_timeout_s" in result.output
