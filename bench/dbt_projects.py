"""Versions of the dbt project side by side on one raw warehouse: nodes, build time, mart values.

Why: a refactor of the dbt project (macros into models, tests into contracts) must keep every
mart row for row and should say what it costs. This builds each version with a bare `dbt build`
(the project's profile, a fresh copy of the same raw warehouse per run, runs alternating between
versions so load affects both alike), reports the median time, and compares every mart of each
later version with the first one using EXCEPT ALL both ways.

Floating-point sums (avg, sum of doubles) depend on the order DuckDB's parallel aggregation meets
the rows, so a rebuild of the *same* project can differ in the last bits of a double. A mart
therefore counts as equal when every row matches exactly or differs only in double columns by at
most `--rel-tol` (relative); the script also compares two builds of the first version with each
other, to show that noise floor.

    uv run python bench/dbt_projects.py                  # main vs this checkout, default world
    uv run python bench/dbt_projects.py main HEAD~3 .    # any git refs; `.` = the working tree
    uv run python bench/dbt_projects.py --runs 5 --json

Prints a table; results go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb

REPO = Path(__file__).resolve().parents[1]


def export_project(ref: str, dest: Path) -> Path:
    """The dbt project at git `ref` (or the working tree for `.`) copied into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    if ref == ".":
        shutil.copytree(
            REPO / "dbt_project",
            dest / "dbt_project",
            ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", "*.duckdb"),
        )
    else:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", ref, "dbt_project"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "dbt_project"


def raw_warehouse(out: Path, users: int, titles: int, days: int, seed: int) -> Path:
    """Generate a world and ingest it: a warehouse with `raw.*` only."""
    from ml.world import WorldConfig, generate_world
    from warehouse.ingest import ingest_path

    generate_world(
        WorldConfig(users=users, titles=titles, days=days, seed=seed), out=out, progress=False
    )
    db_path = out / "warehouse.duckdb"  # not raw.duckdb: the catalog name would shadow schema raw
    report = ingest_path(db_path, out / "landing").to_dict()
    if report["rejected"]:
        raise SystemExit(f"the generated world did not ingest cleanly: {report['rejected']}")
    return db_path


