"""Which Prefect API a command uses, and a start that fails as one `error:` line.

The subprocess tests run the CLI the way a new user does: a fresh PREFECT_HOME and HOME, no
PREFECT_* or TASTEMAKER_* variable but the one under test (this suite's conftest sets some for
in-process tests; a subprocess must not inherit them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.prefect_api import STARTUP_TIMEOUT_ENV, recorded_stack_url, startup_timeout_s
from warehouse.settings import Settings


def user_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a new user: nothing of Prefect's or ours set, empty homes."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "TASTEMAKER_")) and k != "HOME"
    }
    (tmp_path / "user-home").mkdir(exist_ok=True)
    env.update(
        {
            "HOME": str(tmp_path / "user-home"),
            "PREFECT_HOME": str(tmp_path / "user-home" / ".prefect"),
            "TASTEMAKER_HOME": str(tmp_path / "tm-home"),
            **extra,
        }
    )
    return env


def tastemaker(args: list[str], env: dict[str, str], timeout: float = 600):
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_our_timeout_is_generous_and_prefects_own_wins_when_set() -> None:
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS as PREFECT_T
    from prefect.settings import temporary_settings

    settings = Settings(prefect_startup_timeout_s=321)
    assert startup_timeout_s(settings) == (321, "TASTEMAKER_PREFECT_STARTUP_TIMEOUT_S")
    with temporary_settings(updates={PREFECT_T: 45}):
        assert startup_timeout_s(settings) == (45, STARTUP_TIMEOUT_ENV)
    # The default must outlast the slowest start measured on a busy 2-core machine (89 s).
    assert Settings().prefect_startup_timeout_s >= 300


def test_a_stale_stack_file_is_ignored(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert recorded_stack_url(settings) is None
    (tmp_path / "prefect").mkdir()
    (tmp_path / "prefect" / "stack.json").write_text(
        json.dumps({"api_url": "http://127.0.0.1:9/api"})
    )
    assert recorded_stack_url(settings) is None  # nothing answers there: not used
    (tmp_path / "prefect" / "stack.json").write_text("{not json")
    assert recorded_stack_url(settings) is None


@pytest.mark.slow
@pytest.mark.parametrize(
    "variable",
    [STARTUP_TIMEOUT_ENV, "TASTEMAKER_PREFECT_STARTUP_TIMEOUT_S"],
    ids=["prefect", "ours"],
)
def test_a_server_that_cannot_start_in_time_is_one_error_line(
    tmp_path: Path, variable: str
) -> None:
    """Forcing a 1 s timeout (a fresh PREFECT_HOME needs far longer) must end in exactly one
    `error:` line naming the setting to raise, exit 1, and no traceback or leftover server."""
    (tmp_path / "landing" / "users").mkdir(parents=True)
    result = tastemaker(
        ["ingest", str(tmp_path / "landing")], user_env(tmp_path, **{variable: "1"})
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert variable in errors[0] and "tastemaker up" in errors[0]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) <= 3, result.stderr  # the notice, the (wrapped) error line


TWO_STARTS = """
from flows.prefect_api import prefect_api
from warehouse.settings import Settings
from prefect import flow

@flow
def hello() -> int:
    return 1

with prefect_api(Settings()) as api:
    assert hello() == 1
    print("api", api.kind)
"""


@pytest.mark.slow
def test_two_commands_starting_on_one_fresh_prefect_home_both_work(tmp_path: Path) -> None:
    """Two commands at once on a new PREFECT_HOME: both temporary servers would migrate the same
    SQLite database; the start-up lock makes the second wait for the first (no alembic
    traceback, both flows run)."""
    env = user_env(tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", TWO_STARTS],
            env=env,
            cwd=Path(__file__).resolve().parents[2],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        assert "api temporary" in out
        assert "Traceback" not in err and "No such constraint" not in err, err[-3000:]
