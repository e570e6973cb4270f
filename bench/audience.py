"""Audience benchmark: the figures issue 4 asks for, each measured, never typed in.

    uv run python bench/audience.py                 # every check whose inputs are available
    uv run python bench/audience.py --only real     # telco churn + Hillstrom uplift
    uv run python bench/audience.py --only world    # segments / churn on the default world
    uv run python bench/audience.py --only world --home H   # reuse a built default world
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


def world_checks(home: Path | None) -> dict[str, Any]:
    """Segments vs planted archetypes and churn AUC vs the planted truth on the default world."""
    import duckdb
    from sklearn.metrics import adjusted_rand_score, roc_auc_score

    from flows.settings import Settings
    from ml.audience.churn import fit_validate_churn
    from ml.audience.segments import (
        UserSegmenter,
        bootstrap_stability,
        name_segments,
        profile_segments,
    )
    from ml.audience.truth import archetypes, planted_window_probability

    if home is None:
        import tempfile

        from flows.tasks.pipeline import build_warehouse
        from ml.world import WorldConfig

        home = Path(tempfile.mkdtemp(prefix="tm-bench-audience-")) / "home"
        build_warehouse(home, WorldConfig())
    settings = Settings(home=home)
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        users = con.sql("select * from user_features order by user_id").df()
        rows = con.sql("select * from churn_training_set").df()
    finally:
        con.close()

    started = time.perf_counter()
    seg = UserSegmenter().fit(users)
    fit_s = time.perf_counter() - started
    mask = seg.labels_ >= 0
    arche = archetypes(users["user_id"], settings.truth_path)
    stab = bootstrap_stability(seg, users, n_resamples=10)
    names = name_segments(profile_segments(users, seg.labels_))
    started = time.perf_counter()
    run = fit_validate_churn(rows, n_repeats=3)
    churn_s = time.perf_counter() - started
    v = run.validation
    truth_p = planted_window_probability(v, settings.truth_path)
    return {
        "home": str(home),
        "segments": {
            "users": len(users),
            "segmented": int(mask.sum()),
            "k": seg.k_,
            "silhouette_by_k": seg.k_scores_.set_index("k")["silhouette"].round(4).to_dict(),
            "ari_vs_archetypes": float(adjusted_rand_score(arche[mask], seg.labels_[mask])),
            "bootstrap_mean_ari": stab.mean_ari,
            "bootstrap_std_ari": stab.std_ari,
            "fit_seconds": round(fit_s, 1),
            "names": [n.name for n in names],
        },
        "churn": {
            "rows": len(rows),
            "train_dates": list(run.train_dates),
            "valid_dates": list(run.valid_dates),
            "C": run.model.C,
            "roc_auc": run.metrics.roc_auc,
            "truth_roc_auc": float(roc_auc_score(v["label"], truth_p)),
            "pr_auc": run.metrics.pr_auc,
            "brier": run.metrics.brier,
            "truth_brier": float(((truth_p - v["label"]) ** 2).mean()),
            "top_decile_lift": run.metrics.top_decile_lift,
            "top_drivers": run.drivers["feature"].head(5).tolist(),
            "seconds": round(churn_s, 1),
        },
    }


def print_world(res: dict[str, Any]) -> None:
    s, c = res["segments"], res["churn"]
    print(f"\nDefault synthetic world ({res['home']})")
    print(
        f"segments: k = {s['k']} (max silhouette over {list(s['silhouette_by_k'])}), "
        f"{s['segmented']}/{s['users']} users segmented, ARI vs archetypes "
        f"{s['ari_vs_archetypes']:.4f}, bootstrap mean ARI {s['bootstrap_mean_ari']:.4f} "
        f"± {s['bootstrap_std_ari']:.4f}, fit {s['fit_seconds']} s"
    )
    for name in s["names"]:
        print(f"  - {name}")
    print(
        f"churn: train {c['train_dates'][0]}..{c['train_dates'][-1]}, validate "
        f"{c['valid_dates'][0]}..{c['valid_dates'][-1]}; ROC-AUC {c['roc_auc']:.4f} vs planted "
        f"truth {c['truth_roc_auc']:.4f} (gap {c['truth_roc_auc'] - c['roc_auc']:+.4f}); "
        f"PR-AUC {c['pr_auc']:.4f}; Brier {c['brier']:.4f} (truth {c['truth_brier']:.4f}); "
        f"lift@10% {c['top_decile_lift']:.2f}; C = {c['C']}; drivers "
        f"{', '.join(c['top_drivers'][:3])}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["real", "world"], default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--home", type=Path, default=None, help="reuse a built default-world home (else build one)"
    )
    args = parser.parse_args(argv)

    from flows.settings import Settings

    results: dict[str, Any] = {}
    if args.only in (None, "real"):
        data_dir = Settings().resolved_data_dir
        if data_dir is None:
            print("no real-data folder: skipping telco / Hillstrom", file=sys.stderr)
        else:
            results["real"] = real_checks(data_dir)
    if args.only in (None, "world"):
        results["world"] = world_checks(args.home)
    if args.json:
        print(json.dumps(results, indent=2, default=float))
        return 0
    if "real" in results:
        print_real(results["real"])
    if "world" in results:
        print_world(results["world"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
