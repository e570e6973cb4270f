"""Recommender benchmark on MovieLens-100k: quality, fit/score times, vectorized vs predict().

Three tables:
1. Ranking protocol (per-user random 75/25, seed 42, top-10 over unseen items; MS Recommenders
   metrics) for every ranker and the popularity/random baselines.
2. Rating protocol (5-fold Surprise KFold(random_state=0), RMSE/MAE) for every rating model.
3. Score-all: each rating model fit on all 100k ratings, then all 943 × 1682 pairs scored
   vectorized (best of 3) against Surprise's `predict()` loop (timed on a random sample of
   pairs and extrapolated per pair, or over every pair with --full-loop), with the largest
   absolute difference between the two on the sample.

    uv run python bench/recommenders.py                 # all three (≈ 5 min)
    uv run python bench/recommenders.py --skip-rating   # tables 1 and 3
    uv run python bench/recommenders.py --json
    uv run python bench/recommenders.py --evaluation-cost [--repeat 3] [--seeds 5]

`--evaluation-cost` prints one more table instead: what `tastemaker evaluate recommender
--dataset D --json` costs end to end on ml-100k and ml-latest-small (targets: 2 and 5 min at
idle), each run a fresh process: wall and CPU seconds (the process and its rating workers),
peak RSS of the main process and of the largest worker (from the command's own `resources`),
the largest process's peak seen by the OS, and the load average before and after (the machine
is shared: compare runs side by side, read medians).

Data: TASTEMAKER_DATA_DIR (or ../shared/data beside the checkout). Results go in
docs/benchmarks.md under "## Recommenders".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

from ml.datasets import load_ml100k_ratings
from ml.recommend.evaluate import default_rating_models, evaluate_movielens
from warehouse.settings import Settings


def score_all_table(sample: int, full_loop: bool, seed: int = 0) -> dict[str, dict[str, float]]:
    data_dir = Settings().resolved_data_dir
    ratings = load_ml100k_ratings(data_dir)
    rng = np.random.default_rng(seed)
    rows: dict[str, dict[str, float]] = {}
    for name, factory in default_rating_models().items():
        model = factory()
        start = time.perf_counter()
        model.fit(ratings)
        fit_s = time.perf_counter() - start
        times = []
        for _ in range(3):
            start = time.perf_counter()
            scores = model.score_all()
            times.append(time.perf_counter() - start)
        vec_s = min(times)
        n_pairs = scores.size
        if full_loop:
            u = np.repeat(np.arange(len(model.users_)), len(model.items_))
            i = np.tile(np.arange(len(model.items_)), len(model.users_))
        else:
            u = rng.integers(0, len(model.users_), sample)
            i = rng.integers(0, len(model.items_), sample)
        start = time.perf_counter()
        reference = model.predict_loop(model.users_[u], model.items_[i])
        loop_s = (time.perf_counter() - start) / len(u) * n_pairs
        rows[name] = {
            "fit_seconds": fit_s,
            "score_all_seconds": vec_s,
            "predict_loop_seconds": loop_s,
            "speedup": loop_s / vec_s,
            "max_abs_diff": float(np.abs(scores[u, i] - reference).max()),
            "pairs": n_pairs,
            "loop_pairs_timed": len(u),
        }
    return rows


COST_DATASETS = ("movielens-100k", "movielens-latest-small")


def evaluation_cost(dataset: str, seeds: int) -> dict[str, float]:
    """One end-to-end `tastemaker evaluate recommender --dataset D --seeds N --json` in a new
    process."""
    cli = [sys.executable, "-c", "from flows.cli import main; main()"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(
        [*cli, "evaluate", "recommender", "--dataset", dataset, "--seeds", str(seeds), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = json.loads(done.stdout)
    ndcg = out["models"].get("ease_item_user", {}).get("ndcg_at_k", float("nan"))
    return {
        "seeds": seeds,
        "wall_seconds": wall,
        "cpu_seconds": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "peak_rss_main_mb": out["resources"]["peak_rss_mb"],
        "peak_rss_worker_mb": out["resources"]["peak_rss_children_mb"],
        "peak_rss_os_mb": after.ru_maxrss / 1024,
        "ease_item_user_ndcg": ndcg,
        "skipped": ", ".join(out["protocol"].get("rating", {}).get("skipped", {})) or "-",
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.2e}" if (v != 0 and abs(v) < 1e-3) else f"{v:.4f}" if v < 100 else f"{v:,.0f}"
    return str(v)


def _print(title: str, rows: dict[str, dict], columns: list[str]) -> None:
    print(f"\n### {title}\n")
    print("| model | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(_fmt(row.get(c, "-")) for c in columns) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-rating", action="store_true", help="Skip the 5-fold table.")
    parser.add_argument("--sample", type=int, default=20_000, help="predict() pairs timed.")
    parser.add_argument("--full-loop", action="store_true", help="Time predict() on all pairs.")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--evaluation-cost", action="store_true", help="Only the end-to-end cost table."
    )
    parser.add_argument("--repeat", type=int, default=1, help="Runs per data set (median).")
    parser.add_argument("--seeds", type=int, default=1, help="Split seeds per run (CLI --seeds).")
    args = parser.parse_args(argv)
    if args.evaluation_cost:
        rows = {}
        for dataset in COST_DATASETS:
            runs = [evaluation_cost(dataset, args.seeds) for _ in range(args.repeat)]
            rows[dataset] = runs[int(np.argsort([r["wall_seconds"] for r in runs])[len(runs) // 2])]
            rows[dataset]["runs"] = len(runs)
            rows[dataset]["wall_all"] = " / ".join(f"{r['wall_seconds']:.0f}" for r in runs)
        if args.json:
            json.dump(rows, sys.stdout, indent=2)
            return 0
        _print(
            "End-to-end `evaluate recommender` (median run by wall time)",
            rows,
            list(next(iter(rows.values())).keys()),
        )
        return 0

    data_dir = Settings().resolved_data_dir
    protocol = "ranking" if args.skip_rating else "all"
    evaluation = evaluate_movielens("movielens-100k", data_dir, protocol=protocol)
    scoring = score_all_table(args.sample, args.full_loop)
    result = {
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or "?"},
        "evaluation": evaluation,
        "score_all": scoring,
    }
    if args.json:
        json.dump(result, sys.stdout, indent=2, default=str)
        return 0
    models = evaluation["models"]
    ranking = {n: r for n, r in models.items() if "ndcg_at_k" in r}
    rating = {n: r for n, r in models.items() if "rmse" in r}
    _print(
        "Ranking (ml-100k, per-user 75/25 seed 42, top-10 over unseen)",
        ranking,
        [
            "map_at_k",
            "ndcg_at_k",
            "precision_at_k",
            "recall_at_k",
            "coverage",
            "novelty",
            "intra_list_diversity",
            "arp",
            "gini",
            "fit_seconds",
            "score_all_seconds",
        ],
    )
    tuned = {
        name: {k: v for k, v in row.items() if k.endswith(("l2", "dropout", "power"))}
        for name, row in ranking.items()
    }
    print("\nChosen on training-only validation splits:")
    for name, params in tuned.items():
        if params:
            print(f"- {name}: " + ", ".join(f"{k} = {v:g}" for k, v in params.items()))
    if rating:
        _print(
            "Rating (ml-100k, 5-fold KFold(random_state=0))",
            rating,
            ["rmse", "mae", "cv_fit_seconds", "cv_predict_seconds"],
        )
    _print(
        "Score-all: vectorized vs Surprise predict() loop (ml-100k, 943 × 1682 pairs)",
        scoring,
        ["fit_seconds", "score_all_seconds", "predict_loop_seconds", "speedup", "max_abs_diff"],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
