"""The platform flow end to end on a real Prefect API: generate → ingest → dbt build → marts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest

from flows.params import WorldParams
from ml.vocabulary import DEVICES
from tests import background
from warehouse.db import CORE_MARTS

pytestmark = [pytest.mark.slow]

TINY = WorldParams(users=300, titles=120, days=120, seed=11)


FIRST_RUN = "platform-first-run"


def _launch_first_run() -> background.BackgroundRun:
    """`tastemaker run --json` as a user runs it on an empty home: a fresh process with its own
    temporary Prefect API on a fresh PREFECT_HOME, as on a user's first run. The suite's one
    end-to-end platform run; the tests below read it."""
    work = Path(tempfile.mkdtemp(prefix="tastemaker-platform-"))
    env = {
        **os.environ,
        "TASTEMAKER_HOME": str(work / "home"),
        "PREFECT_HOME": str(work / "prefect"),
    }
    world = [f"--{k}={v}" for k, v in TINY.model_dump().items() if k != "drift"]
    return background.launch(
        FIRST_RUN,
        [sys.executable, "-m", "flows.cli", "run", "--json", *world],
        env=env,
        work=work / "process",
    )


def start_early(items: list[pytest.Item]) -> None:
    """Called by tests/conftest.py when collection ends: the run starts then and goes on beside
    the rest of the suite (tests/background.py), when a selected test here reads it."""
    if any("first_run" in getattr(item, "fixturenames", ()) for item in items):
        _launch_first_run()


@pytest.fixture(scope="module")
def platform_run() -> background.BackgroundRun:
    return background.get(FIRST_RUN) or _launch_first_run()


@pytest.fixture(scope="module")
def platform_home(platform_run: background.BackgroundRun) -> Path:
    return Path(platform_run.env["TASTEMAKER_HOME"])


@pytest.fixture(scope="module")
def first_run(platform_run: background.BackgroundRun) -> dict:
    """The finished `tastemaker run --json` (started when the session began, or now)."""
    proc = platform_run.wait(timeout_s=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {**json.loads(proc.stdout), "stderr": proc.stderr}


def test_the_cli_run_is_one_json_object_and_no_traceback(first_run: dict) -> None:
    assert {"home", "ingest", "dbt", "marts", "stages", "duration_s"} <= set(first_run)
    assert "Traceback" not in _without_prefect_server_records(first_run["stderr"])


def test_first_run_generates_ingests_and_builds(first_run: dict, platform_home: Path) -> None:
    assert first_run["home"] == str(platform_home.resolve())
    assert first_run["generated_world"] is not None
    tables = first_run["ingest"]["tables"]
    assert tables["views"]["loaded"] > 1000
    assert all(t["quarantined"] == 0 for t in tables.values())
    assert first_run["ingest"]["rejected"] == []
    assert first_run["dbt"]["failed"] == 0
    assert first_run["dbt"]["passed"] > 20
    assert first_run["dbt"]["manifest_sha256"]
    assert set(first_run["marts"]) == set(CORE_MARTS)
    assert all(count > 0 for count in first_run["marts"].values())
    assert first_run["marts"]["user_features"] == TINY.users
    assert (platform_home / "truth").is_dir()


def test_first_run_trains_publishes_and_monitors(first_run: dict, platform_home: Path) -> None:
    """Every stage after dbt ran, and what it published carries this run's lineage."""
    assert {name: info["status"] for name, info in first_run["stages"].items()} == {
        "recommend": "completed",
        "audience": "completed",
        "monitor": "completed",
    }
    con = duckdb.connect(str(platform_home / "warehouse.duckdb"))
    try:
        published = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'ml'"
            ).fetchall()
        }
        assert {"recommendations", "user_segments", "segment_profiles", "churn_scores"} <= published
        for table in ("recommendations", "user_segments", "churn_scores"):
            runs, versions, manifests = con.execute(
                f"select count(distinct run_id), count(distinct model_version), "
                f"count(distinct dbt_manifest_sha256) from ml.{table}"
            ).fetchone()
            assert (runs, manifests) == (1, 1), table
            assert versions >= 1, table
            manifest = con.execute(
                f"select any_value(dbt_manifest_sha256) from ml.{table}"
            ).fetchone()
            assert manifest[0] == first_run["dbt"]["manifest_sha256"], table
    finally:
        con.close()
    assert (platform_home / "reports").is_dir()
    assert any((platform_home / "artifacts").iterdir())


def test_idle_refresh_skips_the_build_and_new_data_does_not(
    first_run: dict, platform_home: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: None
) -> None:
    """A second pass over the same landing loads nothing and changes no mart, and the 15-minute
    refresh builds only when something landed (warehouse.buildstate)."""
    from flows.platform import refresh_flow

    monkeypatch.setenv("TASTEMAKER_HOME", str(platform_home))
    idle = refresh_flow()
    assert all(t["loaded"] == 0 for t in idle["ingest"]["tables"].values())
    assert "dbt build skipped" in idle["dbt"]["build_skipped"], idle["dbt"]
    # the record names the manifest the marts on disk were built with (every build writes a new
    # one: dbt stamps it with the invocation)
    from warehouse.dbtrun import dbt_target_dir, manifest_sha256
    from warehouse.settings import Settings

    on_disk = manifest_sha256(dbt_target_dir(Settings(home=platform_home)))
    assert idle["dbt"]["manifest_sha256"] == on_disk
    assert idle["marts"] == first_run["marts"]

    # one more view lands: the next refresh must build (checked on the fingerprint, which is
    # what the refresh consults under the lock, to spare the suite another dbt build)
    from flows.ingest import ingest_flow
    from warehouse.buildstate import unchanged_since_last_build

    first_file = sorted((platform_home / "landing" / "views").glob("*.jsonl"))[0]
    row = json.loads(first_file.read_text().splitlines()[0])
    row["event_id"] = "v9999999999"
    # the same moment on another device: a second session on the same device at the same time
    # would be quarantined as an overlap (ingest's time rules)
    row["device"] = next(d for d in DEVICES if d != row["device"])
    (platform_home / "landing" / "views" / "late-arrival.jsonl").write_text(json.dumps(row) + "\n")
    settings = Settings(home=platform_home)
    dbt_vars = settings.dbt_vars()  # what the refresh's transform passes
    assert unchanged_since_last_build(settings, dbt_vars) is not None
    assert ingest_flow()["tables"]["views"]["loaded"] == 1
    assert unchanged_since_last_build(settings, dbt_vars) is None


def test_warehouse_is_released_for_other_processes(first_run: dict, platform_home: Path) -> None:
    """After the flow, another process can open the file for writing (dbt let go of it)."""
    db = platform_home / "warehouse.duckdb"
    code = f"import duckdb; c = duckdb.connect({str(db)!r}); c.execute('select 1'); c.close()"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    con = duckdb.connect(str(db))
    try:
        assert con.execute("select count(*) from raw.views").fetchone()[0] > 0
    finally:
        con.close()


def _without_prefect_server_records(stderr: str) -> str:
    """stderr minus log records of Prefect's temporary server.

    When the process exits, Prefect stops its temporary API server; now and then the server's
    task-run recorder is cancelled mid-flush and logs a traceback of its own (the run itself has
    succeeded: exit code and JSON are checked above). Everything else must be traceback-free.
    """
    kept, skipping = [], False
    for line in stderr.splitlines():
        if re.match(r"^\d{2}:\d{2}:\d{2}\.\d+ \| |^\d{4}-\d{2}-\d{2} ", line):
            skipping = "prefect.server" in line
        if not skipping:
            kept.append(line)
    return "\n".join(kept)
