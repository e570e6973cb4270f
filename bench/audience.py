"""Audience benchmark: the figures issue 4 asks for, each measured, never typed in.

    uv run python bench/audience.py                 # every check whose inputs are available
    uv run python bench/audience.py --only real     # telco churn + Hillstrom uplift
    uv run python bench/audience.py --only world    # segments / churn on the default world
    uv run python bench/audience.py --only world --home H   # reuse a built default world
    uv run python bench/audience.py --only policy [--home H]  # re-engagement policy vs baselines
    uv run python bench/audience.py --only policy --thresholds 0,0.05,0.1  # + risk-threshold
                                                    # sensitivity (reported, never a setting)
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

import pandas as pd


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

    from ml.audience.churn import fit_validate_churn
    from ml.audience.segments import (
        UserSegmenter,
        bootstrap_stability,
        name_segments,
        profile_segments,
    )
    from ml.audience.truth import archetypes, planted_window_probability
    from warehouse.settings import Settings

    home = _default_home(home)
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


def _default_home(home: Path | None) -> Path:
    if home is not None:
        return home
    import tempfile

    from ml.world import WorldConfig
    from warehouse.pipeline import build_warehouse

    home = Path(tempfile.mkdtemp(prefix="tm-bench-audience-")) / "home"
    build_warehouse(home, WorldConfig())
    return home


def _reuse(results: dict[str, Any]) -> Path | None:
    """The home the world checks just built, so a full run builds the world once."""
    home = results.get("world", {}).get("home")
    return Path(home) if home else None


def risk_at_send(model: Any, rows: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    """Churn risk of each logged nudge when it was sent (event_id, churn_probability).

    `nudge_outcomes` carries the churn features computed at sent_at: score those. An older
    warehouse without them: score the user's latest `churn_training_set` snapshot on or before
    the send day.
    """
    from ml.audience.churn import churn_features
    from ml.audience.reengagement import risk_at_send as features_at_send

    at_send = features_at_send(model, log)
    if at_send is not None:
        return at_send
    snaps = rows.assign(snapshot_date=pd.to_datetime(rows["snapshot_date"])).sort_values(
        "snapshot_date"
    )
    snaps["risk"] = model.predict_proba(churn_features(snaps))[:, 1]
    sent = log.assign(sent_day=pd.to_datetime(log["sent_at"]).dt.normalize()).sort_values(
        "sent_day"
    )
    at_send = pd.merge_asof(
        sent, snaps[["user_id", "snapshot_date", "risk"]], left_on="sent_day",
        right_on="snapshot_date", by="user_id", direction="backward",
    )  # fmt: skip
    out = at_send[["event_id", "risk"]].rename(columns={"risk": "churn_probability"})
    return out.dropna()


SENSITIVITY_KEYS = ("incremental_retained", "incremental_retained_ci_low",
                    "incremental_retained_ci_high", "cost")  # fmt: skip


def policy_checks(home: Path | None, thresholds: tuple[float, ...] = ()) -> dict[str, Any]:
    """The re-engagement policy on the default world: responses vs the planted truth, the
    cross-fitted IPS evaluation (policy vs everyone vs nobody) and today's plan with a rule audit.

    Churn risk of each logged nudge is point in time: the user's latest `churn_training_set`
    snapshot on or before the send day, scored by the time-validated churn model. Costs and the
    value of a retained month are the world's price list (truth/nudges.json: prices, not
    effects); the planted effects are only used to judge the estimates.

    `thresholds`: also evaluate the policy at these risk thresholds (responses on 7-day returns,
    judged on 30-day retention) as a sensitivity table. It shows whether the verdict hinges on
    who counts as at risk; picking the threshold from it would tune on the evaluation rows, so
    the headline stays at the configured threshold.
    """
    import duckdb

    from ml.audience.churn import fit_validate_churn, score_churn
    from ml.audience.ips import evaluate_policy, format_evaluation
    from ml.audience.policy import (
        ACTION_CHANNELS,
        NUDGES,
        PolicyConfig,
        estimate_responses,
        plan_reengagement,
        usual_hours,
    )
    from ml.audience.segments import UserSegmenter, name_segments, profile_segments
    from ml.audience.truth import archetypes, planted_policy_retention
    from warehouse.settings import Settings

    home = _default_home(home)
    settings = Settings(home=home)
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        read = {
            t: con.sql(f"select * from {t}").df()
            for t in ("nudge_outcomes", "user_contact_history", "user_hour_profile",
                      "user_features", "churn_training_set", "churn_scoring_set")
        }  # fmt: skip
        snapshot_at = con.sql("select max(snapshot_date) from churn_scoring_set").fetchall()[0][0]
    finally:
        con.close()
    log = read["nudge_outcomes"]
    truth = json.loads((settings.truth_path / "nudges.json").read_text())
    prices = {f"cost_{a}": float(truth["costs"][a]) for a in NUDGES}
    started = time.perf_counter()

    users = read["user_features"].sort_values("user_id").reset_index(drop=True)
    seg = UserSegmenter().fit(users)
    names = {n.segment: n.name for n in name_segments(profile_segments(users, seg.labels_))}
    segments = pd.DataFrame({"user_id": users["user_id"], "segment": seg.labels_})
    segments["segment_name"] = segments["segment"].map(names).fillna("Too new to tell")

    rows = read["churn_training_set"]
    run = fit_validate_churn(rows, n_repeats=1)
    per_event = risk_at_send(run.model, rows, log)

    arche = pd.DataFrame(
        {"user_id": users["user_id"], "segment": archetypes(users["user_id"], settings.truth_path)}
    )
    recovered = {}
    for outcome in ("returned_7d", "cancelled_30d"):
        est = estimate_responses(log, arche, PolicyConfig(response_outcome=outcome))
        table = est.cells.pivot(index="segment_key", columns="action", values="response")
        hits = {}
        for a_name, effects in truth["effects"].items():
            key = "p_return" if outcome == "returned_7d" else "cancel_logit_shift"
            sign = 1 if outcome == "returned_7d" else -1
            planted = {x: sign * effects[x][key] for x in NUDGES}
            best_planted = max(planted, key=planted.get)
            if planted[best_planted] <= 0 or a_name not in table.index:
                continue  # nothing planted works here (documentary learners)
            got = table.loc[a_name]
            hits[a_name] = {"planted_best": best_planted, "estimated_best": str(got.idxmax()),
                            "estimates": got.round(3).to_dict()}  # fmt: skip
        recovered[outcome] = hits

    evaluations = {}
    for response, judged in (
        ("returned_7d", "retained_30d"),
        ("cancelled_30d", "retained_30d"),
        ("returned_7d", "returned_7d"),
    ):
        cfg = PolicyConfig(
            response_outcome=response,
            value_of_retention=float(truth["value_of_retained_month"]),
            bootstrap=500,
            **prices,
        )
        ev = evaluate_policy(log, per_event, segments, cfg, outcome=judged)
        entry = {"text": format_evaluation(ev), **ev.to_dict()}
        if judged == "retained_30d":
            planted = planted_policy_retention(
                log, ev.chosen, settings.truth_path,
                {a: cfg.cost(a) for a in ("none", *NUDGES)}, cfg.value_of_retention,
                best_for=ev.chosen["everyone"] != "none",
            )  # fmt: skip
            entry["planted"] = planted.to_dict(orient="records")
        evaluations[f"responses on {response}, judged on {judged}"] = entry

    sensitivity = []
    for threshold in thresholds:
        ev = evaluate_policy(
            log, per_event, segments,
            PolicyConfig(
                risk_threshold=threshold, response_outcome="returned_7d",
                value_of_retention=float(truth["value_of_retained_month"]), bootstrap=500,
                **prices,
            ),
            outcome="retained_30d",
        )  # fmt: skip
        t = ev.table.set_index("policy")
        sensitivity.append(
            {
                "risk_threshold": threshold,
                "at_risk_rows": ev.at_risk_rows,
                "everyone_action": ev.everyone_action,
                **{
                    f"{p}_{k}": float(t.loc[p, k])
                    for p in ("policy", "everyone")
                    for k in SENSITIVITY_KEYS
                },
                "bootstrap_beats_nobody": ev.bootstrap_beats_nobody,
                "bootstrap_beats_everyone": ev.bootstrap_beats_everyone,
            }
        )

    cfg = PolicyConfig(
        response_outcome="returned_7d",
        value_of_retention=float(truth["value_of_retained_month"]),
        **prices,
    )
    scores = score_churn(run.model, read["churn_scoring_set"], "bench")
    recs = None
    plan = plan_reengagement(
        scores, segments, read["user_contact_history"], read["user_hour_profile"], log, recs,
        cfg, pd.Timestamp(snapshot_at, tz="UTC"),
    )  # fmt: skip
    hist = read["user_contact_history"].set_index("user_id")
    usual = usual_hours(read["user_hour_profile"], cfg.usual_hours_coverage)
    violations = {"contacts_7d": 0, "contacts_30d": 0, "opt_out": 0, "quiet_hour": 0}
    for r in plan[plan["action"] != "none"].itertuples():
        h = hist.loc[r.user_id] if r.user_id in hist.index else None
        if h is not None:
            violations["contacts_7d"] += int(h["contacts_7d"] + 1 > cfg.max_contacts_7d)
            violations["contacts_30d"] += int(h["contacts_30d"] + 1 > cfg.max_contacts_30d)
            violations["opt_out"] += int(
                bool(h["all_opt_out"]) or bool(h[f"{r.channel}_opt_out"])
                or r.channel not in ACTION_CHANNELS[r.action]
            )  # fmt: skip
        mask = usual.get(r.user_id)
        ok_hour = (
            mask[r.send_at.hour] if mask is not None else r.send_at.hour == cfg.default_send_hour
        )
        violations["quiet_hour"] += int(not ok_hour)
    discounts = int((plan["action"] == "discount").sum())
    return {
        "home": str(home),
        "log_rows": len(log),
        "observed_rows": int(log["outcome_observed"].sum()),
        "recovered": recovered,
        "evaluations": evaluations,
        "threshold_sensitivity": sensitivity,
        "plan": {
            "at_risk_users": len(plan),
            "actions": plan["action"].value_counts().to_dict(),
            "discount_spend": discounts * cfg.cost_discount,
            "discount_budget": cfg.discount_budget,
            "violations": violations,
            "examples": plan[plan["action"] != "none"]
            .groupby("action")
            .head(1)[["user_id", "action", "channel", "send_at", "reason"]]
            .astype(str)
            .to_dict(orient="records"),
        },
        "seconds": round(time.perf_counter() - started, 1),
    }


def print_policy(res: dict[str, Any]) -> None:
    print(f"\nRe-engagement policy on the default world ({res['home']}): {res['log_rows']} logged "
          f"nudges, {res['observed_rows']} with observed outcomes; {res['seconds']} s")  # fmt: skip
    for outcome, hits in res["recovered"].items():
        ok = sum(h["planted_best"] == h["estimated_best"] for h in hits.values())
        print(f"responses on {outcome} (archetypes as segments): planted best action recovered "
              f"for {ok}/{len(hits)} archetypes")  # fmt: skip
        for a, h in hits.items():
            print(f"  {a:<22} planted {h['planted_best']:<9} estimated {h['estimated_best']:<9}"
                  f" {h['estimates']}")  # fmt: skip
    for outcome, ev in res["evaluations"].items():
        print(f"\nOffline evaluation, {outcome}")
        print(ev["text"])
        if ev.get("planted"):
            print("The same policies by the planted truth (expected cancels avoided on these rows;"
                  " 'planted best' knows the truth: the most any policy could gain)")  # fmt: skip
            print(
                f"  {'policy':<14}{'incremental':>12}{'cost':>9}{'inc/cost':>10}{'net value':>11}"
            )
            for r in ev["planted"]:
                print(f"  {r['policy']:<14}{r['incremental_retained']:>12.1f}{r['cost']:>9.1f}"
                      f"{r['retained_per_cost']:>10.4f}{r['net_value']:>11.1f}")  # fmt: skip
    if res.get("threshold_sensitivity"):
        print("\nSensitivity to the risk threshold (responses on returned_7d, judged on "
              "retained_30d; reported, not used to choose the threshold)")  # fmt: skip
        print(f"{'threshold':>9}{'at-risk':>9}{'policy incremental (95% CI)':>32}{'cost':>7}"
              f"{'everyone incremental (95% CI)':>40}{'P(beats nobody)':>17}"
              f"{'P(beats everyone)':>19}")  # fmt: skip
        for r in res["threshold_sensitivity"]:
            pol = (f"{r['policy_incremental_retained']:.1f} "
                   f"[{r['policy_incremental_retained_ci_low']:.1f}, "
                   f"{r['policy_incremental_retained_ci_high']:.1f}]")  # fmt: skip
            eve = (f"{r['everyone_action']} {r['everyone_incremental_retained']:.1f} "
                   f"[{r['everyone_incremental_retained_ci_low']:.1f}, "
                   f"{r['everyone_incremental_retained_ci_high']:.1f}]")  # fmt: skip
            print(f"{r['risk_threshold']:>9.2f}{r['at_risk_rows']:>9}{pol:>32}"
                  f"{r['policy_cost']:>7.1f}{eve:>40}{r['bootstrap_beats_nobody']:>17.0%}"
                  f"{r['bootstrap_beats_everyone']:>19.0%}")  # fmt: skip
    p = res["plan"]
    print(f"\nToday's plan: {p['at_risk_users']} at-risk users, actions {p['actions']}, "
          f"discount spend {p['discount_spend']:.2f} of {p['discount_budget']:.2f}; rule "
          f"violations {p['violations']}")  # fmt: skip
    for e in p["examples"]:
        print(f"  {e['user_id']} {e['action']} by {e['channel']} at {e['send_at']}: {e['reason']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["real", "world", "policy"], default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--home", type=Path, default=None, help="reuse a built default-world home (else build one)"
    )
    parser.add_argument(
        "--thresholds",
        type=lambda v: tuple(float(x) for x in v.split(",") if x.strip()),
        default=(),
        help="comma-separated risk thresholds for a sensitivity table of the policy evaluation",
    )
    args = parser.parse_args(argv)

    from warehouse.settings import Settings

    results: dict[str, Any] = {}
    if args.only in (None, "real"):
        data_dir = Settings().resolved_data_dir
        if data_dir is None:
            print("no real-data folder: skipping telco / Hillstrom", file=sys.stderr)
        else:
            results["real"] = real_checks(data_dir)
    if args.only in (None, "world"):
        results["world"] = world_checks(args.home)
    if args.only in (None, "policy"):
        results["policy"] = policy_checks(args.home or _reuse(results), args.thresholds)
    if args.json:
        print(json.dumps(results, indent=2, default=float))
        return 0
    if "real" in results:
        print_real(results["real"])
    if "world" in results:
        print_world(results["world"])
    if "policy" in results:
        print_policy(results["policy"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
