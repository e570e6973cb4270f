"""First-run benchmark: what a new user's first command costs, and dbt inside the flow vs bare.

1. `tastemaker run` on an empty home with a fresh PREFECT_HOME and no PREFECT_* / TASTEMAKER_*
   variables (as the README's first command runs it): wall time, peak memory of the process
   tree's largest process, lines printed (stdout + stderr), exit code.
2. On the warehouse that run built, alternately (so load drifts hit both alike):
   `tastemaker transform --json` (the transform flow: a full `dbt build` as one Prefect task,
   artifacts) and bare `dbt build` with the same profile, vars and project. Reported: the whole
   transform command (Python start, imports, Prefect's temporary API, the flow), the dbt task
   inside the flow (`elapsed_s`), and the bare command's wall time. Medians and ranges.

    uv run python bench/first_run.py                 # one first run, 3 transform/dbt pairs
    uv run python bench/first_run.py --pairs 5 --busy  # with both cores kept busy (`yes`)
    uv run python bench/first_run.py --pairs 0       # the first run alone (its stage times)
    uv run python bench/first_run.py --json

Prints a table; the figures go in docs/benchmarks.md with the load the machine had (`uptime`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def clean_env(home: Path, prefect_home: Path) -> dict[str, str]:
    """A new user's environment: no Prefect or Tastemaker variable, empty homes, and Python
    writing its .pyc (this machine's shell exports PYTHONDONTWRITEBYTECODE; a user's does not)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "TASTEMAKER_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(HOME=str(home), PREFECT_HOME=str(prefect_home), TERM="dumb")
    return env


def timed(args: list[str], env: dict[str, str], cwd: Path) -> dict:
    """Run `args`; wall seconds, exit code, output lines and the children's peak RSS (MB)."""
    started = time.perf_counter()
    proc = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    output = proc.stdout + proc.stderr
    return {
        "wall_s": round(wall, 1),
        "exit": proc.returncode,
        "lines": len(output.splitlines()),
        "peak_mb_so_far": round(peak_kb / 1024),
        "traceback": "Traceback" in output,
        "output": output,
        "stdout": proc.stdout,
    }


def busy(cores: int) -> list[subprocess.Popen]:
    return [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(cores)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=3, help="transform/dbt pairs to time")
    parser.add_argument("--busy", action="store_true", help="keep every core busy with `yes`")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--show-output", action="store_true", help="print the first run's output")
    args = parser.parse_args()

    load = busy(os.cpu_count() or 2) if args.busy else []
    try:
        with tempfile.TemporaryDirectory(prefix="tm-first-run-") as tmp:
            work = Path(tmp)
            (work / "user").mkdir()
            env = clean_env(work / "user", work / "user" / ".prefect")
            tm = [sys.executable, "-m", "flows.cli"]
            uptime_before = os.getloadavg()[0]
            first = timed([*tm, "--home", str(work / "home"), "run"], env, ROOT)
            if args.show_output:
                print(first["output"])
            if first["exit"] != 0:
                print(first["output"][-3000:], file=sys.stderr)
                raise SystemExit(f"first run failed with exit {first['exit']}")

            dbt_env = {
                **env,
                "TASTEMAKER_DUCKDB_PATH": str(work / "home" / "warehouse.duckdb"),
                "PREFECT_HOME": str(work / "user" / ".prefect"),
            }
            project = ROOT / "dbt_project"
            bare = [
                str(Path(sys.executable).parent / "dbt"),
                "build",
                "--project-dir",
                str(project),
                "--profiles-dir",
                str(project),
                "--target-path",
                str(work / "bare-target"),
                "--log-path",
                str(work / "bare-logs"),
                "--vars",
                json.dumps({"drift_window_days": 28}),
                "--quiet",
            ]
            flow_s, in_flow_dbt_s, bare_s = [], [], []
            for _ in range(args.pairs):
                run = timed([*tm, "--home", str(work / "home"), "transform", "--json"], env, ROOT)
                if run["exit"] != 0:
                    raise SystemExit(f"transform failed:\n{run['output'][-3000:]}")
                flow_s.append(run["wall_s"])
                in_flow_dbt_s.append(float(json.loads(run["stdout"])["elapsed_s"]))
                direct = timed(bare, dbt_env, ROOT)
                if direct["exit"] != 0:
                    raise SystemExit(f"bare dbt build failed:\n{direct['output'][-3000:]}")
                bare_s.append(direct["wall_s"])
            uptime_after = os.getloadavg()[0]
    finally:
        for proc in load:
            proc.kill()

    def spread(values: list[float]) -> str:
        if not values:
            return "not run (--pairs 0)"
        return f"{statistics.median(values):.1f} s ({min(values):.1f}–{max(values):.1f})"

    result = {
        "busy_cores": bool(load),
        "load_1min_before_after": [round(uptime_before, 1), round(uptime_after, 1)],
        "first_run_wall_s": first["wall_s"],
        "first_run_lines": first["lines"],
        "first_run_peak_mb": first["peak_mb_so_far"],
        "first_run_traceback": first["traceback"],
        "transform_command_s": flow_s,
        "dbt_task_in_flow_s": in_flow_dbt_s,
        "bare_dbt_build_s": bare_s,
        "ratio_median": (
            round(statistics.median(in_flow_dbt_s) / statistics.median(bare_s), 2)
            if bare_s
            else None
        ),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    rows = [
        ("first `tastemaker run`, empty home, fresh PREFECT_HOME", f"{first['wall_s']} s"),
        ("  lines printed (stdout + stderr)", str(first["lines"])),
        ("  peak memory (largest process)", f"{first['peak_mb_so_far']} MB"),
        ("  traceback printed", "yes" if first["traceback"] else "no"),
        (f"`tastemaker transform` command (full build), {args.pairs} runs", spread(flow_s)),
        ("  of which the dbt build task inside the flow", spread(in_flow_dbt_s)),
        (f"bare `dbt build` command, {args.pairs} runs", spread(bare_s)),
        (
            "dbt task in the flow / bare command (medians)",
            f"{result['ratio_median']}x" if bare_s else "not run (--pairs 0)",
        ),
        ("cores kept busy", "yes" if load else "no"),
        ("1-min load before, after", str(result["load_1min_before_after"])),
    ]
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