def dbt_build(project: Path, raw_db: Path, work: Path) -> dict[str, Any]:
    """One bare `dbt build` of `project` on a fresh copy of `raw_db`, in its own process."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    db_path = work / "warehouse.duckdb"
    shutil.copyfile(raw_db, db_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env.update(
        TASTEMAKER_DUCKDB_PATH=str(db_path),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_USE_COLORS="false",
    )
    cmd = [
        sys.executable,
        "-c",
        "import sys; from dbt.cli.main import cli; sys.exit(cli())",
        "build",
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
    ]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(
            f"dbt build of {project} failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"
        )
    results = json.loads((work / "target" / "run_results.json").read_text())
    return {
        "wall_s": wall,
        "dbt_s": results["elapsed_time"],
        "db": db_path,
        "target": work / "target",
    }


def node_counts(target: Path) -> dict[str, int]:
    """Nodes of the manifest by kind (ephemeral models apart: they compile into their readers)."""
    manifest = json.loads((target / "manifest.json").read_text())
    kinds: Counter[str] = Counter()
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model":
            kinds[f"model ({node['config']['materialized']})"] += 1
        elif node["resource_type"] == "test":
            name = (node.get("test_metadata") or {}).get("name", "singular")
            kinds["data test: not_null" if name == "not_null" else "data test: other"] += 1
        else:
            kinds[node["resource_type"]] += 1
    kinds["unit test"] = len(manifest.get("unit_tests", {}))
    kinds["total"] = sum(kinds.values())
    results = json.loads((target / "run_results.json").read_text())
    kinds["executed by dbt build"] = len(results["results"])
    return dict(kinds)


def compare_marts(before: Path, after: Path, rel_tol: float) -> list[dict[str, Any]]:
    """Every table of `before`'s target schema against `after`'s: types, then rows (EXCEPT ALL)."""
    con = duckdb.connect()
    con.execute(f"attach '{before}' as b (read_only)")
    con.execute(f"attach '{after}' as a (read_only)")
    tables = [
        r[0]
        for r in con.execute(
            "select table_name from duckdb_tables() "
            "where database_name = 'b' and schema_name = 'main' order by 1"
        ).fetchall()
    ]
    out = []
    for table in tables:

        def columns(db: str, table: str = table) -> list[tuple[str, str]]:
            return con.execute(
                "select column_name, data_type from duckdb_columns() where database_name = ? "
                "and schema_name = 'main' and table_name = ? order by column_index",
                [db, table],
            ).fetchall()

        cols_b, cols_a = columns("b"), columns("a")
        row: dict[str, Any] = {"mart": table, "same_columns": cols_b == cols_a}
        row["rows"] = con.execute(f"select count(*) from b.main.{table}").fetchone()[0]
        row["rows_after"] = con.execute(f"select count(*) from a.main.{table}").fetchone()[0]
        if cols_b != cols_a:
            out.append({**row, "equal": False})
            continue
        con.execute(
            f"create or replace temp table only_b as "
            f"select * from b.main.{table} except all select * from a.main.{table}"
        )
        con.execute(
            f"create or replace temp table only_a as "
            f"select * from a.main.{table} except all select * from b.main.{table}"
        )
        n_b = con.execute("select count(*) from only_b").fetchone()[0]
        n_a = con.execute("select count(*) from only_a").fetchone()[0]
        doubles = [c for c, t in cols_b if t == "DOUBLE"]
        others = [c for c, t in cols_b if t != "DOUBLE"]
        max_rel, unmatched = 0.0, n_b + n_a
        if n_b and n_a == n_b and doubles:
            on = " and ".join(f'x."{c}" is not distinct from y."{c}"' for c in others) or "true"
            rel = " , ".join(
                f'coalesce(abs(x."{c}" - y."{c}") / greatest(abs(x."{c}"), abs(y."{c}"), 1e-300), '
                f'case when x."{c}" is not distinct from y."{c}" then 0 else 1e300 end)'
                for c in doubles
            )
            pairs, max_rel = con.execute(
                f"select count(*), max(greatest({rel})) from only_b x join only_a y on {on}"
            ).fetchone()
            unmatched = 2 * (n_b - pairs) if pairs <= n_b else n_b + n_a
            max_rel = max_rel or 0.0
        row.update(
            rows_only_before=n_b,
            rows_only_after=n_a,
            unmatched=unmatched,
            max_rel_diff=max_rel,
            equal=unmatched == 0 and max_rel <= rel_tol,
        )
        out.append(row)
    con.close()
    return out


def print_report(report: dict[str, Any], refs: list[str]) -> None:
    """The report as Markdown tables (nodes and times per version, then each comparison)."""
    versions = report["versions"]
    load = report["load_1min_before_after"]
    print(f"world {report['world']}, {report['runs']} alternating runs, 1-min load {load}")
    kinds = sorted({k for v in versions.values() for k in v["nodes"]})
    print(f"\n| nodes | {' | '.join(refs)} |\n|---|{'---:|' * len(refs)}")
    for kind in kinds:
        print(f"| {kind} | {' | '.join(str(versions[r]['nodes'].get(kind, 0)) for r in refs)} |")
    for key in ("dbt_s", "wall_s"):
        cells = [
            f"{versions[r]['median_' + key]} ({', '.join(map(str, versions[r][key]))})"
            for r in refs
        ]
        print(f"| {key} median (runs) | {' | '.join(cells)} |")
    header = (
        "| mart | rows | columns | only before | only after | unmatched | max rel diff | equal |"
    )
    for name, rows in report["comparisons"].items():
        print(f"\n{name}\n{header}\n|---|---:|---|---:|---:|---:|---:|---|")
        for r in rows:
            print(
                f"| {r['mart']} | {r['rows']} | {'same' if r['same_columns'] else 'DIFFER'} | "
                f"{r.get('rows_only_before', '-')} | {r.get('rows_only_after', '-')} | "
                f"{r.get('unmatched', '-')} | {r.get('max_rel_diff', 0):.1e} | {r['equal']} |"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "refs", nargs="*", default=["main", "."], help="git refs; `.` = working tree"
    )
    parser.add_argument("--runs", type=int, default=3, help="builds per version (alternating)")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--titles", type=int, default=400)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rel-tol", type=float, default=1e-12)
    parser.add_argument("--keep", type=Path, help="keep the builds here instead of a temp folder")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if len(args.refs) < 1 or args.runs < 1:
        parser.error("need at least one ref and one run")

    root = args.keep or Path(tempfile.mkdtemp(prefix="tm-dbt-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        raw = raw_warehouse(root / "world", args.users, args.titles, args.days, args.seed)
        projects = {
            ref: export_project(ref, root / f"project-{i}") for i, ref in enumerate(args.refs)
        }
        load_before = os.getloadavg()
        builds: dict[str, list[dict[str, Any]]] = {ref: [] for ref in args.refs}
        for run in range(args.runs):
            for i, ref in enumerate(args.refs):
                builds[ref].append(dbt_build(projects[ref], raw, root / f"build-{i}-{run}"))
        load_after = os.getloadavg()

        first = args.refs[0]
        report: dict[str, Any] = {
            "world": {
                "users": args.users,
                "titles": args.titles,
                "days": args.days,
                "seed": args.seed,
            },
            "runs": args.runs,
            "load_1min_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
            "versions": {},
            "comparisons": {},
        }
        for ref in args.refs:
            runs = builds[ref]
            report["versions"][ref] = {
                "nodes": node_counts(runs[0]["target"]),
                "dbt_s": [round(r["dbt_s"], 1) for r in runs],
                "wall_s": [round(r["wall_s"], 1) for r in runs],
                "median_dbt_s": round(statistics.median(r["dbt_s"] for r in runs), 1),
                "median_wall_s": round(statistics.median(r["wall_s"] for r in runs), 1),
            }
        if args.runs > 1:
            report["comparisons"][f"{first} run 1 vs run 2"] = compare_marts(
                builds[first][0]["db"], builds[first][1]["db"], args.rel_tol
            )
        for ref in args.refs[1:]:
            report["comparisons"][f"{first} vs {ref}"] = compare_marts(
                builds[first][0]["db"], builds[ref][0]["db"], args.rel_tol
            )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_report(report, args.refs)
    equal = all(r["equal"] for rows in report["comparisons"].values() for r in rows)
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
