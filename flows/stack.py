"""`tastemaker up` / `down`: a local Prefect server, a process worker and the deployments.

The embedded default needs none of this (flows run on Prefect's ephemeral API). `up` is for
people who want the UI, the schedules in prefect.yaml and runs triggered from a form: it starts
`prefect server start` and `prefect worker start` as background processes, registers the work
pool and runs `prefect --no-prompt deploy --all` from the project folder. State (pids, logs) lives
in `<home>/prefect/`, so `down` can stop exactly what `up` started.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from warehouse.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)

WORK_POOL = "tastemaker-local"


class DeployError(RuntimeError):
    """A step of `up` failed; the message says which and where its log is."""


@dataclass(frozen=True)
class Stack:
    api_url: str
    ui_url: str
    server_pid: int
    worker_pid: int | None
    deployments: list[str]
    state_dir: str

    def to_dict(self) -> dict:
        return asdict(self)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _prefect_bin() -> list[str]:
    """The prefect CLI of this very environment (never whatever is first on PATH)."""
    return [sys.executable, "-m", "prefect"]


#: Report progress: one short line per step of `up` (the CLI prints them as they come).
Progress = Callable[[str], None]
#: A step still running says so this often, so a slow start on a busy machine is not silence.
TICK_S = 15.0


def _quiet(_: str) -> None:
    """The default progress reporter: say nothing."""


def wait_healthy(
    api_url: str,
    timeout_s: float = 90.0,
    proc: subprocess.Popen | None = None,
    progress: Progress = _quiet,
) -> None:
    start = time.monotonic()
    deadline = start + timeout_s
    next_tick = start + TICK_S
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise DeployError(f"prefect server exited with code {proc.returncode} while starting")
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() >= next_tick:
            progress(f"server not answering yet ({time.monotonic() - start:.0f} s), waiting")
            next_tick += TICK_S
        time.sleep(0.5)
    raise DeployError(f"prefect server at {api_url} not healthy after {timeout_s:.0f}s")


def _run(
    args: list[str],
    env: dict[str, str],
    what: str,
    cwd: Path | None = None,
    progress: Progress = _quiet,
    timeout_s: float = 600.0,
) -> str:
    """Run a prefect CLI step to completion; every TICK_S, say it is still running."""
    proc = subprocess.Popen(
        args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    start = time.monotonic()
    while True:
        try:
            stdout, stderr = proc.communicate(timeout=TICK_S)
            break
        except subprocess.TimeoutExpired:
            elapsed = time.monotonic() - start
            if elapsed > timeout_s:
                proc.kill()
                proc.communicate()
                raise DeployError(f"{what} did not finish in {timeout_s:.0f} s") from None
            progress(f"{what}: still running ({elapsed:.0f} s)")
    if proc.returncode != 0:
        tail = (stderr or stdout).strip().splitlines()[-15:]
        raise DeployError(f"{what} failed (exit {proc.returncode}):\n" + "\n".join(tail))
    return stdout


def _spawn(args: list[str], env: dict[str, str], logfile: Path, cwd: Path) -> subprocess.Popen:
    logfile.parent.mkdir(parents=True, exist_ok=True)
    handle = logfile.open("ab")
    return subprocess.Popen(
        args,
        env=env,
        cwd=cwd,
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # survives the CLI; `down` stops the whole group
    )


def deploy_all(
    api_url: str, project_dir: Path = PROJECT_ROOT, progress: Progress = _quiet
) -> list[str]:
    """Create the process work pool if needed and register every deployment in prefect.yaml."""
    env = {**os.environ, "PREFECT_API_URL": api_url, "PREFECT_CLI_PROMPT": "false"}
    pools = _run([*_prefect_bin(), "work-pool", "ls"], env, "listing work pools", None, progress)
    if WORK_POOL not in pools:
        _run(
            [*_prefect_bin(), "work-pool", "create", WORK_POOL, "--type", "process"],
            env,
            f"creating work pool {WORK_POOL}",
            None,
            progress,
        )
        progress(f"work pool {WORK_POOL} created")
    progress("registering the deployments in prefect.yaml (prefect deploy --all)")
    _run(
        [*_prefect_bin(), "--no-prompt", "deploy", "--all"],
        env,
        "prefect deploy --all",
        project_dir,
        progress,
    )
    return [f"{d['flow_name']}/{d['name']}" for d in list_deployments(api_url)]


def wait_for_worker(
    api_url: str, proc: subprocess.Popen, timeout_s: float = 120.0, progress: Progress = _quiet
) -> bool:
    """Wait until a worker of WORK_POOL has checked in with the server (its first heartbeat):
    True once it has, False after `timeout_s` (the process is then left running, its log says
    why); raises DeployError if the process exits."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    start = time.monotonic()
    next_tick = start + TICK_S
    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        while time.monotonic() - start < timeout_s:
            if proc.poll() is not None:
                raise DeployError(f"prefect worker exited with code {proc.returncode} at start")
            if client.read_workers_for_work_pool(WORK_POOL):
                return True
            if time.monotonic() >= next_tick:
                progress(f"worker not checked in yet ({time.monotonic() - start:.0f} s), waiting")
                next_tick += TICK_S
            time.sleep(1.0)
    return False


