"""Run dbt against the settings' DuckDB file and summarise what it did.

Named `dbtrun` rather than `dbt*`/`dbt_*`: dbt imports every top-level `dbt_*` module it can find
while looking for adapter plugins (see ../shared/PITFALLS.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flows.settings import Settings

log = logging.getLogger(__name__)

#: dbt node statuses, grouped the way a person reads a build: did it work or not.
_PASSED = {"success", "pass"}
_FAILED = {"error", "fail", "runtime error"}


@dataclass(frozen=True)
class NodeResult:
    unique_id: str
    resource_type: str
    status: str
    execution_time_s: float
    message: str | None = None


@dataclass(frozen=True)
class DbtSummary:
    """What one dbt invocation did, in counts a person can read and a test can assert on."""

    command: str
    success: bool
    passed: int
    failed: int
    warned: int
    skipped: int
    elapsed_s: float
    manifest_sha256: str | None
    target_dir: str
    nodes: list[NodeResult] = field(default_factory=list)

    @property
    def failures(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status in _FAILED]

    def counts_by_type(self) -> dict[str, int]:
        return dict(Counter(n.resource_type for n in self.nodes))

    def to_dict(self, with_nodes: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_nodes:
            data.pop("nodes")
        data["by_type"] = self.counts_by_type()
        data["failures"] = [asdict(n) for n in self.failures]
        return data


def dbt_target_dir(settings: Settings) -> Path:
    """dbt's target/ per Tastemaker home, so two homes sharing one checkout never collide."""
    return settings.home_dir / "dbt" / "target"


def manifest_sha256(target_dir: Path) -> str | None:
    """Content hash of the dbt manifest: the lineage key that ties outputs to one dbt build."""
    manifest = target_dir / "manifest.json"
    if not manifest.is_file():
        return None
    return hashlib.sha256(manifest.read_bytes()).hexdigest()


@contextmanager
def _env(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def release_duckdb() -> None:
    """Close the DuckDB database that dbt-duckdb keeps open in this process.

    dbt-duckdb caches one database handle per process; left open, it blocks every other process
    from writing the file and makes a later read-only connect in this process fail
    ("different configuration"). Called after every dbt invocation.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
        from dbt.adapters.factory import reset_adapters
    except ImportError:  # pragma: no cover - dbt-duckdb is a hard dependency
        return
    reset_adapters()
    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
        if env is not None:
            try:
                env.close()
            except Exception as exc:  # closing is best effort; the handle is dropped anyway
                log.debug("ignoring error while closing dbt's DuckDB handle: %s", exc)


def _join_node_task_threads(before: set[threading.Thread], timeout_s: float = 120.0) -> None:
    """Wait for the Prefect tasks that mirror dbt nodes to finish reporting their states.

    PrefectDbtRunner runs each node's task in a daemon thread and returns without joining them;
    the last few may still be sending their Completed state when `invoke` returns. If the process
    then exits (a CLI run), they emit events during interpreter shutdown and abort the process.
    """
    deadline = time.monotonic() + timeout_s
    for thread in threading.enumerate():
        if thread in before or thread is threading.current_thread():
            continue
        target = getattr(thread, "_target", None)
        if target is not None and "run_task_in_thread" in getattr(target, "__qualname__", ""):
            thread.join(max(0.0, deadline - time.monotonic()))


def _dbt_log_level():
    """dbt's log level from Prefect's: Prefect says WARNING/CRITICAL where dbt says warn/error.

    prefect-dbt passes Prefect's level straight to dbt, which rejects "warning"; mapped here so
    `PREFECT_LOGGING_LEVEL=WARNING` (common in tests and quiet deployments) keeps working.
    """
    from dbt_common.events.base_types import EventLevel
    from prefect.settings import get_current_settings

    name = str(get_current_settings().logging.level).lower()
    name = {"warning": "warn", "critical": "error", "notset": "debug"}.get(name, name)
    try:
        return EventLevel(name)
    except ValueError:
        return EventLevel.INFO


def run_dbt(
    settings: Settings,
    command: str = "build",
    *,
    select: str | None = None,
    dbt_vars: Mapping[str, Any] | None = None,
    full_refresh: bool = False,
    extra_args: list[str] | None = None,
) -> DbtSummary:
    """Invoke dbt through `PrefectDbtRunner`, so that inside a flow every node is its own task.

    Outside a flow the same runner simply runs dbt. Never raises on model or test failures:
    the caller gets them in the summary and decides (the transform flow fails the run after
    publishing the summary, so the failures are visible in the UI).
    """
    from prefect_dbt import PrefectDbtRunner, PrefectDbtSettings

    project_dir = settings.dbt_project_dir
    if not (project_dir / "dbt_project.yml").is_file():
        raise FileNotFoundError(f"no dbt project at {project_dir} (dbt_project.yml missing)")
    target_dir = dbt_target_dir(settings)
    target_dir.mkdir(parents=True, exist_ok=True)
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)

    args = [command]
    if select:
        args += ["--select", select]
    if dbt_vars:
        args += ["--vars", json.dumps(dict(dbt_vars), default=str)]
    if full_refresh and command in {"build", "run", "seed"}:
        args.append("--full-refresh")
    args += ["--log-path", str(settings.home_dir / "dbt" / "logs")]
    args += list(extra_args or [])

    runner = PrefectDbtRunner(
        settings=PrefectDbtSettings(
            project_dir=project_dir,
            profiles_dir=project_dir,
            target_path=target_dir,
            log_level=_dbt_log_level(),
        ),
        raise_on_failure=False,
    )
    started = time.perf_counter()
    threads_before = set(threading.enumerate())
    try:
        with _env(settings.dbt_env()):
            result = runner.invoke(args)
    finally:
        _join_node_task_threads(threads_before)
        release_duckdb()
    elapsed = time.perf_counter() - started

    nodes: list[NodeResult] = []
    for item in getattr(result.result, "results", None) or []:
        status = str(getattr(item.status, "value", item.status)).lower()
        nodes.append(
            NodeResult(
                unique_id=item.node.unique_id,
                resource_type=str(getattr(item.node.resource_type, "value", "")),
                status=status,
                execution_time_s=round(float(item.execution_time or 0.0), 3),
                message=item.message if status in _FAILED else None,
            )
        )
    statuses = Counter(n.status for n in nodes)
    summary = DbtSummary(
        command=" ".join(args),
        success=bool(result.success),
        passed=sum(statuses[s] for s in _PASSED),
        failed=sum(statuses[s] for s in _FAILED),
        warned=statuses["warn"],
        skipped=statuses["skipped"],
        elapsed_s=round(elapsed, 2),
        manifest_sha256=manifest_sha256(target_dir),
        target_dir=str(target_dir),
        nodes=nodes,
    )
    log.info(
        "dbt %s: %d passed, %d failed, %d warned, %d skipped in %.1fs",
        command,
        summary.passed,
        summary.failed,
        summary.warned,
        summary.skipped,
        elapsed,
    )
    return summary
