"""Helpers to query the dbt project's warehouse in tests, and to run dbt's own CLI where the
platform's runner cannot stand in (importable as `dbtkit` from tests/dbt).

Builds go through the platform's runner, `warehouse.dbtrun.run_dbt`, in this process: it parses
the project once per process and releases dbt-duckdb's handle after each invocation. `run_dbt`
here runs dbt's CLI in a fresh process for the two things that runner does not do: a profile with
no warehouse path (the runner always sets one) and `dbt docs generate`. Results are read from the
invocation's `run_results.json`, and the warehouse through a fresh read-only DuckDB connection.

Not named `dbt_*`: dbt imports every top-level `dbt_*` module on sys.path looking for plugins.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from warehouse.db import CORE_MARTS

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"

#: The marts Python reads (all in the target schema `main`): the platform's core marts (one list,
#: warehouse.db.CORE_MARTS) and the experiment marts.
MARTS = (
    *CORE_MARTS,
    "experiment_user_exposures",
    "experiment_variant_metrics",
    "experiment_user_metrics",
    "experiment_user_daily_metrics",
)

LEAKAGE_TEST = "test.tastemaker.assert_churn_features_before_snapshot"

_OK = {"success", "pass"}


@dataclass(frozen=True)
class DbtRun:
    """One dbt invocation: exit code, per-node statuses and the captured output."""

    args: tuple[str, ...]
    returncode: int
    seconds: float
    statuses: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str | None] = field(default_factory=dict)
    output: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and all(s in _OK for s in self.statuses.values())

    @property
    def failures(self) -> dict[str, str]:
        """unique_id -> status of every node that did not pass (errors, failures, skips)."""
        return {uid: s for uid, s in self.statuses.items() if s not in _OK}

    def status(self, unique_id: str) -> str | None:
        return self.statuses.get(unique_id)

    def explain(self) -> str:
        """A short failure report for assertion messages."""
        lines = [f"dbt {' '.join(self.args)} -> exit {self.returncode}"]
        lines += [f"  {uid}: {s}: {self.messages.get(uid)}" for uid, s in self.failures.items()]
        return "\n".join(lines[:40]) + "\n--- output tail ---\n" + self.output[-3000:]


def copy_project(dst: Path, src: Path = DBT_PROJECT_DIR) -> Path:
    """Copy the dbt project (without target/, logs/, dbt_packages/) to `dst`; returns the copy."""
    shutil.copytree(
        src, dst, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", "*.duckdb")
    )
    return dst


def run_dbt(
    args: Sequence[str],
    *,
    db_path: Path | None,
    work_dir: Path,
    project_dir: Path = DBT_PROJECT_DIR,
    dbt_vars: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> DbtRun:
    """Run `dbt <args>` on `project_dir` against `db_path` in a fresh process.

    target/ and logs/ go under `work_dir`, so parallel or repeated runs never share state and the
    checkout stays clean. `db_path=None` leaves TASTEMAKER_DUCKDB_PATH unset (to test the profile).
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    target_dir = work_dir / "target"
    cmd = [
        sys.executable,
        "-c",
        "import sys; from dbt.cli.main import cli; sys.exit(cli())",
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        str(target_dir),
        "--log-path",
        str(work_dir / "logs"),
    ]
    if dbt_vars:
        cmd += ["--vars", json.dumps(dict(dbt_vars), default=str)]
    child_env = {k: v for k, v in os.environ.items() if k != "TASTEMAKER_DUCKDB_PATH"}
    child_env.update({"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_USE_COLORS": "false"})
    if db_path is not None:
        child_env["TASTEMAKER_DUCKDB_PATH"] = str(db_path)
    child_env.update(env or {})
    started = time.perf_counter()
    proc = subprocess.run(
        cmd,
        cwd=work_dir,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    seconds = time.perf_counter() - started
    statuses: dict[str, str] = {}
    messages: dict[str, str | None] = {}
    results_file = target_dir / "run_results.json"
    if results_file.is_file():
        for item in json.loads(results_file.read_text())["results"]:
            statuses[item["unique_id"]] = str(item["status"]).lower()
            messages[item["unique_id"]] = item.get("message")
    return DbtRun(
        args=tuple(args),
        returncode=proc.returncode,
        seconds=round(seconds, 2),
        statuses=statuses,
        messages=messages,
        output=proc.stdout + proc.stderr,
    )


def query(db_path: Path, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
    """Rows of `sql` through a fresh read-only connection (dbt must have exited)."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def scalar(db_path: Path, sql: str, params: Sequence[Any] | None = None) -> Any:
    """The single value of `sql`."""
    return query(db_path, sql, params)[0][0]
