"""Recommender flow: read marts → evaluate on a temporal holdout → fit → registry → homepages →
publish `ml.recommendations` → markdown artifact with the metrics table.

The plain functions (`read_marts`, `evaluate_step`, `train_step`, `homepage_step`,
`publish_step`) carry the logic and are what the CLI and tests call; `recommend_flow` only wires
them as tasks so the Prefect UI shows each step.

Locking: the flow reads the marts and publishes under `warehouse_lock` (DuckDB has one writer per
file, and a read during someone else's write fails); fitting and homepage building hold no lock.
The platform flow calls `recommend_flow(RecommendParams())` as a child flow after transform.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from flows.retry import IO_RETRY
from ml.recommend.content import ContentModel
from ml.recommend.homepage import HomepageConfig, TopPicksModel, build_homepages
from ml.recommend.synthetic import evaluate_temporal, fit_top_picks, make_ranker, temporal_holdout
from ml.registry import DataWindow, ModelRegistry, ModelVersion, PromotionDecision, PromotionGate
from warehouse.db import Warehouse, connect
from warehouse.dbtrun import dbt_target_dir, manifest_sha256
from warehouse.lock import warehouse_lock
from warehouse.publish import PublishLineage
from warehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)

MODEL_NAME = "recommender"
TABLE = "recommendations"
GATE_METRIC = "ndcg_at_10"
MARTS = ("user_title_interactions", "title_features", "user_features", "title_catalog")
#: title_catalog's column names → the names ml.recommend.content.ContentModel reads
#: (`cast` is a reserved word in SQL, so the mart says `cast_names`).
CATALOG_RENAMES = {"title_name": "title", "cast_names": "cast"}


class RecommendParams(BaseModel):
    """Parameters of the recommender flow (a form in the Prefect UI)."""

    model: Literal["ease", "item_knn", "blend", "popularity"] = Field(
        default="ease", description="The Top Picks ranker."
    )
    k: int = Field(default=10, ge=1, le=50, description="Titles per homepage row.")
    holdout_days: int = Field(
        default=28, ge=1, description="Temporal holdout: the last N days are the test period."
    )
    cut: dt.date | None = Field(
        default=None,
        description="Temporal holdout start (train before, test from); empty = last event "
        "minus holdout_days.",
    )
    max_anchors: int = Field(
        default=2, ge=0, le=5, description="'Because You Watched' rows per user."
    )
    gate_tolerance: float = Field(
        default=0.005, ge=0, description="A candidate may trail the champion's nDCG@10 by this."
    )
    random_state: int = Field(default=42, description="Seed of the random baseline.")


class MissingMarts(FileNotFoundError):
    """The warehouse or its marts are not there yet (the message says what to run)."""


@dataclass(frozen=True)
class Marts:
    """What the recommender reads, plus the lineage of the dbt build it came from."""

    interactions: pd.DataFrame
    title_features: pd.DataFrame
    user_features: pd.DataFrame
    #: title_catalog, renamed per CATALOG_RENAMES (`title`, `cast`) for the content model.
    catalog: pd.DataFrame
    manifest_sha256: str | None

    def row_counts(self) -> dict[str, int]:
        return {
            "user_title_interactions": len(self.interactions),
            "title_features": len(self.title_features),
            "user_features": len(self.user_features),
            "title_catalog": len(self.catalog),
        }


def _schema_of(con: Any, table: str) -> str | None:
    row = con.execute(
        "select table_schema from information_schema.tables where table_name = ? "
        "and table_schema not in ('raw') order by table_schema limit 1",
        [table],
    ).fetchone()
    return row[0] if row else None


def read_marts(settings: Settings) -> Marts:
    """Read the four marts under the lock: interactions, title and user features, and
    `title_catalog` (the title text the content model fits on, as `catalog`, with the columns
    renamed per CATALOG_RENAMES). A missing mart says what to run: Python never rebuilds one."""
    if not settings.warehouse_path.is_file():
        raise MissingMarts(f"no warehouse at {settings.warehouse_path}: run `tastemaker run` first")
    frames: dict[str, pd.DataFrame | None] = {}
    with Warehouse(settings).session() as db:
        for mart in MARTS:
            frames[mart] = db.read(mart)
            if frames[mart] is None:
                raise MissingMarts(
                    f"mart {mart} is missing from {settings.warehouse_path}: run "
                    "`tastemaker run` (or `tastemaker transform`) first"
                )
    return Marts(
        interactions=frames["user_title_interactions"],
        title_features=frames["title_features"],
        user_features=frames["user_features"],
        catalog=frames["title_catalog"].rename(columns=CATALOG_RENAMES),
        manifest_sha256=manifest_sha256(dbt_target_dir(settings)),
    )


def evaluate_step(marts: Marts, params: RecommendParams) -> dict[str, Any]:
    """The chosen model vs popularity and random on the temporal holdout."""
    return evaluate_temporal(
        marts.interactions,
        marts.title_features,
        holdout_days=params.holdout_days,
        k=10,
        models=[params.model, "popularity", "random"],
        cut=params.cut,
        random_state=params.random_state,
    )


def _ease_params(evaluation: dict[str, Any], model: str) -> tuple[float, float] | None:
    row = evaluation["models"].get("ease" if model in ("ease", "blend") else model, {})
    if "l2" in row:
        return float(row["l2"]), float(row["diag_dropout"])
    return None


def _metrics(evaluation: dict[str, Any], model: str) -> dict[str, float]:
    rows = evaluation["models"]
    keep = ("ndcg_at_k", "map_at_k", "precision_at_k", "recall_at_k", "coverage", "novelty")
    out = {GATE_METRIC: float(rows[model]["ndcg_at_k"])}
    out.update({k: float(rows[model][k]) for k in keep if k in rows[model]})
    for base in ("popularity", "random"):
        out[f"{base}_ndcg_at_10"] = float(rows[base]["ndcg_at_k"])
    return out


def _rescore_champion(
    champion: TopPicksModel, marts: Marts, params: RecommendParams, evaluation: dict[str, Any]
) -> float:
    """The champion's configuration refit on the candidate's training split and scored on its
    holdout: scores from different holdouts are not comparable (the registry's gate)."""
    from sklearn.base import clone

    from ml.recommend.evaluate import evaluate_ranking

    split, _, _ = temporal_holdout(
        marts.interactions, params.holdout_days, evaluation["protocol"]["temporal"]["cut"]
    )
    try:
        ranker = clone(champion.ranker)
    except (TypeError, RuntimeError):
        ranker = make_ranker(champion.name, split.train, params.random_state)
    return float(evaluate_ranking(split, {"champion": ranker}, 10)["champion"]["ndcg_at_k"])


def train_step(
    settings: Settings,
    marts: Marts,
    params: RecommendParams,
    evaluation: dict[str, Any],
    run_id: str | None,
) -> tuple[ModelVersion, PromotionDecision]:
    """Fit on all interactions, save a version with its metrics and lineage, promote via the gate.

    EASE's λ tuned on the evaluation's training split is reused for the final fit, so the saved
    model is the configuration the holdout measured.
    """
    model = fit_top_picks(
        marts.interactions,
        params.model,
        params.random_state,
        ease_params=_ease_params(evaluation, params.model),
    )
    temporal = evaluation["protocol"]["temporal"]
    registry = ModelRegistry(settings.artifacts_path)
    meta = registry.save(
        model,
        MODEL_NAME,
        metrics=_metrics(evaluation, params.model),
        holdout_id=temporal["holdout_id"],
        data_window=DataWindow(
            start=temporal["data_window"]["start"],
            end=temporal["data_window"]["end"],
            snapshot_date=_snapshot(marts),
        ),
        row_counts={
            **marts.row_counts(),
            "train_pairs": temporal["train_pairs"],
            "test_pairs": temporal["test_pairs"],
        },
        manifest_sha256=marts.manifest_sha256,
        parameters={"model": params.model, **model.params, "holdout_cut": temporal["cut"]},
        run_id=run_id,
    )
    champion_score = None
    current = registry.champion_version(MODEL_NAME)
    if current is not None and current != meta.version:
        champ_meta = registry.metadata(MODEL_NAME, current)
        if champ_meta.holdout_id != meta.holdout_id:
            champion, _ = registry.load(MODEL_NAME, current)
            champion_score = _rescore_champion(champion, marts, params, evaluation)
    decision = registry.promote(
        MODEL_NAME,
        meta.version,
        PromotionGate(GATE_METRIC, higher_is_better=True, tolerance=params.gate_tolerance),
        champion_score=champion_score,
    )
    return meta, decision


def _snapshot(marts: Marts) -> str | None:
    col = marts.title_features.get("snapshot_date")
    if col is None or col.dropna().empty:
        return None
    return pd.Timestamp(col.max()).date().isoformat()


def homepage_step(
    settings: Settings, marts: Marts, params: RecommendParams
) -> tuple[pd.DataFrame, str]:
    """Every user's homepage (and the anonymous one) from the registry's champion."""
    champion, meta = ModelRegistry(settings.artifacts_path).load(MODEL_NAME)
    content = ContentModel().fit(marts.catalog) if len(marts.catalog) else None
    frame = build_homepages(
        marts.interactions,
        marts.title_features,
        marts.user_features,
        champion,
        content,
        HomepageConfig(k=params.k, max_anchors=params.max_anchors),
    )
    frame = frame.assign(model_version=meta.ref)
    return frame, meta.ref


def publish_step(
    settings: Settings, frame: pd.DataFrame, run_id: str | None, manifest: str | None
) -> int:
    """Replace `ml.recommendations` atomically."""
    lineage = PublishLineage(
        run_id, str(frame["model_version"].iloc[0]) if len(frame) else None, manifest
    )
    with Warehouse(settings).session() as db:
        return db.publish(TABLE, frame, lineage)


def metrics_markdown(
    evaluation: dict[str, Any], model: str, decision: PromotionDecision | None
) -> str:
    """The holdout table (model vs popularity vs random) for a Prefect artifact."""
    temporal = evaluation["protocol"]["temporal"]
    lines = [
        "# Recommender: temporal holdout",
        "",
        f"train before **{temporal['cut'][:10]}**, test after; {temporal['train_pairs']:,} "
        f"training pairs, {temporal['test_pairs']:,} test pairs, {temporal['users']:,} users, "
        f"{temporal['titles']:,} titles; k = {temporal['k']}.",
        "",
        "| model | nDCG@10 | MAP@10 | precision@10 | recall@10 | coverage | fit s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    order = [model] + [m for m in evaluation["models"] if m != model]
    for name in order:
        row = evaluation["models"][name]
        label = f"**{name}** (Top Picks)" if name == model else name
        lines.append(
            f"| {label} | {row['ndcg_at_k']:.4f} | {row['map_at_k']:.4f} | "
            f"{row['precision_at_k']:.4f} | {row['recall_at_k']:.4f} | "
            f"{row.get('coverage', float('nan')):.3f} | {row['fit_seconds']:.2f} |"
        )
    if decision is not None:
        lines += [
            "",
            f"Promotion: **{'promoted' if decision.promoted else 'kept the champion'}** — "
            f"{decision.reason}",
        ]
    return "\n".join(lines)


# --- Prefect wiring -------------------------------------------------------------------------


@task(cache_policy=NO_CACHE, **IO_RETRY)
def read_marts_task(settings: Settings) -> Marts:
    """Read user_title_interactions, title_features, user_features, title_catalog (locked)."""
    return read_marts(settings)


@task(cache_policy=NO_CACHE)
def evaluate_task(marts: Marts, params: RecommendParams) -> dict[str, Any]:
    """Model vs popularity vs random on the temporal holdout."""
    return evaluate_step(marts, params)


@task(cache_policy=NO_CACHE)
def train_task(
    settings: Settings,
    marts: Marts,
    params: RecommendParams,
    evaluation: dict[str, Any],
    run_id: str | None,
) -> tuple[ModelVersion, PromotionDecision]:
    """Fit on everything, save to the registry, promote through the gate."""
    return train_step(settings, marts, params, evaluation, run_id)


@task(cache_policy=NO_CACHE)
def homepage_task(
    settings: Settings, marts: Marts, params: RecommendParams
) -> tuple[pd.DataFrame, str]:
    """Build every homepage with the champion."""
    return homepage_step(settings, marts, params)


@task(cache_policy=NO_CACHE, **IO_RETRY)
def publish_task(
    settings: Settings, frame: pd.DataFrame, run_id: str | None, manifest: str | None
) -> int:
    """Write ml.recommendations."""
    return publish_step(settings, frame, run_id, manifest)


@flow(name="recommend", log_prints=True)
def recommend_flow(params: RecommendParams | None = None) -> dict[str, Any]:
    """Train, evaluate and publish the homepage recommendations."""
    from prefect.runtime import flow_run

    params = params or RecommendParams()
    settings = get_settings()
    logger = get_run_logger()
    run_id = str(flow_run.id) if flow_run.id else None
    marts = read_marts_task(settings)
    evaluation = evaluate_task(marts, params)
    meta, decision = train_task(settings, marts, params, evaluation, run_id)
    logger.info(
        "%s nDCG@10 %.4f (popularity %.4f): %s",
        meta.ref,
        meta.metrics[GATE_METRIC],
        meta.metrics["popularity_ndcg_at_10"],
        decision.reason,
    )
    frame, champion = homepage_task(settings, marts, params)
    rows = publish_task(settings, frame, run_id, marts.manifest_sha256)
    create_markdown_artifact(
        key="tastemaker-recommender",
        markdown=metrics_markdown(evaluation, params.model, decision),
        description="recommender holdout metrics",
    )
    return {
        "candidate": meta.ref,
        "champion": champion,
        "promoted": decision.promoted,
        "decision": decision.to_dict(),
        "metrics": meta.metrics,
        "evaluation": evaluation,
        "rows_published": rows,
        "users": int(frame["user_id"].nunique()) if len(frame) else 0,
        "artifacts": str(
            ModelRegistry(settings.artifacts_path).version_dir(MODEL_NAME, meta.version)
        ),
    }


# --- reading a published homepage (the `tastemaker recommend` command) -----------------------


class NoRecommendations(LookupError):
    """`ml.recommendations` has not been published yet (the message says what to run)."""


def load_homepage(settings: Settings, user_id: str) -> dict[str, Any]:
    """One user's published homepage joined with title names, as a JSON-ready dict.

    A user id with no published rows gets the anonymous (cold-start) homepage, with
    `shown_as` = ANONYMOUS_USER and `known_user` saying whether the warehouse knows the id.
    """
    from ml.recommend.homepage import ANONYMOUS_USER

    if not settings.warehouse_path.is_file():
        raise MissingMarts(f"no warehouse at {settings.warehouse_path}: run `tastemaker run` first")
    with warehouse_lock(settings.lock_path, settings.warehouse_lock_timeout_s):
        con = connect(settings.warehouse_path)
        try:
            found = con.execute(
                "select count(*) from information_schema.tables "
                "where table_schema = 'ml' and table_name = ?",
                [TABLE],
            ).fetchone()
            if not found or not found[0]:
                raise NoRecommendations(
                    f"no recommendations yet in {settings.warehouse_path}: run "
                    "`tastemaker train recommender` (or `tastemaker run`) first"
                )
            titles_schema = _schema_of(con, "title_features")
            users_schema = _schema_of(con, "user_features")
            join = (
                f'left join "{titles_schema}".title_features t using (title_id)'
                if titles_schema
                else ""
            )
            cols = (
                "t.title_name, t.kind, t.genres, t.runtime_minutes"
                if titles_schema
                else "null as title_name, null as kind, null as genres, null as runtime_minutes"
            )
            query = (
                "select r.user_id, r.row_position, r.row_name, r.row_title, r.rank, r.title_id, "
                f"r.score, r.model_version, {cols} from ml.{TABLE} r {join} "
                "where r.user_id = ? order by r.row_position, r.rank"
            )
            frame = con.execute(query, [user_id]).df()
            known = True
            shown_as = user_id
            if frame.empty:
                known = bool(
                    users_schema
                    and con.execute(
                        f'select count(*) from "{users_schema}".user_features where user_id = ?',
                        [user_id],
                    ).fetchone()[0]
                )
                shown_as = ANONYMOUS_USER
                frame = con.execute(query, [ANONYMOUS_USER]).df()
        finally:
            con.close()
    rows: list[dict[str, Any]] = []
    for (position, name, title), group in frame.groupby(
        ["row_position", "row_name", "row_title"], sort=True
    ):
        rows.append(
            {
                "position": int(position),
                "row_name": name,
                "row_title": title,
                "titles": [
                    {
                        "rank": int(r.rank),
                        "title_id": r.title_id,
                        "title": r.title_name if isinstance(r.title_name, str) else r.title_id,
                        "score": float(r.score),
                        "kind": r.kind if isinstance(r.kind, str) else None,
                        "genres": r.genres if isinstance(r.genres, str) else None,
                        "runtime_minutes": (
                            int(r.runtime_minutes) if pd.notna(r.runtime_minutes) else None
                        ),
                    }
                    for r in group.sort_values("rank").itertuples()
                ],
            }
        )
    rows.sort(key=lambda r: r["position"])
    return {
        "user_id": user_id,
        "shown_as": shown_as,
        "known_user": known,
        "model_version": str(frame["model_version"].iloc[0]) if len(frame) else None,
        "rows": rows,
    }


def homepage_html(page: dict[str, Any]) -> str:
    """A readable, self-contained homepage preview: one section per row, one card per title.
    Every piece of text is HTML-escaped (titles and genres come from landed files)."""
    from html import escape

    def e(value: Any) -> str:
        return escape("" if value is None else str(value), quote=True)

    note = ""
    if page["shown_as"] != page["user_id"]:
        note = (
            f"<p class='note'>{e(page['user_id'])} has no personalised homepage "
            f"({'known user without one yet' if page['known_user'] else 'unknown user'}): "
            "showing the homepage for new visitors.</p>"
        )
    sections = []
    for row in page["rows"]:
        cards = "".join(
            "<li class='card'>"
            f"<span class='rank'>{t['rank']}</span>"
            f"<strong>{e(t['title'])}</strong>"
            f"<span class='meta'>{e(t['kind'])} · {e(t['runtime_minutes'])} min</span>"
            f"<span class='meta'>{e((t['genres'] or '').replace('|', ' · '))}</span>"
            f"<span class='score'>score {t['score']:.3f}</span></li>"
            for t in row["titles"]
        )
        sections.append(
            f"<section><h2>{e(row['row_title'])}</h2><ol class='row'>{cards}</ol></section>"
        )
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>Tastemaker homepage: {e(page['user_id'])}</title><style>"
        "body{font-family:system-ui,sans-serif;background:#141414;color:#eee;margin:2rem}"
        "h1{font-size:1.4rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}"
        ".row{display:flex;gap:.75rem;overflow-x:auto;list-style:none;padding:0}"
        ".card{flex:0 0 10rem;background:#2a2a2a;border-radius:6px;padding:.6rem;"
        "display:flex;flex-direction:column;gap:.25rem}"
        ".rank{color:#e50914;font-weight:bold}.meta,.score{font-size:.8rem;color:#aaa}"
        ".note{color:#f5c518}</style></head><body>"
        f"<h1>Homepage for {e(page['user_id'])}</h1>"
        f"<p class='meta'>model {e(page['model_version'])}</p>{note}"
        + "".join(sections)
        + "</body></html>\n"
    )
