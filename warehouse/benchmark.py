"""Ingest throughput against DuckDB's own ``read_json`` on the same files.

Run: ``uv run python -m warehouse.benchmark --rows 1000000`` (``--json`` for machine output).

Writes a landing folder of views (30k lines a file, like one busy day each) plus the users and
titles they reference, then times, on fresh warehouses in the same process:

* ``ingest_path`` on the views folder (users and titles loaded beforehand, not timed);
* ``read_json`` of all view files in one statement into a table: DuckDB's raw parsing speed,
  with no validation, no line numbers, no per-file transactions;
* ``read_json`` file by file into a table with the same primary key, one transaction a file:
  the same write pattern ingest has, without the validation.

The machine may be shared, so the three are run in turns, ``--runs`` times, and the best run of
each is reported.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from ml.vocabulary import DEVICES
from warehouse.ingest import ingest_path

ROWS_PER_FILE = 30_000


def write_landing(root: Path, rows: int, *, users: int = 20_000, titles: int = 3_000) -> int:
    """Write titles, users and ``rows`` valid views (JSON Lines) under ``root``; return files."""
    rng = random.Random(0)
    (root / "titles").mkdir(parents=True)
    (root / "users").mkdir()
    (root / "views").mkdir()
    (root / "titles" / "titles.csv").write_text(
        "title_id,title,kind\n" + "".join(f"t{i:05d},Title {i},movie\n" for i in range(titles))
    )
    (root / "users" / "users.csv").write_text(
        "user_id,signup_date,country,plan,age_band\n"
        + "".join(f"u{i:06d},2025-01-01,US,basic,25-34\n" for i in range(users))
    )
    devices = DEVICES
    offsets = ("-05:00", "+00:00", "+05:30", "+09:00", "Z")
    event, files = 0, 0
    while event < rows:
        n = min(ROWS_PER_FILE, rows - event)
        day = 1 + files % 28
        lines = []
        for _ in range(n):
            event += 1
            duration = rng.randrange(600, 7200)
            lines.append(
                f'{{"event_id":"v{event:010d}","user_id":"u{rng.randrange(users):06d}",'
                f'"title_id":"t{rng.randrange(titles):05d}","device":"{rng.choice(devices)}",'
                f'"started_at":"2026-03-{day:02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}'
                f':{rng.randrange(60):02d}{rng.choice(offsets)}",'
                f'"watch_seconds":{rng.randrange(duration)},"duration_seconds":{duration}}}'
            )
        files += 1
        (root / "views" / f"day-{files:04d}.jsonl").write_text("\n".join(lines) + "\n")
    return files


def _best(runs: int, fn: Any) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def run(rows: int, runs: int = 3, work: Path | None = None) -> dict[str, Any]:
    """Time ingest and the two read_json baselines on ``rows`` views; rows/s for each."""
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        root = Path(tmp)
        landing = root / "landing"
        files = write_landing(landing, rows)
        view_files = sorted(str(p) for p in (landing / "views").glob("*.jsonl"))
        counter = iter(range(10**6))

        def fresh_db() -> Path:
            return root / f"w{next(counter)}.duckdb"

        def ingest() -> None:
            db = fresh_db()
            ingest_path(db, landing / "titles")
            ingest_path(db, landing / "users")
            started = time.perf_counter()
            report = ingest_path(db, landing / "views")
            timings.append(time.perf_counter() - started)
            assert report.ok and report.tables["views"].loaded == rows, report.to_dict()

        def read_json_all() -> None:
            con = duckdb.connect(str(fresh_db()))
            con.execute(
                "create table views as select * from read_json(?, format='newline_delimited')",
                [view_files],
            )
            con.close()

        def read_json_per_file() -> None:
            con = duckdb.connect(str(fresh_db()))
            con.execute(
                "create table views (event_id varchar primary key, user_id varchar, "
                "title_id varchar, device varchar, started_at timestamptz, watch_seconds "
                "integer, duration_seconds integer)"
            )
            for f in view_files:
                con.execute("begin")
                con.execute(
                    "insert into views select * from read_json(?, format='newline_delimited')",
                    [f],
                )
                con.execute("commit")
            con.close()

        timings: list[float] = []
        others: dict[str, list[float]] = {
            "read_json (one statement)": [],
            "read_json per file + PK + commit": [],
        }
        for _ in range(runs):  # interleaved, so a busy moment on a shared machine hits all three
            ingest()
            for name, fn in zip(others, (read_json_all, read_json_per_file), strict=True):
                others[name].append(_best(1, fn))
        results = {"ingest_path": min(timings), **{k: min(v) for k, v in others.items()}}
    return {
        "rows": rows,
        "files": files,
        "seconds": {k: round(v, 3) for k, v in results.items()},
        "rows_per_second": {k: round(rows / v) for k, v in results.items()},
    }


def main() -> None:
    """Print the throughput table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.rows, args.runs)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['rows']:,} views in {result['files']} files (best of {args.runs})")
    print(f"{'method':<36}{'seconds':>10}{'rows/s':>14}")
    for name, seconds in result["seconds"].items():
        print(f"{name:<36}{seconds:>10.2f}{result['rows_per_second'][name]:>14,}")


if __name__ == "__main__":
    main()
