"""Drift benchmark: false-alarm rate over same-distribution worlds, recall on drifted worlds.

Not collected by pytest (no `test_` prefix): 20 default-size worlds take ~20-30 minutes, too long
for a test run. Each world is built once (generate → ingest → dbt build); the two windows are read
with `warehouse.monitoring.load_feature_windows` and compared with `monitoring.drift.run_drift`.
Prints one row per world and a summary table; `--json` writes all rows.

    uv run python tests/monitoring/bench_drift.py --seeds 20 --drift-seeds 5

Windows follow the truth: current = [drift start, end), reference = the window before it, so the
undrifted worlds compare exactly the periods a drifted world would shift. The warehouse is built
with `--vars {drift_window_days, drift_current_end}` so the mart `user_feature_windows` holds
those windows directly (what the monitor flow reads).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ["PREFECT_LOGGING_LEVEL"] = "ERROR"


def _windows(config) -> tuple[dt.date, int]:
    """The truth's windows: current = [drift start, end of period), reference = the one before."""
    end = config.start_date + dt.timedelta(days=config.days)
    start = config.start_date + dt.timedelta(days=config.drift_start_day)
    return end, (end - start).days


def _one(seed: int, drift: bool, work: Path) -> dict:
    from flows.steps.monitor import drift_step
    from ml.world import WorldConfig
    from monitoring.drift import recall
    from warehouse.monitoring import WINDOWS_MART, load_feature_windows
    from warehouse.pipeline import build_warehouse

    home = work / f"{'drift' if drift else 'same'}-{seed}" / "home"
    started = time.perf_counter()
    config = WorldConfig(seed=seed, drift=drift)
    end, days = _windows(config)
    # The platform's build, with the mart's windows set to the truth's (no second dbt run).
    dbt_vars = {"drift_window_days": days, "drift_current_end": end.isoformat()}
    built = build_warehouse(home, config, dbt_vars=dbt_vars)
    truth = json.loads((built.truth_dir / "drift.json").read_text())
    assert truth["window_start_date"] == (end - dt.timedelta(days=days)).isoformat(), truth
    windows = load_feature_windows(
        built.settings, window_days=days, current_end=end, scratch=home / "scratch"
    )
    assert windows.source == WINDOWS_MART, windows.source
    summary = drift_step(built.settings, windows, run_id=f"bench-{seed}")
    expected = truth["expected_drifted_features"]
    row = {
        "seed": seed,
        "drift": drift,
        "dataset_drift": summary.dataset_drift,
        "share": round(summary.share, 3),
        "drifted": summary.drifted_columns,
        "expected": expected,
        "recall": round(recall(summary.drifted_columns, expected), 3) if drift else None,
        "rows": [summary.reference_rows, summary.current_rows],
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(row), flush=True)
    shutil.rmtree(home.parent, ignore_errors=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="same-distribution worlds")
    parser.add_argument("--drift-seeds", type=int, default=3, help="drifted worlds")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="write all rows here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="tastemaker-bench-drift-") as tmp:
        for i in range(args.drift_seeds):
            rows.append(_one(args.first_seed + i, True, Path(tmp)))
        for i in range(args.seeds):
            rows.append(_one(args.first_seed + i, False, Path(tmp)))
    same = [r for r in rows if not r["drift"]]
    drifted = [r for r in rows if r["drift"]]
    alarms = sum(r["dataset_drift"] for r in same)
    max_share = max((r["share"] for r in same), default=float("nan"))
    mean_recall = sum(r["recall"] for r in drifted) / len(drifted) if drifted else float("nan")
    min_recall = min((r["recall"] for r in drifted), default=float("nan"))
    print()
    print(
        "| same-distribution worlds with dataset drift | max drifted share | mean recall | "
        "min recall | drifted worlds flagged |"
    )
    print("|---|---|---|---|---|")
    print(
        f"| {alarms} / {len(same)} | {max_share:.3f} | {mean_recall:.3f} | {min_recall:.3f} | "
        f"{sum(r['dataset_drift'] for r in drifted)} / {len(drifted)} |"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
