"""``generate_world``: write a synthetic world's landing files and its ground truth.

The world is written into a staging folder next to the target and moved into place at the end, so
an interrupted run never leaves a half-written landing folder for ingest to pick up.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ml.world import simulate as sim
from ml.world.archetypes import ARCHETYPE_NAMES, ARCHETYPES
from ml.world.catalog import LENGTH_CLASSES, N_FACTORS, Catalog, make_catalog, tone_embeddings
from ml.world.config import WorldConfig
from ml.world.experiments import EXPERIMENTS
from ml.world.population import Population, make_population
from ml.world.simulate import SimResult, Simulator
from ml.world.vocab import (
    AGE_BANDS,
    COUNTRIES,
    DEVICES,
    GENRE_SLUGS,
    HOUR_BUCKETS,
    PLAN_PRICES,
    PLANS,
    TONES,
)
from ml.world.writers import local_timestamps, write_csv, write_json

logger = logging.getLogger(__name__)

GENERATOR_VERSION = "1"
ENTITIES = (
    "titles", "users", "views", "ratings", "subscriptions", "exposures", "nudges", "opt_outs",
)  # fmt: skip
TITLE_FIELDS = (
    "title_id", "title", "kind", "genres", "release_date", "runtime_minutes", "seasons",
    "maturity_rating", "country", "language", "director", "cast", "synopsis",
)  # fmt: skip
USER_FIELDS = ("user_id", "signup_date", "country", "plan", "age_band")
RATING_FIELDS = ("user_id", "title_id", "rated_at", "rating")
SUBSCRIPTION_FIELDS = ("user_id", "event", "occurred_at", "plan", "monthly_price")
VIEW_FIELDS = (
    "event_id", "user_id", "title_id", "device", "started_at", "watch_seconds", "duration_seconds",
)  # fmt: skip
EXPOSURE_FIELDS = (
    "event_id", "experiment_id", "variant", "user_id", "title_id", "shown_at", "clicked",
)  # fmt: skip
# Downstream user_features columns that the planted drift moves directly (see truth/drift.json):
# mobile up (displacing mostly TV, the biggest device), anime and reality up, drama down.
PLANTED_DRIFT = {
    "device_share_mobile": "up",
    "device_share_tv": "down",
    "genre_share_anime": "up",
    "genre_share_reality": "up",
    "genre_share_drama": "down",
}
# A share that falls this much (absolute, pooled over views) because the trend displaced it is
# also listed as expected to drift.
DISPLACED_MIN_CHANGE = 0.05


@dataclass(frozen=True)
class WorldSummary:
    """What ``generate_world`` wrote: row counts per entity, where, and how long it took."""

    config: WorldConfig
    rows: dict[str, int]
    landing: Path
    truth: Path
    seconds: float
    files: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view (paths as strings)."""
        return {
            "config": self.config.to_dict(),
            "rows": dict(self.rows),
            "files": dict(self.files),
            "landing": str(self.landing),
            "truth": str(self.truth),
            "seconds": round(self.seconds, 3),
        }


def _has_files(folder: Path) -> bool:
    return folder.exists() and any(p.is_file() for p in folder.rglob("*"))


def generate_world(
    config: WorldConfig,
    out: Path,
    progress: bool = True,
    overwrite: bool = False,
) -> WorldSummary:
    """Generate a world into ``out/landing`` (the landing contract) and ``out/truth``.

    Args:
        config: size, seed, period, drift. Validated first (ValueError on nonsense).
        out: the folder that receives ``landing/`` and ``truth/`` (e.g. the Tastemaker home).
        progress: show a progress bar over the simulated days.
        overwrite: replace an existing ``out/landing`` and ``out/truth``. Nothing else in ``out``
            is touched.

    Returns:
        A WorldSummary with row counts per entity.

    Raises:
        ValueError: the config makes no sense.
        FileExistsError: ``out/landing`` already holds files and ``overwrite`` is False.
    """
    config.validate()
    started = time.perf_counter()
    out = Path(out).expanduser()
    landing, truth = out / "landing", out / "truth"
    if _has_files(landing) and not overwrite:
        raise FileExistsError(
            f"{landing} already has files; refusing to mix two worlds "
            "(pass overwrite=True / --overwrite to replace landing/ and truth/)"
        )
    out.mkdir(parents=True, exist_ok=True)
    logger.info(
        "Generating a world: %d users, %d titles, %d days from %s, seed %d, drift %s",
        config.users, config.titles, config.days, config.start_date, config.seed, config.drift,
    )  # fmt: skip
    staging = Path(tempfile.mkdtemp(prefix=".world-staging-", dir=out))
    try:
        rows, files = _build(config, staging / "landing", staging / "truth", progress)
        for target in (landing, truth):
            if target.exists():
                shutil.rmtree(target)
        (staging / "landing").replace(landing)
        (staging / "truth").replace(truth)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    seconds = time.perf_counter() - started
    logger.info("World written to %s in %.1f s: %s", out, seconds, rows)
    return WorldSummary(
        config=config, rows=rows, landing=landing, truth=truth, seconds=seconds, files=files
    )


