"""The readout engine's statistical figures on simulated experiments, over several seeds.

    uv run python bench/readout_simulations.py            # 5 blocks × 200 simulations each
    uv run python bench/readout_simulations.py --blocks 10 --sims 400

Each figure is the mean ± sd over `--blocks` independent blocks of `--sims` simulations (every
block its own seed), so the spread says how much one figure from the tests could move:

- coverage of the 95 % interval (CUPED mean metric, its raw version, a delta-method ratio) at
  400 users, through `readout` itself;
- CUPED's variance reduction against ρ² for ρ = 0.3, 0.6, 0.9 (20,000 users);
- false-positive rate with 21 daily looks: the always-valid test (`mixture_sprt`), a naive
  daily t-test (stop at the first p < 0.05), and the fixed-horizon test at the last day only;
- the same false-positive rate end to end: `readout` on 14 daily snapshots of A/A experiments
  with CUPED re-fitted at every look (a quarter of `--sims` per block: it is the slow one);
- the sample-ratio check's flag rate at a fair 50/50 split and a broken 52/48 one (20,000).

The tests (tests/experiments) assert the same properties on one block each, in seconds; the
issue's 1,000-simulation calibration on the world's own logs is a separate command.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from ml.experiments import (
    ExperimentSpec,
    MetricSpec,
    mixture_sprt,
    readout,
    snapshots_by_entry_day,
    srm_test,
)
from ml.experiments.stats import z_quantile

SPEC = ExperimentSpec(
    experiment_id="sim",
    variants=("control", "treatment"),
    control="control",
    metrics=(
        MetricSpec("minutes", "minutes", role="primary", mde=0.2, covariates=("minutes_pre",)),
        MetricSpec("ctr", "clicks", denominator="exposures"),
    ),
)


def simulate(
    rng: np.random.Generator, n: int, lift: float, rho: float, ctr_lift: float
) -> pd.DataFrame:
    treated = rng.random(n) < 0.5
    pre = rng.normal(size=n)
    exposures = rng.poisson(4, size=n) + 1
    return pd.DataFrame(
        {
            "user_id": np.arange(n),
            "variant": np.where(treated, "treatment", "control"),
            "minutes": rho * pre + np.sqrt(1 - rho**2) * rng.normal(size=n) + lift * treated,
            "minutes_pre": pre,
            "clicks": rng.binomial(exposures, 0.10 + ctr_lift * treated),
            "exposures": exposures,
        }
    )


def coverage(rng: np.random.Generator, sims: int) -> dict[str, float]:
    lift, ctr_lift = 0.15, 0.02
    hits = {"CUPED mean": 0, "raw mean": 0, "delta-method ratio": 0}
    for _ in range(sims):
        by = {m.metric: m for m in readout(simulate(rng, 400, lift, 0.6, ctr_lift), SPEC).metrics}
        hits["CUPED mean"] += by["minutes"].ci_low <= lift <= by["minutes"].ci_high
        hits["raw mean"] += by["minutes"].ci_low_raw <= lift <= by["minutes"].ci_high_raw
        hits["delta-method ratio"] += by["ctr"].ci_low <= ctr_lift <= by["ctr"].ci_high
    return {k: v / sims for k, v in hits.items()}


def cuped(rng: np.random.Generator) -> dict[str, float]:
    out = {}
    for rho in (0.3, 0.6, 0.9):
        m = readout(simulate(rng, 20_000, 0.1, rho, 0.0), SPEC).metrics[0]
        out[f"ρ = {rho} (ρ² = {rho**2:.2f})"] = m.cuped_variance_reduction or 0.0
    return out


def peeking(rng: np.random.Generator, sims: int, days: int = 21, per_day: int = 60) -> dict:
    n = per_day * np.arange(1, days + 1)
    stats = []
    for _arm in range(2):
        x = rng.normal(size=(sims, days, per_day))
        s1 = np.cumsum(x.sum(axis=2), axis=1)
        s2 = np.cumsum((x**2).sum(axis=2), axis=1)
        mean = s1 / n
        stats.append((mean, (s2 - n * mean**2) / (n - 1) / n))
    diff = stats[1][0] - stats[0][0]
    var = stats[1][1] + stats[0][1]
    z = np.abs(diff) / np.sqrt(var)
    seq = np.mean(
        [mixture_sprt(d, v, 0.2, 0.05)[2][-1] <= 0.05 for d, v in zip(diff, var, strict=True)]
    )
    return {
        "always-valid, 21 daily looks": float(seq),
        "naive daily t-test": float((z > z_quantile(0.05)).any(axis=1).mean()),
        "fixed horizon (last day only)": float((z[:, -1] > z_quantile(0.05)).mean()),
    }


def peeking_through_readout(rng: np.random.Generator, sims: int, days: int = 14) -> dict:
    spec = ExperimentSpec(
        experiment_id="aa",
        variants=("control", "treatment"),
        control="control",
        metrics=(SPEC.metrics[0],),
        planned_days=days * 10,  # never reached: every look is an interim look
    )
    per_day = 120
    rejected = 0
    for _ in range(sims):
        data = simulate(rng, days * per_day, 0.0, 0.6, 0.0)
        data["day"] = np.repeat(np.arange(days), per_day)
        seq = readout(data, spec, looks=snapshots_by_entry_day(data, "day")).metrics[0].sequential
        rejected += seq is not None and seq.last_p <= 0.05
    return {"always-valid via readout, CUPED, 14 daily snapshots": rejected / sims}


def srm(rng: np.random.Generator, sims: int) -> dict[str, float]:
    out = {}
    for label, share in (("fair 50/50", 0.5), ("broken 52/48", 0.52)):
        treated = rng.binomial(20_000, share, size=sims)
        flags = [srm_test(np.array([20_000 - t, t]), np.array([1, 1]))[1] < 0.001 for t in treated]
        out[label] = float(np.mean(flags))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--sims", type=int, default=200)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows: dict[tuple[str, str], list[float]] = {}
    for block in range(args.blocks):
        rng = np.random.default_rng(1000 + block)
        for section, figures in (
            ("95 % interval coverage (400 users)", coverage(rng, args.sims)),
            ("CUPED variance reduction (20,000 users)", cuped(rng)),
            ("A/A false-positive rate at α = 0.05", peeking(rng, args.sims)),
            (
                "A/A false-positive rate at α = 0.05",
                peeking_through_readout(rng, max(1, args.sims // 4)),
            ),
            ("SRM flag rate (20,000 users, p < 0.001)", srm(rng, args.sims)),
        ):
            for name, value in figures.items():
                rows.setdefault((section, name), []).append(value)
    print(f"{args.blocks} blocks × {args.sims} simulations (CUPED: one experiment per block)\n")
    print("| figure | case | mean ± sd over blocks | min–max |")
    print("|---|---|---:|---:|")
    for (section, name), values in rows.items():
        v = np.array(values)
        sd = v.std(ddof=1) if len(v) > 1 else 0.0
        print(f"| {section} | {name} | {v.mean():.3f} ± {sd:.3f} | {v.min():.3f}–{v.max():.3f} |")
    load = os.getloadavg()
    seconds = time.perf_counter() - start
    print(f"\n{seconds:.0f} s; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
