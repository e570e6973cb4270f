"""The experiment readout on Hillstrom's randomized e-mail test (issue 12, point 6).

    uv run python bench/hillstrom_readout.py                    # tables for docs/benchmarks.md
    uv run python bench/hillstrom_readout.py --correction bh    # Benjamini–Hochberg instead
    uv run python bench/hillstrom_readout.py --segment newbie   # effects by another column
    uv run python bench/hillstrom_readout.py --json

Reads the CSV in place from `Settings().resolved_data_dir` (hillstrom/). Prints the sample-ratio
check, every metric's lift with its 95 % interval (CUPED on history and recency, the raw figure
beside it), relative lift, CUPED's variance reduction with those two covariates and with every
pre-treatment column, corrected p-values, the decision per variant and overall, the segment
table, and how long a readout takes (median of --repeats, with the load average).
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--correction", choices=("holm", "bh"), default="holm")
    parser.add_argument("--segment", default="channel")
    parser.add_argument("--repeats", type=int, default=3)
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
    spread = f"{min(times):.2f}–{max(times):.2f}"
    print(
        f"\nreadout time (load CSV + readout with segments): median {statistics.median(times):.2f}"
        f" s over {len(times)} ({spread}); load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