def _build(
    cfg: WorldConfig, landing: Path, truth: Path, progress: bool
) -> tuple[dict[str, int], dict[str, int]]:
    # A fifth child stream drives opt-outs and campaigns: spawn(5)[:4] equals spawn(4), so the
    # rest of the world draws exactly what it drew before nudges existed.
    seeds = np.random.SeedSequence(cfg.seed).spawn(5)
    rng_catalog, rng_users, rng_days, rng_tone, rng_nudges = (
        np.random.default_rng(s) for s in seeds
    )
    tone_emb = tone_embeddings(rng_tone)
    catalog = make_catalog(cfg.titles, cfg.days, rng_catalog, tone_emb)
    pop = make_population(cfg.users, cfg.days, rng_users, tone_emb)
    for entity in ENTITIES:
        (landing / entity).mkdir(parents=True, exist_ok=True)
    truth.mkdir(parents=True, exist_ok=True)

    rows: dict[str, int] = {}
    rows["titles"] = _write_titles(cfg, catalog, landing / "titles" / "titles.csv")
    rows["users"] = _write_users(cfg, pop, landing / "users" / "users.csv")
    simulator = Simulator(cfg, catalog, pop, rng_days, landing, nudge_rng=rng_nudges)
    result = simulator.run(progress=progress)
    rows["views"] = result.views
    if result.ratings:
        r_when, r_user, r_title, r_stars = (
            np.concatenate(c) for c in zip(*result.ratings, strict=True)
        )
    else:
        r_when = r_user = r_title = r_stars = np.zeros(0, dtype=np.int64)
    rows["ratings"] = _write_monthly(
        cfg,
        pop,
        landing / "ratings",
        RATING_FIELDS,
        r_when,
        r_user,
        [[catalog.ids[i] for i in r_title.tolist()], [f"{x:.1f}" for x in r_stars.tolist()]],
    )
    subs = np.array(result.subscriptions, dtype=np.int64).reshape(-1, 4)
    rows["subscriptions"] = _write_monthly(
        cfg,
        pop,
        landing / "subscriptions",
        SUBSCRIPTION_FIELDS,
        subs[:, 0],
        subs[:, 1],
        [
            [sim.EVENT_CODES[e] for e in subs[:, 2].tolist()],
            [PLANS[p] for p in subs[:, 3].tolist()],
            [f"{PLAN_PRICES[PLANS[p]]:.2f}" for p in subs[:, 3].tolist()],
        ],
    )
    rows["exposures"] = result.exposures
    rows["nudges"] = simulator.nudges.counter
    rows["opt_outs"] = simulator.nudges.write_opt_outs(landing / "opt_outs" / "opt_outs.csv")
    files = {e: sum(1 for p in (landing / e).iterdir() if p.is_file()) for e in ENTITIES}

    _truth_users(cfg, pop, result, truth / "users.csv")
    _truth_titles(catalog, result, truth / "titles.csv")
    churn_rows = _truth_churn(cfg, pop, result, truth / "churn.csv")
    _truth_experiments(cfg, result, truth / "experiments.json")
    _truth_drift(cfg, result, truth / "drift.json")
    write_json(truth / "nudges.json", simulator.nudges.truth())
    _truth_world(cfg, pop, rows, files, churn_rows, truth / "world.json")
    return rows, files


# ---------------------------------------------------------------------------------------------
def _write_titles(cfg: WorldConfig, cat: Catalog, path: Path) -> int:
    def row(i: int) -> tuple:
        series = bool(cat.is_series[i])
        return (
            cat.ids[i],
            cat.names[i],
            "series" if series else "movie",
            cat.genres_display(i),
            (cfg.start_date + timedelta(days=int(cat.release_day[i]))).isoformat(),
            int(cat.runtime_minutes[i]),
            int(cat.seasons[i]) if series else "",
            cat.maturity[i],
            cat.country[i],
            cat.language[i],
            cat.director[i],
            "|".join(cat.cast[i]),
            cat.synopsis[i],
        )

    return write_csv(path, TITLE_FIELDS, (row(i) for i in range(cat.n)))


