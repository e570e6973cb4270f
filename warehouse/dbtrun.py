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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from warehouse.settings import Settings

log = logging.getLogger(__name__)

#: dbt node statuses, grouped the way a person reads a build: did it work or not.
_PASSED = {"success", "pass"}
_FAILED = {"error", "fail", "runtime error"}


class DbtInvocationError(ValueError):
    """dbt could not start the build (the project does not compile, a var is malformed); the
    message is dbt's own. Bad input, so never retried."""


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


#: Commands that run against a parsed project and accept one (`dbtRunner(manifest=...)`).
_REUSES_PARSE = {"build", "run", "test", "compile", "seed"}
#: Parsed projects of this process: key -> the pickled Manifest.
_PARSED: dict[tuple[str, ...], bytes] = {}
_PARSED_LOCK = threading.Lock()


def _parse_key(settings: Settings) -> tuple[str, ...]:
    """What a parsed manifest depends on here: dbt's version, the project's files and where they
    are, and the DuckDB file's stem (dbt-duckdb names the database after it, and every node
    carries that name). Not the vars: this project reads vars only where SQL and test arguments
    are rendered, at execution (tests/warehouse/test_dbt_parse_reuse.py holds it to that)."""
    from importlib import metadata

    from warehouse.buildstate import project_fingerprint

    project = settings.dbt_project_dir
    return (
        metadata.version("dbt-core"),
        metadata.version("dbt-duckdb"),
        str(project.resolve()),
        project_fingerprint(project),
        settings.warehouse_path.stem,
    )


def _parsed_project(settings: Settings, common: list[str]) -> Any | None:
    """The project parsed once per process and handed to every later invocation.

    dbt parses the whole project (542 macros, 442 nodes) on each invocation whose target/ holds
    no partial-parse state: 8-14 s on this 2-core machine, most of a one-model run such as the
    monitor's scratch build (14 s of 16 in the platform test), and it re-parses fully whenever
    the vars change. The result does not depend on the home, so the first invocation parses
    (`dbt parse`, which also validates the vars and writes manifest.json) and later ones start
    from a copy of it (`dbtRunner(manifest=...)`, dbt's documented way to reuse a parse); each
    still writes its own manifest.json, whose hash lineage records. None when the parse fails:
    the caller's own invocation then reports dbt's error as it always did."""
    import pickle

    from dbt.cli.main import dbtRunner

    key = _parse_key(settings)
    with _PARSED_LOCK:
        cached = _PARSED.get(key)
        if cached is None:
            try:
                with _env(settings.dbt_env()):
                    parsed = dbtRunner().invoke(["parse", *common])
            finally:
                release_duckdb()
            if not parsed.success or parsed.result is None:
                return None
            cached = _dump_manifest(parsed.result)
            _PARSED[key] = cached
    return pickle.loads(cached)


def _dump_manifest(manifest: Any) -> bytes:
    """`manifest` pickled field by field. dbt's own `Manifest.__reduce_ex__` passes its fields
    by position and misses `fixtures` (dbt-core 1.11), so every later field lands one place off
    and the copy fails in the first source test ("RefableLookup.find() missing 1 required
    positional argument"). The lookups, caches and lock (the underscored fields) start empty in
    the copy, as in a fresh parse; dbt rebuilds them on first use."""
    import copyreg
    import io
    import pickle

    from dbt.contracts.graph.manifest import Manifest

    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, Manifest: _reduce_manifest}
    pickler.dump(manifest)
    return buffer.getvalue()


def _reduce_manifest(manifest: Any) -> tuple[Any, tuple[dict[str, Any]]]:
    public = {f.name: getattr(manifest, f.name) for f in fields(manifest) if f.name[0] != "_"}
    return _rebuild_manifest, (public,)


def _rebuild_manifest(public: dict[str, Any]) -> Any:
    from dbt.contracts.graph.manifest import Manifest

    return Manifest(**public)


#: Called after each dbt node finishes: (nodes done, nodes selected, unique_id, status).
NodeCallback = Callable[[int, int, str, str], None]


