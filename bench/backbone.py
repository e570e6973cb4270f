"""Backbone benchmark: ingest throughput against DuckDB's own reader, and dbt build time.

For each world size: generate the world, time DuckDB reading the same landing files directly
(`read_json` / `read_csv`: the practical ceiling for any loader), time `ingest_path` (which also
validates, quarantines, deduplicates and records lineage), then time `dbt build`.

    uv run python bench/backbone.py                      # the three sizes (≈100k, 1M, 5M views)
    uv run python bench/backbone.py --sizes small        # one size
    uv run python bench/backbone.py --json               # machine-readable

Prints a table; results go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

# users, titles, days: chosen to give about 100k, 1M and 5M views with the default world model.
SIZES: dict[str, tuple[int, int, int]] = {
    "small": (760, 400, 180),
    "medium": (7_600, 1_000, 180),
    "large": (38_000, 2_000, 180),
}


def duckdb_direct_read(landing: Path) -> tuple[int, float]:
    """Rows and seconds for DuckDB to read every landing file into a table (no validation)."""
    con = duckdb.connect()
    started = time.perf_counter()
    rows = 0
    for entity in sorted(p for p in landing.iterdir() if p.is_dir()):
        jsonl = list(entity.glob("*.jsonl"))
        csv = list(entity.glob("*.csv"))
        if jsonl:
            con.execute(
                f"create table {entity.name} as "
                "select * from read_json(?, format='newline_delimited')",
                [[str(p) for p in jsonl]],
            )
        elif csv:
            con.execute(
                f"create table {entity.name} as select * from read_csv(?, header=true)",
                [[str(p) for p in csv]],
            )
        else:
            continue
        rows += con.execute(f"select count(*) from {entity.name}").fetchone()[0]
    elapsed = time.perf_counter() - started
    con.close()
    return rows, elapsed


def run_size(name: str, users: int, titles: int, days: int, workdir: Path) -> dict:
    from ml.world import WorldConfig, generate_world
    from warehouse.dbtrun import run_dbt
    from warehouse.ingest import ingest_path
    from warehouse.settings import Settings

    home = workdir / name
    if home.exists():
        shutil.rmtree(home)
    started = time.perf_counter()
    summary = generate_world(
        WorldConfig(users=users, titles=titles, days=days, seed=1), out=home, progress=False
    )
    gen_s = time.perf_counter() - started
    landing = home / "landing"

    direct_rows, direct_s = duckdb_direct_read(landing)

    db = home / "warehouse.duckdb"
    started = time.perf_counter()
    report = ingest_path(db, landing)
    ingest_s = time.perf_counter() - started
    loaded = sum(t.loaded for t in report.tables.values())

    settings = Settings(home=home)
    dbt = run_dbt(settings, "build")
    return {
        "size": name,
        "users": users,
        "views": summary.rows.get("views", 0),
        "rows_all_tables": direct_rows,
        "generate_s": round(gen_s, 1),
        "duckdb_read_s": round(direct_s, 2),
        "duckdb_rows_per_s": round(direct_rows / direct_s),
        "ingest_s": round(ingest_s, 2),
        "ingest_rows_per_s": round(loaded / ingest_s),
        "ingest_vs_ceiling": round(direct_s / ingest_s, 3),
        "dbt_build_s": dbt.elapsed_s,
        "dbt_failed": dbt.failed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    parser.add_argument("--workdir", type=Path, default=None, help="Keep worlds here.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tastemaker-bench-"))
    results = []
    for name in args.sizes:
        users, titles, days = SIZES[name]
        print(f"[{name}] users={users} titles={titles} days={days} ...", file=sys.stderr)
        results.append(run_size(name, users, titles, days, workdir))
        if args.workdir is None:
            shutil.rmtree(workdir / name, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    columns = list(results[0])
    widths = [
        max(len(c), *(len(f"{r[c]:,}" if isinstance(r[c], int) else str(r[c])) for r in results))
        for c in columns
    ]
    print(" | ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    print("-|-".join("-" * w for w in widths))
    for r in results:
        cells = [f"{r[c]:,}" if isinstance(r[c], int) else str(r[c]) for c in columns]
        print(" | ".join(v.rjust(w) for v, w in zip(cells, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
