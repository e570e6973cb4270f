"""prefect.yaml against a real, fresh Prefect server: `tastemaker up` registers every deployment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.stack import down, free_port, list_deployments, up
from tests.flows.test_prefect_api import tastemaker, user_env
from warehouse.settings import get_settings

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def flow_run_names(api_url: str) -> set[str]:
    """Names of the flows that have runs on the server at `api_url`."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        names = {f.id: f.name for f in client.read_flows()}
        return {names.get(r.flow_id, "?") for r in client.read_flow_runs()}


def test_up_registers_all_deployments_with_schedules_and_forms(
    tm_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real `tastemaker up` (server, deployments and a worker), which says each step as it
    happens on stderr: on a busy machine it takes minutes, and silence reads as a hang."""
    from typer.testing import CliRunner

    from flows.cli import app
    from flows.stack import Stack

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-server-home"))
    settings = get_settings()
    port = free_port()
    result = CliRunner().invoke(app, ["up", "--port", str(port)])
    recorded = settings.home_dir / "prefect" / "stack.json"
    assert result.exit_code == 0, result.output
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
        assert "about 15 s" not in result.output
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
        assert down(settings) == [stack.worker_pid, stack.server_pid]
    assert down(settings) == []
