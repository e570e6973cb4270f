"""The recommender's candidate and champion: evaluated, fitted, saved, gated, and used.

No Prefect and no warehouse here: the flow reads the marts (`warehouse.recommend.read_marts`)
and hands them over; anything with the `RecommenderData` attributes will do. The parameters
are anything carrying the `RecommenderRules` attributes (the flow's `RecommendParams`).

Promotion gate (why this metric): nDCG@10 on the candidate's temporal holdout (the last
`holdout_days` of viewing), the metric the homepage's first row is judged by. The candidate may
trail the champion by `gate_tolerance`. Scores from different holdouts are not comparable (the
registry refuses them), so when new viewing moved the holdout, the champion's configuration is
refit on the candidate's training split and scored on the candidate's holdout: the champion
artifact itself was fitted on every interaction, some of which are in the new holdout, and
scoring it there would reward memorising (the churn gate in ml.audience.gates does the same).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import pandas as pd

from ml.recommend.content import ContentModel
from ml.recommend.homepage import HomepageConfig, TopPicksModel, build_homepages
from ml.recommend.training import (
    BASELINES,
    evaluate_temporal,
    fit_top_picks,
    make_ranker,
    temporal_holdout,
)
from ml.registry import DataWindow, ModelRegistry, ModelVersion, PromotionDecision, PromotionGate

log = logging.getLogger(__name__)

RECOMMENDER = "recommender"
GATE_METRIC = "ndcg_at_10"
#: The holdout's cut-off: the gate metric is nDCG at this depth, whatever the homepage's k.
GATE_K = 10


class RecommenderRules(Protocol):
    """How the recommender is evaluated and gated (the flow's `RecommendParams` has these)."""

    @property
    def model(self) -> str: ...
    @property
    def k(self) -> int: ...
    @property
    def holdout_days(self) -> int: ...
    @property
    def cut(self) -> Any: ...
    @property
    def max_anchors(self) -> int: ...
    @property
    def gate_tolerance(self) -> float: ...
    @property
    def random_state(self) -> int: ...


class RecommenderData(Protocol):
    """The marts the recommender learns from (`warehouse.recommend.Marts` has these)."""

    interactions: pd.DataFrame
    title_features: pd.DataFrame
    user_features: pd.DataFrame
    catalog: pd.DataFrame
    manifest_sha256: str | None

    def row_counts(self) -> dict[str, int]: ...
    def snapshot_date(self) -> str | None: ...


def evaluate_recommender(data: RecommenderData, rules: RecommenderRules) -> dict[str, Any]:
    """The chosen model vs popularity and random on the temporal holdout."""
    return evaluate_temporal(
        data.interactions,
        data.title_features,
        holdout_days=rules.holdout_days,
        k=GATE_K,
        models=[rules.model, *BASELINES],
        cut=rules.cut,
        random_state=rules.random_state,
    )


def ease_params(evaluation: dict[str, Any], model: str) -> tuple[float, float] | None:
    """EASE's (λ, α) as tuned on the evaluation's training split, or None for other models."""
    row = evaluation["models"].get("ease" if model in ("ease", "blend") else model, {})
    if "l2" in row:
        return float(row["l2"]), float(row["diag_dropout"])
    return None


def holdout_metrics(evaluation: dict[str, Any], model: str) -> dict[str, float]:
    """What the registry records for a candidate: the gate metric, the other ranking metrics,
    and the baselines' nDCG@10 on the same holdout (a candidate's score means little alone)."""
    rows = evaluation["models"]
    keep = ("ndcg_at_k", "map_at_k", "precision_at_k", "recall_at_k", "coverage", "novelty")
    out = {GATE_METRIC: float(rows[model]["ndcg_at_k"])}
    out.update({k: float(rows[model][k]) for k in keep if k in rows[model]})
    for base in BASELINES:
        out[f"{base}_ndcg_at_10"] = float(rows[base]["ndcg_at_k"])
    return out


def champion_on_holdout(
    champion: TopPicksModel,
    interactions: pd.DataFrame,
    rules: RecommenderRules,
    evaluation: dict[str, Any],
) -> float:
    """The champion's configuration refit on the candidate's training split and scored on its
    holdout: scores from different holdouts are not comparable (the registry's gate)."""
    from sklearn.base import clone

    from ml.recommend.evaluate import evaluate_ranking

    split, _, _ = temporal_holdout(
        interactions, rules.holdout_days, evaluation["protocol"]["temporal"]["cut"]
    )
    try:
        ranker = clone(champion.ranker)
    except (TypeError, RuntimeError):
        ranker = make_ranker(champion.name, split.train, rules.random_state)
    return float(evaluate_ranking(split, {"champion": ranker}, GATE_K)["champion"]["ndcg_at_k"])


def train_recommender(
    registry: ModelRegistry,
    data: RecommenderData,
    rules: RecommenderRules,
    evaluation: dict[str, Any],
    *,
    run_id: str | None,
) -> tuple[ModelVersion, PromotionDecision]:
    """Fit on all interactions, save a version with its metrics and lineage, promote via the gate.

    EASE's λ tuned on the evaluation's training split is reused for the final fit, so the saved
    model is the configuration the holdout measured.
    """
    model = fit_top_picks(
        data.interactions,
        rules.model,
        rules.random_state,
        ease_params=ease_params(evaluation, rules.model),
    )
    temporal = evaluation["protocol"]["temporal"]
    meta = registry.save(
        model,
        RECOMMENDER,
        metrics=holdout_metrics(evaluation, rules.model),
        holdout_id=temporal["holdout_id"],
        data_window=DataWindow(
            start=temporal["data_window"]["start"],
            end=temporal["data_window"]["end"],
            snapshot_date=data.snapshot_date(),
        ),
        row_counts={
            **data.row_counts(),
            "train_pairs": temporal["train_pairs"],
            "test_pairs": temporal["test_pairs"],
        },
        manifest_sha256=data.manifest_sha256,
        parameters={"model": rules.model, **model.params, "holdout_cut": temporal["cut"]},
        run_id=run_id,
    )
    champion_score = None
    current = registry.champion_version(RECOMMENDER)
    if current is not None and current != meta.version:
        champ_meta = registry.metadata(RECOMMENDER, current)
        if champ_meta.holdout_id != meta.holdout_id:
            champion, _ = registry.load(RECOMMENDER, current)
            champion_score = champion_on_holdout(champion, data.interactions, rules, evaluation)
            log.info(
                "champion %s refit on the candidate's training split: holdout nDCG@10 %.4f",
                champ_meta.ref,
                champion_score,
            )
    decision = registry.promote(
        RECOMMENDER,
        meta.version,
        PromotionGate(GATE_METRIC, higher_is_better=True, tolerance=rules.gate_tolerance),
        champion_score=champion_score,
    )
    return meta, decision


def champion_homepages(
    registry: ModelRegistry, data: RecommenderData, rules: RecommenderRules
) -> tuple[pd.DataFrame, str]:
    """Every user's homepage (and the anonymous one) from the registry's champion, whichever
    version that is after the gate; returns the rows to publish and the champion's reference."""
    champion, meta = registry.load(RECOMMENDER)
    content = ContentModel().fit(data.catalog) if len(data.catalog) else None
    frame = build_homepages(
        data.interactions,
        data.title_features,
        data.user_features,
        champion,
        content,
        HomepageConfig(k=rules.k, max_anchors=rules.max_anchors),
    )
    return frame.assign(model_version=meta.ref), meta.ref
