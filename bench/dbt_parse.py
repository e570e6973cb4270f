"""What parsing the dbt project once per process saves (warehouse.dbtrun._parsed_project).

Each row is one dbt invocation through the platform's runner on a fresh home holding the same
ingested tiny world: the monitor's scratch build (`dbt run --select user_feature_windows` with
other vars) and a full `dbt build`, once with the parse cache emptied first (dbt parses the whole
project, as every invocation did before) and once reusing the process's parse. Run it idle and
with a background job per core to see both sides:

    uv run python bench/dbt_parse.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from ml.world import WorldConfig, generate_world
from warehouse import dbtrun
from warehouse.ingest import ingest_path
from warehouse.settings import Settings

CASES = {
    "scratch run (1 model, other vars)": dict(
        command="run", select="user_feature_windows", dbt_vars={"drift_window_days": 14}
    ),
    "full build (442 nodes)": dict(command="build"),
}


def _home(raw: Path, root: Path, name: str) -> Settings:
    settings = Settings(home=root / name)
    settings.home_dir.mkdir(parents=True)
    shutil.copyfile(raw, settings.warehouse_path)
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tm-dbt-parse-") as tmp:
        root = Path(tmp)
        world = root / "world"
        generate_world(
            WorldConfig(users=300, titles=120, days=120, seed=11), out=world, progress=False
        )
        raw = world / "warehouse.duckdb"
        ingest_path(raw, world / "landing")
        # the full build's marts are what the scratch run reads from
        built = _home(raw, root, "built")
        dbtrun.run_dbt(built, "build")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"{'invocation':<36} {'parse each time s':>18} {'parse reused s':>15}")
        for label, case in CASES.items():
            source = built.warehouse_path if case["command"] == "run" else raw
            times: dict[bool, list[float]] = {False: [], True: []}
            for i in range(args.repeats):
                for reuse in (False, True):
                    if not reuse:
                        dbtrun._PARSED.clear()
                    else:
                        assert dbtrun._PARSED, "the uncached run above fills the cache"
                    settings = _home(source, root, f"{label[:4]}-{i}-{reuse}")
                    kwargs = {k: v for k, v in case.items() if k != "command"}
                    start = time.perf_counter()
                    result = dbtrun.run_dbt(settings, case["command"], **kwargs)
                    times[reuse].append(time.perf_counter() - start)
                    assert result.success and not result.failed, result.failures[:3]
                    shutil.rmtree(settings.home_dir)
            print(
                f"{label:<36} {statistics.median(times[False]):>18.1f} "
                f"{statistics.median(times[True]):>15.1f}"
            )


if __name__ == "__main__":
    main()
