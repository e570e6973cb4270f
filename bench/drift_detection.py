"""Does the drift monitor catch a drift, how late, and how often does it cry wolf? (issue 19)

For each world seed, drifted and undrifted, at the default size and with default settings:
generate, ingest and build the world; fit and publish the churn champion (as `tastemaker run`'s
audience stage does, so the drift reference is its training window and its top drivers are the
key features); back-fill the daily monitor over the last `--days` days (`backfill_step`, what
`tastemaker drift --backfill` runs); and estimate the churn ROC-AUC without labels (CBPE,
`performance_step`) on the model's latest labelled snapshot, where the realized AUC is known.

The recommender champion is not fitted: its recorded data window is the whole interaction
history, which contains the churn model's, so the reference (the intersection of the
champions' windows) is the same.

Per world: the days the monitor alerted; for a drifted world the first alert on or after the
truth's drift start (`truth/drift.json`) and its delay in days, alerts before the start (false),
and the planted columns named by the first alert (recall) against all the columns it named
(precision: how many named columns the truth expects, planted or displaced). Every alerting day
counts: the alert key names the day's windows, so the daily monitor would mail each one.

Results go to a JSON-lines file, one line per world, so an interrupted run resumes where it
stopped (`--out`); the table is printed from that file.

    uv run python bench/drift_detection.py                       # 10 drifted + 20 undrifted seeds
    uv run python bench/drift_detection.py --drifted 2 --undrifted 2   # a quick look
    uv run python bench/drift_detection.py --report-only          # print the table of --out

A world costs about 2 minutes at idle (build 50 s, churn fit, back-fill); the full run about an
hour. It uses the planted truth only to score the monitor, never to configure it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from itertools import zip_longest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "bench" / "results" / "drift_detection.jsonl"
#: Seeds: drifted worlds use 1..N, undrifted worlds 101..100+N (never the tests' 42 or 11).
DRIFTED_SEEDS, UNDRIFTED_SEEDS = 1, 101


def _build(home: Path, seed: int, drift: bool):
    """A default-size world with a published churn champion, as after `tastemaker run`."""
    from flows.params import ChurnParams
    from ml.audience.gates import fit_churn, save_churn, score_with_champion
    from ml.registry import ModelRegistry
    from ml.world import WorldConfig
    from warehouse.audience import load_churn_inputs, publish_churn_scores
    from warehouse.pipeline import build_warehouse
    from warehouse.publish import PublishLineage
    from warehouse.settings import Settings

    built = build_warehouse(home, WorldConfig(seed=seed, drift=drift))
    settings, params = Settings(home=home), ChurnParams()
    inputs, registry = load_churn_inputs(settings), ModelRegistry(settings.artifacts_path)
    run = fit_churn(inputs.training, params)
    save_churn(registry, run, inputs.training, params, run_id="bench", manifest=None)
    scores, ref = score_with_champion(registry, inputs.scoring, params.top_reasons)
    publish_churn_scores(settings, scores, PublishLineage("bench", ref, None))
    return built, settings, run


def one_world(seed: int, drift: bool, days: int, root: Path) -> dict:
    """Build, back-fill and score one world; a JSON-able record."""
    from flows.steps.monitor import backfill_step, performance_step
    from monitoring.drift import windowed_twin

    started = time.perf_counter()
    built, settings, run = _build(root / f"{'drift' if drift else 'plain'}-{seed}", seed, drift)
    built_s = time.perf_counter() - started
    rows, _notes = backfill_step(settings, days=days)
    truth = json.loads((built.truth_dir / "drift.json").read_text())
    planted = {windowed_twin(c) for c in truth.get("planted") or {}}
    expected = {windowed_twin(c) for c in truth.get("expected_drifted_features") or []}

    by_day = rows.groupby("day")
    alert_days = sorted(d for d, g in by_day if g["day_alerts"].notna().any())
    start = date.fromisoformat(truth["drift_start_date"]) if truth.get("drift_start_date") else None
    first = next((d for d in alert_days if start is not None and d >= start), None)
    named = (
        {
            windowed_twin(c)
            for c in rows.loc[(rows["day"] == first) & rows["alerted"], "column_name"]
        }
        if first is not None
        else set()
    )
    perf = performance_step(settings)
    holdout = _holdout_cbpe(run.validation)
    estimate = getattr(perf, "reference_estimate", None)
    realized = getattr(perf, "reference_realized", None)
    days_seen = sorted(by_day.groups)
    return {
        "seed": seed,
        "drift": drift,
        "days_requested": days,
        "days": len(days_seen),
        "first_day": days_seen[0].isoformat(),
        "last_day": days_seen[-1].isoformat(),
        "reference": f"{rows['reference_kind'].iloc[0]} [{rows['reference_start'].iloc[0]}, "
        f"{rows['reference_end'].iloc[0]})",
        "drift_start": start.isoformat() if start else None,
        "alert_days": [d.isoformat() for d in alert_days],
        "false_alert_days": [d.isoformat() for d in alert_days if start is None or d < start],
        "days_before_start": sum(1 for d in days_seen if start is None or d < start),
        "first_alert": first.isoformat() if first else None,
        "delay_days": (first - start).days if first else None,
        "first_alert_columns": sorted(named),
        "planted_recall": len(named & planted) / len(planted) if first and planted else None,
        "precision": len(named & expected) / len(named) if named else None,
        "cbpe_estimate": estimate,
        "cbpe_realized": realized,
        "cbpe_error": estimate - realized if estimate is not None and realized else None,
        "cbpe_on": getattr(perf, "reference_label", None),
        **holdout,
        "seconds": round(time.perf_counter() - started, 1),
        "build_seconds": round(built_s, 1),
        "load": round(os.getloadavg()[0], 1),
    }


def _holdout_cbpe(validation) -> dict:
    """CBPE against the realized ROC-AUC out of sample: the time-validation's model (fitted on
    the earlier snapshots) on its latest held-out snapshot, as a champion meets new users. The
    registry's reference snapshot is in-sample for the refit model, so its realized AUC is
    optimistic; this one is not."""
    from monitoring.performance import cbpe_roc_auc, realized_roc_auc

    last = validation[validation["snapshot_date"] == validation["snapshot_date"].max()]
    estimate = cbpe_roc_auc(last["churn_probability"].to_numpy())
    realized = realized_roc_auc(last["label"].to_numpy(), last["churn_probability"].to_numpy())
    return {
        "cbpe_holdout_estimate": estimate,
        "cbpe_holdout_realized": realized,
        "cbpe_holdout_error": estimate - realized if estimate is not None and realized else None,
        "cbpe_holdout_rows": len(last),
        "cbpe_holdout_snapshot": str(last["snapshot_date"].max())[:10],
    }


def _mean_sd(values: list[float], fmt: str = "{:.3f}") -> str:
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{fmt.format(statistics.mean(values))} ± {fmt.format(sd)} (n={len(values)})"


def table(records: list[dict]) -> str:
    """The benchmark's table: drifted and undrifted worlds side by side."""
    drifted = [r for r in records if r["drift"]]
    plain = [r for r in records if not r["drift"]]
    delays = [r["delay_days"] for r in drifted if r["delay_days"] is not None]

    def per30(group: list[dict], days_key: str) -> str:
        alerts = sum(len(r["false_alert_days"]) for r in group)
        days = sum(r[days_key] for r in group)
        return f"{alerts} in {days} days ({30 * alerts / days:.2f} / 30 d)" if days else "-"

    def values(group: list[dict], key: str) -> list[float]:
        return [r[key] for r in group if r.get(key) is not None]

    after = [len(r["alert_days"]) - len(r["false_alert_days"]) for r in drifted]
    delay = f"{statistics.median(delays):g} ({min(delays)}-{max(delays)})" if delays else "-"
    rows = [
        ("", "drifted worlds", "undrifted worlds"),
        (
            "worlds (seeds)",
            f"{len(drifted)} ({_seeds(drifted)})",
            f"{len(plain)} ({_seeds(plain)})",
        ),
        ("detected (an alert on/after the drift start)", f"{len(delays)} of {len(drifted)}", "-"),
        ("detection delay, days (median; range)", delay, "-"),
        (
            "false alert days",
            per30(drifted, "days_before_start"),
            per30(plain, "days"),
        ),
        (
            "worlds with any false alert",
            str(sum(1 for r in drifted if r["false_alert_days"])),
            str(sum(1 for r in plain if r["false_alert_days"])),
        ),
        ("alerting days after the drift start", _mean_sd(after, "{:.1f}"), "-"),
        (
            "first alert: planted columns named (recall)",
            _mean_sd(values(drifted, "planted_recall")),
            "-",
        ),
        (
            "first alert: named columns expected (prec.)",
            _mean_sd(values(drifted, "precision")),
            "-",
        ),
        (
            "CBPE ROC-AUC error, latest held-out snapshot",
            _mean_sd(values(drifted, "cbpe_holdout_error"), "{:+.3f}"),
            _mean_sd(values(plain, "cbpe_holdout_error"), "{:+.3f}"),
        ),
        (
            "CBPE minus in-sample AUC, registry reference",
            _mean_sd(values(drifted, "cbpe_error"), "{:+.3f}"),
            _mean_sd(values(plain, "cbpe_error"), "{:+.3f}"),
        ),
        (
            "seconds per world (median)",
            _median([r["seconds"] for r in drifted]),
            _median([r["seconds"] for r in plain]),
        ),
    ]
    return "\n".join(f"{a:<46} {b:<36} {c}" for a, b, c in rows)


