"""Drift benchmark: false-alarm rate over same-distribution worlds, recall on drifted worlds.

Not collected by pytest (no `test_` prefix): 20 default-size worlds take ~20-30 minutes, too long
for a test run. Each world is built once (generate → ingest → dbt build); the two windows are read
with `flows.monitor.load_feature_windows` and compared with `monitoring.drift.run_drift` (JSON
only, no HTML). Prints one row per world and a summary table; `--json` writes all rows.

    uv run python tests/monitoring/bench_drift.py --seeds 20 --drift-seeds 3
    # with a dbt project that declares the windowed var (features_window_days):
    uv run python tests/monitoring/bench_drift.py --window-project /path/to/dbt_project

Windows follow the truth: current = [drift start, end), reference = the window before it, so the
undrifted worlds compare exactly the periods a drifted world would shift.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ["PREFECT_LOGGING_LEVEL"] = "ERROR"  # prefect_dbt rejects "WARNING" (see conftest)


def _one(seed: int, drift: bool, work: Path, window_project: Path | None) -> list[dict]:
    from flows.monitor import drift_step, load_feature_windows
    from flows.tasks.pipeline import build_warehouse
    from ml.world import WorldConfig

    home = work / f"{'drift' if drift else 'same'}-{seed}" / "home"
    started = time.perf_counter()
    built = build_warehouse(home, WorldConfig(seed=seed, drift=drift))
    truth = json.loads((built.truth_dir / "drift.json").read_text())
    world = json.loads((built.truth_dir / "world.json").read_text())["config"]
    end = dt.date.fromisoformat(world["start_date"]) + dt.timedelta(days=int(world["days"]))
    start = dt.date.fromisoformat(truth["window_start_date"])
    rows = []
    modes = [("current dbt", built.settings)]
    if window_project is not None:
        modes.append(
            ("windowed", built.settings.model_copy(update={"dbt_project_dir": window_project}))
        )
    for mode, settings in modes:
        windows = load_feature_windows(
            settings, window_days=(end - start).days, current_end=end, scratch=home / "scratch"
        )
        from monitoring.drift import recall

        summary = drift_step(settings, windows, run_id=f"bench-{seed}")
        rows.append(
            {
                "seed": seed,
                "drift": drift,
                "mode": mode,
                "windowed": windows.windowed,
                "dataset_drift": summary.dataset_drift,
                "share": round(summary.share, 3),
                "drifted": summary.drifted_columns,
                "recall": round(
                    recall(summary.drifted_columns, truth["expected_drifted_features"]), 3
                )
                if drift
                else None,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    import shutil

    shutil.rmtree(home.parent, ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="same-distribution worlds")
    parser.add_argument("--drift-seeds", type=int, default=3, help="drifted worlds")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--window-project", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write all rows here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="tastemaker-bench-drift-") as tmp:
        for i in range(args.seeds):
            rows += _one(args.first_seed + i, False, Path(tmp), args.window_project)
        for i in range(args.drift_seeds):
            rows += _one(args.first_seed + i, True, Path(tmp), args.window_project)
    print()
    print(
        f"{'mode':<12} {'worlds':>6} {'same-dist alarms':>17} {'max share':>9} {'mean recall':>11}"
    )
    for mode in sorted({r["mode"] for r in rows}):
        same = [r for r in rows if r["mode"] == mode and not r["drift"]]
        drifted = [r for r in rows if r["mode"] == mode and r["drift"]]
        alarms = sum(r["dataset_drift"] for r in same)
        max_share = max((r["share"] for r in same), default=float("nan"))
        mean_recall = sum(r["recall"] for r in drifted) / len(drifted) if drifted else float("nan")
        print(
            f"{mode:<12} {len(same):>6} {f'{alarms}/{len(same)}':>17} {max_share:>9.3f} "
            f"{mean_recall:>11.3f}  (drifted worlds: {len(drifted)}, "
            f"flagged {sum(r['dataset_drift'] for r in drifted)})"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
