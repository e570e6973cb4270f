"""Recommendation quality over time with Evidently 0.7's recsys metrics (no Prefect).

A *period* is what one set of recommendations met: the recommendations (user_id, title_id, rank,
score), the holdout (the titles each user went on to watch after the recommendations were made)
and the training interactions (what was known before; Evidently's novelty and popularity bias
need it). `run_recsys_quality(reference, current, ...)` evaluates both periods with the same
metrics and says which ones moved the wrong way by more than a relative tolerance:

| metric | Evidently | better |
|---|---|---|
| ndcg@k, hit_rate@k | `NDCG`, `HitRate` (users with feedback in the holdout) | higher |
| coverage@k | `PopularityBiasMetric(metric="coverage")`: share of titles recommended | higher |
| personalization@k | `Personalization`: 1 − mean overlap of two users' lists | higher |
| novelty@k | `Novelty`: mean −log2(share of users who watched the title) | higher |
| popularity_bias@k | `PopularityBiasMetric(metric="arp", normalize_arp=True)` | lower |
| gini@k | `PopularityBiasMetric(metric="gini")`: concentration of recommendations | lower |

Why a relative tolerance and a minimum of users: these are averages over users, and with a few
dozen users one good or bad list moves them by several percent. Below `min_users` users with
feedback in either period the status is `insufficient_data`, never `degraded`.

Results are read from the snapshot JSON by metric type, never by position. Evidently reports
ranking metrics (NDCG, HitRate) as a curve over k; the value at k is taken.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd

log = logging.getLogger(__name__)

RecsysStatus = Literal["ok", "degraded", "insufficient_data"]

#: metric name -> (Evidently class name, extra args, higher is better)
METRICS: dict[str, tuple[str, dict[str, Any], bool]] = {
    "ndcg": ("NDCG", {}, True),
    "hit_rate": ("HitRate", {}, True),
    "coverage": ("PopularityBiasMetric", {"metric": "coverage"}, True),
    "personalization": ("Personalization", {}, True),
    "novelty": ("Novelty", {}, True),
    "popularity_bias": ("PopularityBiasMetric", {"metric": "arp", "normalize_arp": True}, False),
    "gini": ("PopularityBiasMetric", {"metric": "gini"}, False),
}


@dataclass(frozen=True)
class RecsysPeriod:
    """What one set of recommendations met.

    recommendations: user_id, title_id, rank (1 = best) [, score]
    holdout: user_id, title_id — titles watched after the recommendations were made
    train: user_id, title_id — interactions known when they were made
    window: what the period covers (dates, model version), for the record.
    """

    recommendations: pd.DataFrame
    holdout: pd.DataFrame
    train: pd.DataFrame
    window: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricChange:
    name: str
    reference: float | None
    current: float | None
    higher_is_better: bool
    relative_change: float | None
    degraded: bool


@dataclass(frozen=True)
class RecsysSummary:
    """Recommendation quality of two periods, in the shape the drift summaries use."""

    dataset: str
    report_id: str
    created_at: str
    status: RecsysStatus
    k: int
    tolerance: float
    min_users: int
    reference_users: int
    current_users: int
    reference_window: dict[str, Any]
    current_window: dict[str, Any]
    metrics: list[MetricChange]
    lineage: dict[str, Any] = field(default_factory=dict)
    html_path: str | None = None
    json_path: str | None = None

    @property
    def degraded_metrics(self) -> list[str]:
        return [m.name for m in self.metrics if m.degraded]

    def value(self, name: str, which: Literal["reference", "current"] = "current") -> float | None:
        for m in self.metrics:
            if m.name == name:
                return getattr(m, which)
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["degraded_metrics"] = self.degraded_metrics
        return data

    @classmethod
    def load(cls, path: Path) -> RecsysSummary:
        data = json.loads(Path(path).read_text())
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["metrics"] = [MetricChange(**m) for m in data.get("metrics", [])]
        return cls(**fields)


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"{what}: columns missing {missing}; has {list(frame.columns)}")


def _check(period: RecsysPeriod, which: str) -> None:
    _require(period.recommendations, ("user_id", "title_id", "rank"), f"{which} recommendations")
    _require(period.holdout, ("user_id", "title_id"), f"{which} holdout")
    _require(period.train, ("user_id", "title_id"), f"{which} train")
    ranks = pd.to_numeric(period.recommendations["rank"], errors="coerce")
    bad = ranks.isna() | (ranks < 1) | (ranks != ranks.round())
    if bad.any():
        pos = int(bad.to_numpy().nonzero()[0][0])
        row = period.recommendations.iloc[pos]
        raise ValueError(
            f"{which} recommendations: row {pos} (user_id {row['user_id']!r}, title_id "
            f"{row['title_id']!r}): rank={row['rank']} is not a whole number >= 1"
        )


def ranking_frame(period: RecsysPeriod, k: int) -> pd.DataFrame:
    """Evidently's recsys input: one row per (user, title) recommended or relevant.

    Recommended titles carry their rank (re-numbered 1..n per user in rank order) and target 1
    if the user watched them in the holdout; holdout titles that were not recommended carry
    rank k + 1 (outside the top k) and target 1, so recall and NDCG see what was missed. Only
    users who received recommendations are evaluated.
    """
    recs = period.recommendations.loc[:, ["user_id", "title_id", "rank"]].copy()
    recs["user_id"] = recs["user_id"].astype(str)
    recs["title_id"] = recs["title_id"].astype(str)
    recs = recs.sort_values(["user_id", "rank"]).drop_duplicates(["user_id", "title_id"])
    recs["rank"] = recs.groupby("user_id").cumcount() + 1
    hold = period.holdout.loc[:, ["user_id", "title_id"]].astype(str).drop_duplicates()
    hold = hold[hold["user_id"].isin(set(recs["user_id"]))]
    hold["target"] = 1
    merged = recs.merge(hold, on=["user_id", "title_id"], how="outer")
    merged["target"] = merged["target"].fillna(0).astype(int)
    merged["rank"] = merged["rank"].fillna(k + 1).astype(int)
    out = merged.rename(columns={"title_id": "item_id", "rank": "prediction"})
    return out.loc[:, ["user_id", "item_id", "prediction", "target"]].reset_index(drop=True)


def _train_frame(period: RecsysPeriod) -> pd.DataFrame:
    train = period.train.loc[:, ["user_id", "title_id"]].astype(str).drop_duplicates()
    train = train.rename(columns={"title_id": "item_id"})
    train["target"] = 1
    return train.reset_index(drop=True)


def _metrics(k: int) -> list:
    import evidently.metrics as em

    return [getattr(em, cls)(k=k, **args) for cls, args, _ in METRICS.values()]


def _definition():
    from evidently import DataDefinition
    from evidently.core.datasets import Recsys

    return DataDefinition(
        numerical_columns=["prediction", "target"],
        categorical_columns=["user_id", "item_id"],
        ranking=[
            Recsys(
                user_id="user_id",
                item_id="item_id",
                target="target",
                prediction="prediction",
                recommendations_type="rank",
            )
        ],
    )


def _value_at_k(value: Any, k: int) -> float | None:
    """A single value, or the value at k of a curve `{"rank": {...}, "value": {...}}`.

    Evidently's curve lists the values for k = 1, 2, ... in order (its rank labels are offset),
    so the k-th entry is taken, or the last one when lists are shorter than k.
    """
    if isinstance(value, dict) and "value" in value:
        values = list(value["value"].values())
        if not values:
            return None
        value = values[min(k, len(values)) - 1]
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _read(snapshot: Any, k: int) -> dict[str, float | None]:
    """Metric values by name, matched on each metric's type and config (never by position)."""
    out: dict[str, float | None] = {}
    for metric in json.loads(snapshot.json())["metrics"]:
        config = metric.get("config", {})
        cls = config.get("type", "").rsplit(":", 1)[-1]
        for name, (want, args, _) in METRICS.items():
            if cls == want and all(config.get(a) == v for a, v in args.items()):
                out[name] = _value_at_k(metric.get("value"), k)
    return out