def _seeds(records: list[dict]) -> str:
    seeds = sorted(r["seed"] for r in records)
    return f"{seeds[0]}-{seeds[-1]}" if seeds else "none"


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.0f}" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drifted", type=int, default=10, help="drifted world seeds")
    parser.add_argument("--undrifted", type=int, default=20, help="undrifted world seeds")
    parser.add_argument("--days", type=int, default=60, help="days back-filled per world")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON-lines results")
    parser.add_argument("--report-only", action="store_true", help="print the table of --out")
    args = parser.parse_args()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = (
        [json.loads(line) for line in args.out.read_text().splitlines() if line.strip()]
        if args.out.is_file()
        else []
    )
    have = {(r["seed"], r["drift"], r["days_requested"]) for r in done}
    # Interleaved (drifted, undrifted, drifted, ...) so that an interrupted run has both kinds.
    drifted = [(DRIFTED_SEEDS + i, True) for i in range(args.drifted)]
    undrifted = [(UNDRIFTED_SEEDS + i, False) for i in range(args.undrifted)]
    todo = [
        world
        for pair in zip_longest(drifted, undrifted[: len(drifted)])
        for world in pair
        if world is not None
    ] + undrifted[len(drifted) :]
    if not args.report_only:
        for n, (seed, drift) in enumerate(todo, 1):
            if (seed, drift, args.days) in have:
                continue
            print(
                f"[{n}/{len(todo)}] seed {seed} {'drifted' if drift else 'undrifted'}",
                file=sys.stderr,
            )
            with tempfile.TemporaryDirectory(prefix="tm-drift-detect-") as tmp:
                record = one_world(seed, drift, args.days, Path(tmp))
            with args.out.open("a") as fh:
                fh.write(json.dumps(record) + "\n")
            done.append(record)
            print(
                f"  alerts {len(record['alert_days'])} (false {len(record['false_alert_days'])}), "
                f"delay {record['delay_days']}, {record['seconds']} s at load {record['load']}",
                file=sys.stderr,
            )
    wanted = {(s, d) for s, d in todo}
    records = [
        r for r in done if (r["seed"], r["drift"]) in wanted and r["days_requested"] == args.days
    ]
    print(f"{args.out} · {len(records)} worlds · {args.days} days back-filled each")
    print(table(records))


if __name__ == "__main__":
    main()
