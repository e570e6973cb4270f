"""What `tastemaker drift --backfill` costs, part by part, and what the choices saved.

Rows, on a built home (by default a fresh default-size drifted world: 2,000 users, 180 days,
with a churn champion so the reference is its training window, as after `tastemaker run`):

- the windows of a 60-day back-fill from ONE scratch dbt run (var drift_backfill_ends) against a
  scratch run per day (`load_feature_windows(current_end=day)`, timed on `--sample` days after
  a warm-up run that pays the process's one dbt parse, and multiplied by the days);
- one day's check with the Evidently Report and without it (`evidently_report=False`, the
  same statistics), with the noise floor's 50 permutations and without them.

Medians of `--sample` days; the load average is printed, since the machine is shared.

    uv run python bench/drift_backfill.py [--home PATH] [--days 60] [--sample 3]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import tempfile
import time
from pathlib import Path


def _home(path: Path | None, root: Path) -> Path:
    """`path` as given, or a default drifted world with a churn champion built under `root`."""
    if path is not None:
        return path
    from flows.params import ChurnParams
    from ml.audience.gates import fit_churn, save_churn, score_with_champion
    from ml.registry import ModelRegistry
    from ml.world import WorldConfig
    from warehouse.audience import load_churn_inputs, publish_churn_scores
    from warehouse.pipeline import build_warehouse
    from warehouse.publish import PublishLineage
    from warehouse.settings import Settings

    home = root / "home"
    build_warehouse(home, WorldConfig(drift=True))
    settings, params = Settings(home=home), ChurnParams()
    inputs, registry = load_churn_inputs(settings), ModelRegistry(settings.artifacts_path)
    run = fit_churn(inputs.training, params)
    save_churn(registry, run, inputs.training, params, run_id="bench", manifest=None)
    scores, ref = score_with_champion(registry, inputs.scoring, params.top_reasons)
    publish_churn_scores(settings, scores, PublishLineage("bench", ref, None))
    return home


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--sample", type=int, default=3)
    args = parser.parse_args()

    from flows.steps.monitor import drift_reference, key_features
    from monitoring.drift import run_drift, user_features_spec
    from warehouse.monitoring import load_backfill_windows, load_feature_windows
    from warehouse.settings import Settings

    with tempfile.TemporaryDirectory(prefix="tm-backfill-") as tmp:
        settings = Settings(home=_home(args.home, Path(tmp)))
        reference, keys = drift_reference(settings), key_features(settings)
        out = Path(tmp) / "reports"
        one_run, windows = _timed(
            lambda: load_backfill_windows(settings, days=args.days, reference=reference)
        )
        sample = windows.plan[-args.sample :]
        load_feature_windows(settings, current_end=sample[0].day, reference=reference)  # parse
        per_day = [
            _timed(
                lambda d=d: load_feature_windows(settings, current_end=d.day, reference=reference)
            )[0]
            for d in sample
        ]
        checks: dict[str, list[float]] = {}
        for day in sample:
            ref, cur = windows.day_frames(day)
            ref_window, cur_window = day.windows(windows.window_days)
            spec = user_features_spec(ref.columns, equal_windows=True)
            for label, report, permutations in (
                ("with the Evidently Report, 50 permutations", True, 50),
                ("statistics direct, 50 permutations (the back-fill)", False, 50),
                ("statistics direct, no noise floor", False, 0),
            ):
                thresholds = settings.drift.model_copy(update={"permutations": permutations})
                seconds, _ = _timed(
                    functools.partial(
                        run_drift,
                        ref,
                        cur,
                        spec,
                        thresholds,
                        out,
                        reference_window=ref_window,
                        current_window=cur_window,
                        write_html=False,
                        evidently_report=report,
                        key_columns=keys,
                    )
                )
                checks.setdefault(label, []).append(seconds)
        rows = (len(ref), len(cur))

    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.days} days, "
        f"{len(windows.frame):,} window rows, one day = {rows[0]:,} reference / {rows[1]:,} "
        f"current rows; reference {windows.plan[-1].reference.kind}"
    )
    print(f"{'part':<58} {'s / day':>8} {f'{args.days} days s':>11}")
    print(f"{'windows: one scratch dbt run for every day':<58} {'':>8} {one_run:>11.1f}")
    median = statistics.median(per_day)
    print(
        f"{'windows: a scratch dbt run per day (median, x days)':<58} {median:>8.1f} "
        f"{median * args.days:>11.0f}"
    )
    for label, seconds in checks.items():
        median = statistics.median(seconds)
        print(f"{'check: ' + label:<58} {median:>8.2f} {median * args.days:>11.0f}")


if __name__ == "__main__":
    main()