def _node_listener(on_node: NodeCallback) -> Callable[[Any], None]:
    """A dbt event callback that counts finished nodes and reports each one to `on_node`.

    The total comes from dbt's own "N of M" lines (LogStartLine / LogModelResult carry `total`,
    LogTestResult `num_models`), so it is the number of nodes the selection picked."""
    state = {"done": 0, "total": 0}
    lock = threading.Lock()

    def listener(event: Any) -> None:
        name = event.info.name
        data = event.data
        if name in {"LogStartLine", "LogModelResult"}:
            state["total"] = max(state["total"], int(getattr(data, "total", 0) or 0))
        elif name == "LogTestResult":
            state["total"] = max(state["total"], int(getattr(data, "num_models", 0) or 0))
        elif name == "NodeFinished":
            with lock:
                state["done"] += 1
                done, total = state["done"], max(state["total"], state["done"])
            status = str(data.run_result.status or "").lower()
            try:
                on_node(done, total, data.node_info.unique_id, status)
            except Exception as exc:  # a display must never break the build
                log.debug("dbt progress callback failed: %s", exc)

    return listener


def _common_args(
    settings: Settings, dbt_vars: Mapping[str, Any] | None, echo: bool | None
) -> list[str]:
    """The arguments every invocation on this home shares (project, profile, target, vars,
    logs); creates the target and warehouse folders."""
    project_dir = settings.dbt_project_dir
    target_dir = dbt_target_dir(settings)
    target_dir.mkdir(parents=True, exist_ok=True)
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    common = ["--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]
    common += ["--target-path", str(target_dir)]
    # Vars that follow settings come first, so the caller's own vars win.
    all_vars = {**settings.dbt_vars(), **(dbt_vars or {})}
    common += ["--vars", json.dumps(all_vars, default=str)]
    common += ["--log-path", str(settings.home_dir / "dbt" / "logs")]
    # dbt's per-node lines go to its log file always, to the console only when asked.
    if echo is None:
        echo = log.isEnabledFor(logging.INFO)
    common += ["--log-level", "info" if echo else "warn", "--log-level-file", "info"]
    return common


def parse_ahead(settings: Settings) -> bool:
    """Parse the project into this process's cache now, so the first build starts from it.

    For a command that will build and has time to spare first: `tastemaker run` calls it in a
    thread while Prefect's temporary API server starts (a separate process, 10-20 s), which
    otherwise leaves this process idle. A fresh home has no partial-parse state, so the full
    parse (8-14 s here) would else come inside the transform stage. Never raises: a parse that
    fails is left for the build itself to report, as it always did. True when parsed."""
    project_dir = settings.dbt_project_dir
    if not (project_dir / "dbt_project.yml").is_file():
        return False
    try:
        return _parsed_project(settings, _common_args(settings, None, echo=False)) is not None
    except Exception as exc:  # the build parses again and reports it
        log.debug("parsing the dbt project ahead failed: %s", exc)
        return False


def run_dbt(
    settings: Settings,
    command: str = "build",
    *,
    select: str | None = None,
    dbt_vars: Mapping[str, Any] | None = None,
    full_refresh: bool = False,
    extra_args: list[str] | None = None,
    on_node: NodeCallback | None = None,
    echo: bool | None = None,
) -> DbtSummary:
    """Invoke dbt in this process and summarise every node's result.

    Plain `dbtRunner`, not prefect-dbt's runner: that one makes every node a Prefect task and
    cost 8x a bare build here (617 nodes: 89 s against 11 s idle, 319 s against 74 s at load).
    The transform flow turns the summary into a table artifact and failed nodes into failed
    tasks instead. `on_node` sees each finished node (progress displays); `echo` lets dbt print
    its per-node lines on the console (they always go to `<home>/dbt/logs/dbt.log`); by default
    it does when this module logs at INFO (`tastemaker -v`), and stays quiet otherwise.

    Never raises on model or test failures: the caller gets them in the summary and decides.
    """
    from dbt.cli.main import dbtRunner

    project_dir = settings.dbt_project_dir
    if not (project_dir / "dbt_project.yml").is_file():
        raise FileNotFoundError(f"no dbt project at {project_dir} (dbt_project.yml missing)")
    target_dir = dbt_target_dir(settings)
    common = _common_args(settings, dbt_vars, echo)
    args = [command, *common]
    if select:
        args += ["--select", select]
    if full_refresh and command in {"build", "run", "seed"}:
        args.append("--full-refresh")
    args += list(extra_args or [])

    started = time.perf_counter()
    manifest = _parsed_project(settings, common) if command in _REUSES_PARSE else None
    runner = dbtRunner(manifest=manifest, callbacks=[_node_listener(on_node)] if on_node else [])
    try:
        with _env(settings.dbt_env()):
            result = runner.invoke(args)
    finally:
        release_duckdb()
    elapsed = time.perf_counter() - started
    if result.exception is not None and not getattr(result.result, "results", None):
        # dbt stopped before running any node (a compile or parse error, a bad var): no summary
        # to read, so the error itself is the message.
        raise DbtInvocationError(f"dbt {command} failed: {result.exception}") from None

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