def list_deployments(api_url: str) -> list[dict]:
    """Deployments registered on the server at `api_url` (name, flow, schedules, parameters)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        flows = {f.id: f.name for f in client.read_flows()}
        return sorted(
            (
                {
                    "name": d.name,
                    "flow_name": flows.get(d.flow_id, "?"),
                    "work_pool": d.work_pool_name,
                    "schedules": [s.schedule.model_dump(mode="json") for s in d.schedules],
                    "parameters": d.parameters,
                    "parameter_schema": d.parameter_openapi_schema,
                    "pull_steps": d.pull_steps,
                }
                for d in client.read_deployments()
            ),
            key=lambda d: (d["flow_name"], d["name"]),
        )


def up(
    settings: Settings,
    port: int = 4200,
    host: str = "127.0.0.1",
    worker: bool = True,
    progress: Progress = _quiet,
) -> Stack:
    """Start server (+ worker), register deployments, and record pids for `down`.

    `progress` hears one line per step as it happens (server started, healthy, deployments
    registered, worker checked in) and a line every TICK_S while a step is still waiting: the
    whole start took 76 s at load 5 on the 2-core machine, most of it waiting."""
    state_dir = settings.home_dir / "prefect"
    state_file = state_dir / "stack.json"
    if state_file.exists():
        raise DeployError(f"a stack is already recorded in {state_file}: run `tastemaker down`")
    api_url = f"http://{host}:{port}/api"
    env = {
        **os.environ,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_HOME": os.environ.get("PREFECT_HOME", str(state_dir / "home")),
    }
    env.pop("PREFECT_API_URL", None)
    started = time.monotonic()

    def since() -> str:
        return f"{time.monotonic() - started:.0f} s"

    server = _spawn(
        [*_prefect_bin(), "server", "start", "--host", host, "--port", str(port)],
        env,
        state_dir / "server.log",
        PROJECT_ROOT,
    )
    progress(f"Prefect server starting on {host}:{port} (log: {state_dir / 'server.log'})")
    worker_proc = None
    try:
        wait_healthy(api_url, proc=server, progress=progress)
        progress(f"server healthy after {since()}")
        deployments = deploy_all(api_url, progress=progress)
        progress(f"{len(deployments)} deployments registered after {since()}")
        if worker:
            worker_proc = _spawn(
                [*_prefect_bin(), "worker", "start", "--pool", WORK_POOL],
                {**env, "PREFECT_API_URL": api_url, "TASTEMAKER_HOME": str(settings.home_dir)},
                state_dir / "worker.log",
                PROJECT_ROOT,
            )
            if wait_for_worker(api_url, worker_proc, progress=progress):
                progress(f"worker started on pool {WORK_POOL} after {since()}")
            else:
                progress(
                    f"worker process started (pid {worker_proc.pid}) but has not checked in "
                    f"yet; see {state_dir / 'worker.log'}"
                )
    except BaseException:
        if worker_proc is not None:
            _stop_pid(worker_proc.pid)
        _stop_pid(server.pid)
        raise
    stack = Stack(
        api_url=api_url,
        ui_url=f"http://{host}:{port}/",
        server_pid=server.pid,
        worker_pid=worker_proc.pid if worker_proc else None,
        deployments=deployments,
        state_dir=str(state_dir),
    )
    state_file.write_text(json.dumps(stack.to_dict(), indent=2))
    return stack


def _stop_pid(pid: int, timeout_s: float = 15.0) -> bool:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    os.killpg(pid, signal.SIGKILL)
    return True


def down(settings: Settings) -> list[int]:
    """Stop what `up` started; returns the pids that were still running."""
    state_file = settings.home_dir / "prefect" / "stack.json"
    if not state_file.exists():
        return []
    stack = json.loads(state_file.read_text())
    stopped = [
        pid
        for pid in (stack.get("worker_pid"), stack.get("server_pid"))
        if pid and _stop_pid(int(pid))
    ]
    state_file.unlink()
    return stopped