def _write_users(cfg: WorldConfig, pop: Population, path: Path) -> int:
    rows = (
        (
            pop.ids[i],
            (cfg.start_date + timedelta(days=int(pop.signup_day[i]))).isoformat(),
            COUNTRIES[pop.country[i]][0],
            PLANS[pop.plan[i]],
            AGE_BANDS[pop.age_band[i]],
        )
        for i in range(pop.n)
    )
    return write_csv(path, USER_FIELDS, rows)


def _write_monthly(
    cfg: WorldConfig,
    pop: Population,
    folder: Path,
    header: tuple[str, ...],
    seconds: np.ndarray,
    users: np.ndarray,
    columns: list[list[str]],
) -> int:
    """Write events into ``<YYYY-MM>.csv`` files by local month, each in UTC order.

    Rows are ``user_id, columns[0], <timestamp>, columns[1:]...``: the timestamp is the third
    field of both ratings (rated_at) and subscriptions (occurred_at).
    """
    if seconds.size == 0:
        return 0
    offsets = np.array([COUNTRIES[c][2] * 60 for c in pop.country.tolist()])[users]
    order = np.lexsort((users, seconds - offsets))
    stamps = local_timestamps(
        cfg.start_date, seconds[order], [_offset(pop, u) for u in users[order]]
    )
    by_month: dict[str, list[tuple]] = defaultdict(list)
    for k, stamp in zip(order.tolist(), stamps, strict=True):
        rest = [col[k] for col in columns]
        by_month[stamp[:7]].append((pop.ids[users[k]], rest[0], stamp, *rest[1:]))
    total = 0
    for month in sorted(by_month):
        total += write_csv(folder / f"{month}.csv", header, by_month[month])
    return total


def _offset(pop: Population, user: int) -> str:
    return COUNTRIES[pop.country[user]][1]


# ---------------------------------------------------------------------------------------------
def _truth_users(cfg: WorldConfig, pop: Population, result: SimResult, path: Path) -> None:
    header = [
        "user_id", "archetype", "engagement", "sittings_per_day", "binge_propensity",
        "abandon_logit", "first_fade_date", "views",
        *(f"taste_{k}" for k in range(N_FACTORS)),
        *(f"genre_pref_{s}" for s in GENRE_SLUGS),
        *(f"device_pref_{d}" for d in DEVICES),
    ]  # fmt: skip
    sittings = np.array([a.sittings for a in ARCHETYPES])[pop.archetype] * pop.engagement

    def row(i: int) -> list:
        fade = int(result.first_fade_day[i])
        return [
            pop.ids[i],
            ARCHETYPE_NAMES[pop.archetype[i]],
            f"{pop.engagement[i]:.4f}",
            f"{sittings[i]:.4f}",
            f"{pop.binge[i]:.4f}",
            f"{pop.abandon[i]:.4f}",
            (cfg.start_date + timedelta(days=fade)).isoformat() if fade >= 0 else "",
            int(result.user_views[i]),
            *(f"{x:.4f}" for x in pop.taste[i]),
            *(f"{x:.4f}" for x in pop.genre_probs[i]),
            *(f"{x:.4f}" for x in pop.device_probs[i]),
        ]

    write_csv(path, header, (row(i) for i in range(pop.n)))


def _truth_titles(cat: Catalog, result: SimResult, path: Path) -> None:
    header = [
        "title_id", "primary_genre", "tone", "length_class", "episodes", "quality", "appeal",
        "popularity", "director_skill", "star_power", "views",
        *(f"factor_{k}" for k in range(N_FACTORS)),
    ]  # fmt: skip
    pop_weight = np.exp(sim.POP_APPEAL * cat.appeal + sim.POP_QUALITY * cat.quality)
    pop_weight /= pop_weight.mean()

    def row(i: int) -> list:
        return [
            cat.ids[i],
            GENRE_SLUGS[cat.primary_genre[i]],
            TONES[cat.tone[i]],
            LENGTH_CLASSES[cat.length_class[i]],
            int(cat.episodes[i]),
            f"{cat.quality[i]:.4f}",
            f"{cat.appeal[i]:.4f}",
            f"{pop_weight[i]:.4f}",
            f"{cat.director_skill[i]:.4f}",
            f"{cat.star_power[i]:.4f}",
            int(result.title_views[i]),
            *(f"{x:.4f}" for x in cat.factors[i]),
        ]

    write_csv(path, header, (row(i) for i in range(cat.n)))


