"""How long `tastemaker recommend USER_ID` takes end to end, and what it imports.

    uv run python bench/recommend_cli.py --home H [--user u000001] [--runs 7]
    uv run python bench/recommend_cli.py --home H --code OTHER_CHECKOUT   # the same, other code
    uv run python bench/recommend_cli.py --home H --command churn        # or segments

`--command` measures another read-only command that should answer in about a second the same
way (`churn`, `segments`: the published audience tables).

Each run is a fresh process (`python -m flows.cli recommend USER`), as a person at a terminal
starts it; the table gives the median, min and max wall time over the runs and whether the
heavy libraries (Prefect, pandas, scikit-learn, SciPy) were imported. `--code` puts another
checkout first on the import path, so the same script measures the code before a change side
by side with this one. Bytecode is written (PYTHONDONTWRITEBYTECODE unset) and one warm-up run
is discarded, as on a user's machine after the first command. Timings depend on the load:
the table prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("prefect", "pandas", "sklearn", "scipy")
REPO = Path(__file__).resolve().parent.parent
#: Each command's arguments and a line of its output that says it read what it should.
COMMANDS = {
    "recommend": (["recommend", "{user}"], "Homepage for"),
    "churn": (["churn"], "churn risk on"),
    "segments": (["segments"], "segments by"),
}
PROBE = """
import runpy, sys
sys.argv = ["tastemaker", *{argv!r}]
try:
    runpy.run_module("flows.cli", run_name="__main__")
except SystemExit:
    pass
print("HEAVY=" + ",".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


def run_once(
    home: Path, user: str, code: Path | None, command: str = "recommend"
) -> tuple[float, str]:
    args, expected = COMMANDS[command]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["TASTEMAKER_HOME"] = str(home)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=[a.format(user=user) for a in args], heavy=HEAVY)],
        env=env,
        cwd=code or REPO,  # `python -c` puts the working folder first on the import path
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or expected not in proc.stdout:
        raise SystemExit(f"{command} failed:\n{proc.stdout}\n{proc.stderr}")
    heavy = next((ln[6:] for ln in proc.stderr.splitlines() if ln.startswith("HEAVY=")), "?")
    return elapsed, heavy or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="a home with ml.recommendations")
    parser.add_argument("--command", choices=sorted(COMMANDS), default="recommend")
    parser.add_argument("--user", default="u000001")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--code", type=Path, default=None, help="another checkout to measure")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    # warm-up: writes bytecode, fills the OS cache
    run_once(args.home, args.user, args.code, args.command)
    times, heavy = [], ""
    for _ in range(args.runs):
        elapsed, heavy = run_once(args.home, args.user, args.code, args.command)
        times.append(elapsed)
    row = {
        "command": args.command,
        "code": str(args.code or REPO),
        "runs": args.runs,
        "median_s": round(statistics.median(times), 2),
        "min_s": round(min(times), 2),
        "max_s": round(max(times), 2),
        "heavy_imports": heavy,
        "load_1min": round(os.getloadavg()[0], 1),
    }
    if args.json:
        print(json.dumps(row))
        return
    print(f"{'code':<40} {'runs':>4} {'median s':>9} {'min s':>6} {'max s':>6}  heavy imports")
    print(
        f"{row['code'][-40:]:<40} {row['runs']:>4} {row['median_s']:>9} {row['min_s']:>6} "
        f"{row['max_s']:>6}  {row['heavy_imports']}"
    )
    print(f"command: {row['command']}; load average (1 min) at the end: {row['load_1min']}")


if __name__ == "__main__":
    main()