def _users_with_feedback(frame: pd.DataFrame) -> int:
    return int(frame.loc[frame["target"] > 0, "user_id"].nunique())


def run_recsys_quality(
    reference: RecsysPeriod,
    current: RecsysPeriod,
    out_dir: Path,
    *,
    k: int = 10,
    tolerance: float = 0.1,
    min_users: int = 50,
    lineage: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    write_html: bool = True,
    dataset: str = "recommendations",
) -> RecsysSummary:
    """Evaluate both periods with Evidently's recsys metrics; write HTML + JSON under
    `<out_dir>/<date>/`; a metric is `degraded` when it moved the wrong way by more than
    `tolerance` (relative to the reference value)."""
    from evidently import Dataset, Report

    if k < 1 or not 0 < tolerance < 1 or min_users < 1:
        raise ValueError(f"need k >= 1, 0 < tolerance < 1, min_users >= 1 (got {k}, {tolerance})")
    _check(reference, "reference")
    _check(current, "current")
    created = (now or datetime.now(UTC)).astimezone(UTC)
    definition = _definition()
    frames = {n: ranking_frame(p, k) for n, p in (("reference", reference), ("current", current))}
    trains = {n: _train_frame(p) for n, p in (("reference", reference), ("current", current))}
    data = {n: Dataset.from_pandas(f, data_definition=definition) for n, f in frames.items()}
    # The current period against the reference (HTML shows both), then the reference alone.
    snap_cur = Report(_metrics(k)).run(
        data["current"],
        data["reference"],
        additional_data={
            "current_train_data": trains["current"],
            "reference_train_data": trains["reference"],
        },
    )
    snap_ref = Report(_metrics(k)).run(
        data["reference"], None, additional_data={"current_train_data": trains["reference"]}
    )
    values = {"current": _read(snap_cur, k), "reference": _read(snap_ref, k)}
    users = {n: _users_with_feedback(f) for n, f in frames.items()}
    enough = min(users.values()) >= min_users

    changes: list[MetricChange] = []
    for name, (_, _, higher) in METRICS.items():
        ref_v, cur_v = values["reference"].get(name), values["current"].get(name)
        rel = None
        if ref_v is not None and cur_v is not None and ref_v != 0:
            rel = (cur_v - ref_v) / abs(ref_v)
        worse = rel is not None and (rel < -tolerance if higher else rel > tolerance)
        changes.append(MetricChange(name, ref_v, cur_v, higher, rel, enough and worse))
    degraded = any(c.degraded for c in changes)
    status: RecsysStatus = "insufficient_data" if not enough else ("degraded" if degraded else "ok")

    day_dir = Path(out_dir) / created.strftime("%Y-%m-%d")
    day_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{dataset}_quality_{created.strftime('%H%M%S%fZ')}"
    html_path = day_dir / f"{stem}.html" if write_html else None
    json_path = day_dir / f"{stem}.json"
    report_id = f"{day_dir.name}/{stem}"
    summary = RecsysSummary(
        dataset=dataset,
        report_id=report_id,
        created_at=created.isoformat(),
        status=status,
        k=k,
        tolerance=tolerance,
        min_users=min_users,
        reference_users=users["reference"],
        current_users=users["current"],
        reference_window=dict(reference.window),
        current_window=dict(current.window),
        metrics=changes,
        lineage={**dict(lineage or {}), "report_id": report_id},
        html_path=str(html_path) if html_path else None,
        json_path=str(json_path),
    )
    if html_path is not None:
        snap_cur.save_html(str(html_path))
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary.to_dict(), indent=2, default=str) + "\n")
    tmp.replace(json_path)
    log.info(
        "%s quality: %s (degraded: %s; users with feedback %d reference / %d current)",
        dataset,
        status,
        ", ".join(summary.degraded_metrics) or "none",
        users["reference"],
        users["current"],
    )
    return summary