def _truth_churn(cfg: WorldConfig, pop: Population, result: SimResult, path: Path) -> int:
    header = [
        "user_id", "month", "churn_probability", "cancelled", "evaluated_on", "cancel_date",
        "recent_views_per_day", "earlier_views_per_day", "activity_log_ratio", "abandon_rate",
        "dormant", "tenure_days", "monthly_price", "nudge_logit",
    ]  # fmt: skip

    def day(d: int) -> str:
        return (cfg.start_date + timedelta(days=d)).isoformat()

    def rows() -> Iterator[list]:
        for b in result.churn:
            month = day(b.day)[:7]
            evaluated = day(b.day)
            for k, user in enumerate(b.users.tolist()):
                cancel_on = int(b.cancel_day[k])
                ratio = float(b.log_ratio[k])
                yield [
                    pop.ids[user], month, f"{b.probability[k]:.6f}", int(b.cancelled[k]),
                    evaluated, day(cancel_on) if cancel_on >= 0 else "",
                    f"{b.recent_rate[k]:.4f}", f"{b.earlier_rate[k]:.4f}",
                    "" if math.isnan(ratio) else f"{ratio:.4f}", f"{b.abandon_rate[k]:.4f}",
                    int(b.dormant[k]), int(b.tenure[k]), f"{b.price[k]:.2f}",
                    f"{b.nudge_logit[k]:.4f}",
                ]  # fmt: skip

    return write_csv(path, header, rows())


def _truth_experiments(cfg: WorldConfig, result: SimResult, path: Path) -> None:
    stats = result.exposure_stats  # (exp, archetype, variant, [exposures, clicks])
    out = []
    for e, exp in enumerate(EXPERIMENTS):
        start, end = exp.window(cfg.days)
        lifts = exp.lifts()
        base = np.array([a.ctr for a in ARCHETYPES])
        n_arch = stats[e, :, :, 0].sum(axis=1)
        weights = n_arch / n_arch.sum() if n_arch.sum() else np.full(len(ARCHETYPES), 1 / 7)
        ctr_c = float((weights * base).sum())
        ctr_t = float((weights * (base + lifts)).sum())
        out.append(
            {
                "experiment_id": exp.experiment_id,
                "description": exp.description,
                "variants": list(exp.variants),
                "control": exp.variants[0],
                "start_date": (cfg.start_date + timedelta(days=start)).isoformat(),
                "end_date": (cfg.start_date + timedelta(days=end - 1)).isoformat(),
                "assignment": "sha256(f'{experiment_id}:{user_id}') first 16 hex digits as int, "
                "mod 2: 0 = control, 1 = treatment",
                "true_ctr": {exp.variants[0]: round(ctr_c, 6), exp.variants[1]: round(ctr_t, 6)},
                "true_absolute_lift": round(ctr_t - ctr_c, 6),
                "true_relative_lift": round((ctr_t - ctr_c) / ctr_c, 6) if ctr_c else None,
                "overall_weights": "archetype mix of this experiment's realized exposures",
                "by_archetype": {
                    a.name: {
                        "exposure_share": round(float(weights[k]), 6),
                        "true_ctr": {
                            exp.variants[0]: round(float(base[k]), 6),
                            exp.variants[1]: round(float(base[k] + lifts[k]), 6),
                        },
                        "true_absolute_lift": round(float(lifts[k]), 6),
                        "true_relative_lift": round(float(lifts[k] / base[k]), 6),
                    }
                    for k, a in enumerate(ARCHETYPES)
                },
                "realized": {
                    v: {
                        "exposures": int(stats[e, :, j, 0].sum()),
                        "clicks": int(stats[e, :, j, 1].sum()),
                    }
                    for j, v in enumerate(exp.variants)
                },
            }
        )
    write_json(path, {"experiments": out})


def _shares(counts: np.ndarray, names: list[str], total: float) -> dict[str, float]:
    return {
        n: round(float(c) / total, 6) if total else 0.0 for n, c in zip(names, counts, strict=True)
    }


