"""The future-dated-row case (issue 18): what one view dated 2500-01-01 does to a build.

Lands the default world twice, clean and with ONE extra view dated 2500-01-01 (a real user
and title), ingests each with the code of the tree this runs from, then runs `dbt build` in a
child process watched for time and resident memory (killed past --max-rss-gb or --max-s, so
the old behaviour cannot take the machine down). Prints a table: rows quarantined,
snapshot_date, churn_training_set rows, ingest and build seconds, peak RSS of the build.

    uv run python bench/time_trust.py                         # this tree
    uv run python bench/time_trust.py --world /tmp/w/landing  # an already generated world
    # the code before the fix, from an export of main (its own venv), same script:
    (cd /tmp/main && .venv/bin/python /path/to/bench/time_trust.py --cases future)

Timings are noisy on a shared 2-core machine: the table prints the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FUTURE_VIEW = {
    "event_id": "future-1",
    "user_id": "u000001",
    "title_id": "t00001",
    "device": "tv",
    "started_at": "2500-01-01T20:00:00Z",
    "watch_seconds": 1800,
    "duration_seconds": 3000,
}
BUILD = (
    "from warehouse.settings import Settings; from warehouse.dbtrun import run_dbt; "
    "r = run_dbt(Settings(), 'build'); print('DBT', r.success, len(r.failures))"
)


def _tree_rss(group: int) -> int:
    """Resident bytes of every process in the process group `group`."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) != group:
                continue
            with open(f"/proc/{entry}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            continue
    return total


def _watched_build(env: dict[str, str], max_rss_gb: float, max_s: float) -> dict[str, Any]:
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", BUILD],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    peak, killed = 0, None
    while child.poll() is None:
        peak = max(peak, _tree_rss(child.pid))
        elapsed = time.perf_counter() - started
        if peak > max_rss_gb * 2**30 or elapsed > max_s:
            killed = f"killed at {elapsed:.0f} s, {peak / 2**30:.1f} GB"
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            break
        time.sleep(0.5)
    out = child.stdout.read() if child.stdout else ""
    ok = any(line.startswith("DBT True 0") for line in out.splitlines())
    return {
        "build_s": round(time.perf_counter() - started, 1),
        "peak_rss_gb": round(peak / 2**30, 2),
        "build": killed or ("ok" if ok else "failed"),
    }


def run_case(world: Path, home: Path, future: bool, max_rss_gb: float, max_s: float) -> dict:
    """Land, ingest and build one case; return its figures."""
    import duckdb

    from warehouse.ingest import ingest_path
    from warehouse.settings import Settings

    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(world, home / "landing")
    if future:
        (home / "landing" / "views" / "zz-future.jsonl").write_text(json.dumps(FUTURE_VIEW) + "\n")
    settings = Settings(home=home)
    started = time.perf_counter()
    ingest_path(settings.warehouse_path, settings.landing_path)
    row: dict[str, Any] = {"case": "one view in 2500" if future else "clean"}
    row["ingest_s"] = round(time.perf_counter() - started, 1)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        row["quarantined"] = con.execute("select count(*) from raw.quarantine").fetchone()[0]
    env = {**os.environ, "TASTEMAKER_HOME": str(home)}
    row.update(_watched_build(env, max_rss_gb, max_s))
    if row["build"] == "ok":
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            snapshot = "select snapshot_date from intermediate.int_snapshot_date"
            row["snapshot_date"] = str(con.execute(snapshot).fetchone()[0])
            row["churn_training_set"] = con.execute(
                "select count(*) from churn_training_set"
            ).fetchone()[0]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, help="landing folder of a generated default world")
    parser.add_argument("--cases", default="clean,future", help="clean, future or both")
    parser.add_argument("--max-rss-gb", type=float, default=6.0)
    parser.add_argument("--max-s", type=float, default=900.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="time-trust-") as tmp:
        world = args.world
        if world is None:
            from ml.world import WorldConfig, generate_world

            generate_world(WorldConfig(), out=Path(tmp) / "world", progress=False)
            world = Path(tmp) / "world" / "landing"
        rows = [
            run_case(world, Path(tmp) / case, case == "future", args.max_rss_gb, args.max_s)
            for case in args.cases.split(",")
        ]
    load = os.getloadavg()
    if args.json:
        print(json.dumps({"rows": rows, "load": load}))
        return
    cols = ["case", "quarantined", "snapshot_date", "churn_training_set", "ingest_s", "build_s",
            "peak_rss_gb", "build"]  # fmt: skip
    print(" | ".join(cols))
    for row in rows:
        print(" | ".join(str(row.get(c, "-")) for c in cols))
    print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
