"""prefect.yaml against a real, fresh Prefect server: `tastemaker up` registers every deployment."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from functools import partial
from pathlib import Path

import pytest

from flows.stack import down, free_port, list_deployments, up
from tests import background
from tests.flows.test_prefect_api import tastemaker, user_env
from warehouse.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def flow_run_names(api_url: str) -> set[str]:
    """Names of the flows that have runs on the server at `api_url`."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        names = {f.id: f.name for f in client.read_flows()}
        return {names.get(r.flow_id, "?") for r in client.read_flow_runs()}


UP = "tastemaker-up"


def _launch_up() -> background.BackgroundRun:
    """The real `tastemaker up --port N` in its own process, as a user types it, on an empty
    Tastemaker home and a fresh PREFECT_HOME for the server (tests/background.py)."""
    work = Path(tempfile.mkdtemp(prefix="tastemaker-up-"))
    home = work / "home"
    env = {
        **os.environ,
        "TASTEMAKER_HOME": str(home),
        "PREFECT_HOME": str(work / "prefect-server-home"),
    }
    return background.launch(
        UP,
        [sys.executable, "-m", "flows.cli", "up", "--port", str(free_port())],
        env=env,
        work=work / "process",
        cwd=ROOT,
        # `down` stops the server and worker, which outlive the command by design
        cleanup=partial(down, Settings(home=home)),
    )


#: When `up` starts: with the first test in tests/flows/ (the audience flows and the CLI tests
#: come first, longer than `up` takes), not with the session. The stack's deployments carry
#: their schedules (a refresh every 15 minutes, the nightly at 03:00): a worker left waiting for
#: most of the suite would run them; this keeps its life about what the test itself takes.
START_EARLY_FROM = "tests/flows/"


def start_early(items: list[pytest.Item]) -> None:
    """Called by tests/conftest.py (see START_EARLY_FROM) when the test below is selected: `up`
    starts then, beside the tests that come before it."""
    if items:
        _launch_up()


def test_up_registers_all_deployments_with_schedules_and_forms(tmp_path: Path) -> None:
    """The real `tastemaker up` (server, deployments and a worker), which says each step as it
    happens on stderr: on a busy machine it takes minutes, and silence reads as a hang."""
    from flows.stack import Stack

    run = background.get(UP) or _launch_up()
    result = run.wait(timeout_s=900)
    settings = Settings(home=Path(run.env["TASTEMAKER_HOME"]))
    tm_home = settings.home_dir
    port = int(run.args[-1])
    recorded = settings.home_dir / "prefect" / "stack.json"
    assert result.returncode == 0, result.stdout + result.stderr
    stack = Stack(**json.loads(recorded.read_text()))
    try:
        steps = [line.split("] ", 1)[1] for line in result.stderr.splitlines() if "] " in line]
        milestones = [
            next(i for i, s in enumerate(steps) if s.startswith(prefix))
            for prefix in (
                f"Prefect server starting on 127.0.0.1:{port}",
                "server healthy after",
                "registering the deployments in prefect.yaml",
                "5 deployments registered after",
                "worker started on pool tastemaker-local after",
            )
        ]
        assert milestones == sorted(milestones), steps
        assert "about 15 s" not in result.stdout + result.stderr
        assert stack.worker_pid is not None and f"API: {stack.api_url}" in result.stdout
        assert stack.deployments == [
            "ingest/ingest",
            "monitor/monitor-daily",
            "platform/platform-nightly",
            "refresh/refresh-15min",
            "transform/transform",
        ]
        deployments = {d["name"]: d for d in list_deployments(stack.api_url)}
        nightly = deployments["platform-nightly"]
        assert nightly["work_pool"] == "tastemaker-local"
        assert nightly["schedules"][0]["cron"] == "0 3 * * *"
        assert deployments["refresh-15min"]["schedules"][0]["interval"] == 900
        monitor = deployments["monitor-daily"]
        assert monitor["schedules"][0]["cron"] == "0 4 * * *"
        assert "MonitorParams" in monitor["parameter_schema"]["definitions"]
        # Typed parameters: the UI renders a form from these pydantic definitions.
        schema = nightly["parameter_schema"]
        assert {"PlatformParams", "WorldParams", "TransformParams"} <= set(schema["definitions"])
        users = schema["definitions"]["WorldParams"]["properties"]["users"]
        assert {"type": "integer", "minimum": 1} in users["anyOf"]  # empty = the setting
        # No build/push: the worker runs the code from this checkout.
        pull = nightly["pull_steps"][0]["prefect.deployments.steps.set_working_directory"]
        assert Path(pull["directory"]) == Path(__file__).resolve().parents[2]
        with pytest.raises(Exception, match="already recorded"):
            up(settings, port=free_port(), worker=False)
        # A command in this home reports to that server without PREFECT_API_URL exported.
        (tmp_path / "landing" / "users").mkdir(parents=True)
        env = user_env(tmp_path, TASTEMAKER_HOME=str(tm_home))
        ran = tastemaker(["ingest", str(tmp_path / "landing"), "--json"], env)
        assert ran.returncode == 0, ran.stderr
        assert f"using the Prefect server from `tastemaker up` at {stack.api_url}" in ran.stderr
        assert "temporary" not in ran.stderr
        assert "ingest" in flow_run_names(stack.api_url)
    finally:
        run.done()
        assert down(settings) == [stack.worker_pid, stack.server_pid]
    assert down(settings) == []
