"""The experiment readout on Hillstrom's randomized e-mail test (issue 12, point 6).

    uv run python bench/hillstrom_readout.py                    # tables for docs/benchmarks.md
    uv run python bench/hillstrom_readout.py --correction bh    # Benjamini–Hochberg instead
    uv run python bench/hillstrom_readout.py --segment newbie   # effects by another column
    uv run python bench/hillstrom_readout.py --aa 200          # + A/A splits of the control arm
    uv run python bench/hillstrom_readout.py --json

Reads the CSV in place from `Settings().resolved_data_dir` (hillstrom/). Prints the sample-ratio
check, every metric's lift with its 95 % interval (CUPED on history and recency, the raw figure
beside it), relative lift, CUPED's variance reduction with those two covariates and with every
pre-treatment column, corrected p-values, the decision per variant and overall, the segment
table, and how long a readout takes (median of --repeats, with the load average).

`--aa N` re-randomizes the 21,306 No E-Mail customers into two halves N times and reads each
split out as an experiment with no effect: the share of splits called significant is the
false-positive rate on real (skewed, zero-heavy) outcomes, per metric and for "any metric
after the correction", with CUPED's variance reduction as mean ± sd over the splits.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:+.1%}"


def aa_splits(data_dir: Any, simulations: int, correction: str, seed: int = 0) -> dict[str, Any]:
    """False-positive rates of the readout on A/A splits of Hillstrom's control arm."""
    import numpy as np

    from ml.datasets import HILLSTROM_CONTROL, load_hillstrom
    from ml.experiments import ExperimentSpec, readout
    from ml.experiments.hillstrom import hillstrom_frame, hillstrom_spec

    frame = hillstrom_frame(load_hillstrom(data_dir))
    control = frame[frame["segment"] == HILLSTROM_CONTROL].reset_index(drop=True)
    base = hillstrom_spec(None, correction)  # type: ignore[arg-type]
    spec = ExperimentSpec(
        experiment_id="hillstrom_aa",
        variants=("A", "B"),
        control="A",
        metrics=base.metrics,
        user_column=base.user_column,
        variant_column="aa",
        correction=base.correction,
    )
    rng = np.random.default_rng(seed)
    metrics = [m.name for m in spec.metrics]
    rejected = {m: 0 for m in metrics}
    rejected_raw = {m: 0 for m in metrics}
    any_corrected = 0
    reductions: dict[str, list[float]] = {m: [] for m in metrics}
    for _ in range(simulations):
        split = control.assign(aa=np.where(rng.permutation(len(control)) % 2 == 0, "A", "B"))
        r = readout(split, spec, days_observed=14)
        any_corrected += any(m.p_adjusted <= spec.alpha for m in r.metrics)
        for m in r.metrics:
            rejected[m.metric] += m.p_value <= spec.alpha
            rejected_raw[m.metric] += m.ci_low_raw > 0 or m.ci_high_raw < 0
            reductions[m.metric].append(m.cuped_variance_reduction or 0.0)
    return {
        "simulations": simulations,
        "customers": len(control),
        "false_positive_rate": {m: rejected[m] / simulations for m in metrics},
        "false_positive_rate_raw": {m: rejected_raw[m] / simulations for m in metrics},
        "any_metric_corrected": any_corrected / simulations,
        "cuped_reduction_mean": {m: float(np.mean(v)) for m, v in reductions.items()},
        "cuped_reduction_sd": {m: float(np.std(v, ddof=1)) for m, v in reductions.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--correction", choices=("holm", "bh"), default="holm")
    parser.add_argument("--segment", default="channel")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--aa", type=int, default=0, help="A/A splits of the control arm")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from ml.datasets import DatasetNotFound
    from ml.experiments.hillstrom import hillstrom_readout
    from warehouse.settings import Settings

    data_dir = Settings().resolved_data_dir
    times = []
    try:
        for _ in range(max(1, args.repeats)):
            start = time.perf_counter()
            r = hillstrom_readout(data_dir, args.segment, args.correction)
            times.append(time.perf_counter() - start)
    except DatasetNotFound as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 2
    every = hillstrom_readout(data_dir, None, args.correction, all_covariates=True)
    reduction_all = {(m.variant, m.metric): m.cuped_variance_reduction for m in every.metrics}
    aa = None
    if args.aa:
        start = time.perf_counter()
        aa = aa_splits(data_dir, args.aa, args.correction)
        aa["seconds"] = time.perf_counter() - start
    load = os.getloadavg()

    if args.json:
        out: dict[str, Any] = {
            "srm": r.srm.__dict__,
            "metrics": r.table().to_dict(orient="records"),
            "cuped_reduction_all_pre_treatment": {
                f"{v}/{m}": x for (v, m), x in reduction_all.items()
            },
            "segments": r.table(segments=True).to_dict(orient="records"),
            "decision": r.decision.__dict__,
            "variant_decisions": [d.__dict__ for d in r.variant_decisions],
            "aa": aa,
            "seconds_median": statistics.median(times),
            "load": load,
        }
        print(json.dumps(out, indent=2, default=str))
        return 0

    counts = ", ".join(f"{v} {n:,}" for v, n in r.srm.counts.items())
    print(f"Hillstrom e-mail test, {sum(r.srm.counts.values()):,} customers, 14 days")
    print(
        f"sample ratio: {counts} (planned thirds): chi-square {r.srm.statistic:.3f}, "
        f"p = {r.srm.p_value:.3f}, {'FLAGGED' if r.srm.flagged else 'not flagged'}"
    )
    print(f"correction: {r.correction} across {len(r.metrics)} variant×metric tests\n")
    print(
        "| variant | metric | control | variant | lift (CUPED) | 95 % CI | raw lift | raw 95 % CI "
        "| relative | var. reduction (history, recency) | var. reduction (all pre-treatment) "
        "| p | corrected p |"
    )
    print("|---|---|---:|---:|---:|---|---:|---|---:|---:|---:|---:|---:|")
    for m in r.metrics:
        print(
            f"| {m.variant} | {m.metric} | {m.mean_control:.5f} | {m.mean_variant:.5f} "
            f"| {m.lift:+.5f} | [{m.ci_low:+.5f}, {m.ci_high:+.5f}] | {m.lift_raw:+.5f} "
            f"| [{m.ci_low_raw:+.5f}, {m.ci_high_raw:+.5f}] | {_pct(m.relative_lift)} "
            f"| {m.cuped_variance_reduction:.2%} | {reduction_all[(m.variant, m.metric)]:.2%} "
            f"| {m.p_value:.2g} | {m.p_adjusted:.2g} |"
        )
    print("\nDecision per variant:")
    for d in r.variant_decisions:
        print(f"  {d.verdict.upper()}: {d.reason}")
    print(f"Experiment: {r.decision.verdict.upper()} {r.decision.variant or ''}")
    print(f"  reason: {r.decision.reason}")
    if r.flags:
        print("flags:", *r.flags, sep="\n  ")
    print(f"\nBy {args.segment} ({r.correction} across {len(r.segments)} segment tests):\n")
    print("| segment | variant | metric | n control | n variant | lift | 95 % CI | corrected p |")
    print("|---|---|---|---:|---:|---:|---|---:|")
    for m in r.segments:
        print(
            f"| {m.segment} | {m.variant} | {m.metric} | {m.n_control:,} | {m.n_variant:,} "
            f"| {m.lift:+.5f} | [{m.ci_low:+.5f}, {m.ci_high:+.5f}] | {m.p_adjusted:.2g} |"
        )
    if aa is not None:
        n = aa["simulations"]
        print(
            f"\nA/A: {n} random halves of the {aa['customers']:,} No E-Mail customers "
            f"({aa['seconds']:.0f} s); expected false-positive rate 0.05 ± "
            f"{(0.05 * 0.95 / n) ** 0.5:.3f} (binomial sd)\n"
        )
        print("| metric | false positives (CUPED) | false positives (raw) | var. reduction |")
        print("|---|---:|---:|---:|")
        for m, rate in aa["false_positive_rate"].items():
            print(
                f"| {m} | {rate:.3f} | {aa['false_positive_rate_raw'][m]:.3f} "
                f"| {aa['cuped_reduction_mean'][m]:.3%} ± {aa['cuped_reduction_sd'][m]:.3%} |"
            )
        print(f"| any metric, {r.correction}-corrected | {aa['any_metric_corrected']:.3f} | | |")
    spread = f"{min(times):.2f}–{max(times):.2f}"
    print(
        f"\nreadout time (load CSV + readout with segments): median {statistics.median(times):.2f}"
        f" s over {len(times)} ({spread}); load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