def _truth_drift(cfg: WorldConfig, result: SimResult, path: Path) -> None:
    dev, gen, hours = result.device_counts, result.genre_counts, result.hour_counts
    bucket_names = [b for b, _ in HOUR_BUCKETS]
    buckets = np.array([[hours[p, list(hs)].sum() for _, hs in HOUR_BUCKETS] for p in range(2)])
    observed = {}
    for p, label in enumerate(("before", "after")):
        views = dev[p].sum()
        observed[label] = {
            **_shares(dev[p], [f"device_share_{d}" for d in DEVICES], views),
            **_shares(gen[p], [f"genre_share_{s}" for s in GENRE_SLUGS], views),
            **_shares(buckets[p], [f"hour_share_{b}" for b in bucket_names], views),
        }
    start = (cfg.start_date + timedelta(days=cfg.drift_start_day)).isoformat()
    displaced = []
    if cfg.drift:
        displaced = [
            name
            for name, before in observed["before"].items()
            if name not in PLANTED_DRIFT
            and abs(observed["after"][name] - before) >= DISPLACED_MIN_CHANGE
        ]
    data: dict[str, Any] = {
        "drift": cfg.drift,
        "drift_start_date": start if cfg.drift else None,
        "window_start_date": start,
        "note": (
            "device mix and genre tastes shift from drift_start_date to the end of the period"
            if cfg.drift
            else "no drift planted; observed shares compare the last 25% of days with the rest"
        ),
        "shifts": {
            "device_probability_multipliers": dict(sim.DRIFT_DEVICE),
            "genre_preference_multipliers": dict(sim.DRIFT_GENRES),
            "trending_genres": dict(sim.DRIFT_TREND),
            "trend_share_of_candidate_draws": sim.DRIFT_TREND_SHARE,
        }
        if cfg.drift
        else {},
        "planted": dict(PLANTED_DRIFT) if cfg.drift else {},
        "displaced_features": displaced,
        "expected_drifted_features": [*PLANTED_DRIFT, *displaced] if cfg.drift else [],
        "share_definition": "share of views (plays); genre shares count a view once for each "
        "genre of its title, so they may sum to more than 1",
        "observed_view_shares": observed,
    }
    write_json(path, data)


def _truth_world(
    cfg: WorldConfig,
    pop: Population,
    rows: dict[str, int],
    files: dict[str, int],
    churn_rows: int,
    path: Path,
) -> None:
    counts = np.bincount(pop.archetype, minlength=len(ARCHETYPES))
    data = {
        "generator_version": GENERATOR_VERSION,
        "config": cfg.to_dict(),
        "seed": cfg.seed,
        "date_range": {"start": cfg.start_date.isoformat(), "end": cfg.end_date.isoformat()},
        "rows": rows,
        "files": files,
        "truth_rows": {"churn": churn_rows, "users": pop.n},
        "archetypes": [
            {
                "name": a.name,
                "description": a.description,
                "share": a.share,
                "users": int(counts[k]),
            }
            for k, a in enumerate(ARCHETYPES)
        ],
        "timezones": {c[0]: c[1] for c in COUNTRIES},
        "parameters": {
            "title_choice": {
                "n_candidates": sim.N_CANDIDATES,
                "taste_weight": sim.TASTE_WEIGHT,
                "pop_appeal": sim.POP_APPEAL,
                "pop_quality": sim.POP_QUALITY,
                "recency_boost": sim.RECENCY_BOOST,
                "recency_days": sim.RECENCY_DAYS,
            },
            "plays": {
                "genre_match": sim.GENRE_MATCH,
                "match_abandon": sim.MATCH_ABANDON,
                "device_abandon": dict(zip(DEVICES, sim.DEVICE_ABANDON.tolist(), strict=True)),
                "late_night_abandon": sim.LATE_NIGHT_ABANDON,
                "abandoned_below": sim.ABANDONED_BELOW,
            },
            "churn": {
                "decline": sim.CHURN_DECLINE,
                "abandon": sim.CHURN_ABANDON,
                "price": sim.CHURN_PRICE,
                "new_user": sim.CHURN_NEW,
                "dormant": sim.CHURN_DORMANT,
                "window_days": sim.WINDOW,
                "base_logit": {a.name: a.churn_logit for a in ARCHETYPES},
            },
            "plan_prices": dict(PLAN_PRICES),
        },
    }
    write_json(path, data)
