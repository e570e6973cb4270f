"""The audience's tables: checks on the marts read, and the rows of the tables published
(segment assignments and profiles with stable segment ids, segment migration).

Pure functions (no Prefect, no warehouse): `warehouse.audience` reads the marts and publishes
what these return (this module publishes nothing: it was once misnamed `publishing`). Tested
directly in tests/audience/test_tables.py.

- `check_user_features` / `churn_inputs`: the checks on the marts read (named columns, one row
  per user) and, for churn, which rows get scored (`churn_scoring_set`, else the latest
  labelled snapshot of `churn_training_set`, with a note).
- `segment_tables`: `ml.user_segments` and `ml.segment_profiles` rows from a fitted
  `UserSegmenter`, in published ids.
- `align_to_previous` / `segment_ids`: published ids stable across runs. A new segmenter's
  clusters are matched (`ml.audience.segments.align_segments`, Hungarian matching on centres) to
  the model that wrote the current `ml.user_segments` and take its ids; the mapping is kept on the
  model (`segment_ids_`), so migration tables compare like with like.
- `migration_table` / `migration_summary`: `ml.segment_migrations` rows (built on
  `ml.audience.segments.segment_migration`) with segment names, and their headline counts.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ml.audience.churn import LABEL, churn_features
from ml.audience.segments import (
    UNSEGMENTED,
    UNSEGMENTED_NAME,
    SegmentName,
    UserSegmenter,
    align_segments,
    name_segments,
    profile_segments,
    segment_migration,
)

log = logging.getLogger(__name__)

FEATURES_MART = "user_features"
TRAINING_MART = "churn_training_set"
SCORING_MART = "churn_scoring_set"
ABSENT = -2  # segment_migration's id for "not in that run"


class AudienceDataError(ValueError):
    """A mart the audience flows read is missing, empty or lacks a column."""


# --------------------------------------------------------------------------------------------
# Inputs: checks on the marts read
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentInputs:
    """`user_features` as of its snapshot date, and the assignment published before this run."""

    users: pd.DataFrame
    snapshot_date: dt.date
    previous: pd.DataFrame | None  # ml.user_segments as published, or None


def check_user_features(users: pd.DataFrame, previous: pd.DataFrame | None = None) -> SegmentInputs:
    """`user_features` checked (user_id and snapshot_date present, one row per user) and sorted
    by user_id, so the same mart always gives the same segments."""
    for col in ("user_id", "snapshot_date"):
        if col not in users.columns:
            raise AudienceDataError(f"mart {FEATURES_MART!r} lacks the column {col!r}")
    if users["user_id"].duplicated().any():
        dup = users.loc[users["user_id"].duplicated(), "user_id"].iloc[0]
        raise AudienceDataError(f"mart {FEATURES_MART!r} holds user_id {dup!r} more than once")
    snapshot = pd.Timestamp(users["snapshot_date"].max()).date()
    users = users.sort_values("user_id", ignore_index=True)
    return SegmentInputs(users=users, snapshot_date=snapshot, previous=previous)


@dataclass(frozen=True)
class ChurnInputs:
    """Labelled snapshots to train on, the rows to score and where the latter came from."""

    training: pd.DataFrame
    scoring: pd.DataFrame
    scoring_source: str
    notes: list[str] = field(default_factory=list)


def churn_inputs(training: pd.DataFrame, scoring: pd.DataFrame | None) -> ChurnInputs:
    """Check `churn_training_set` and choose the rows to score.

    The rows to score are the latest snapshot of the mart `churn_scoring_set` (the users
    subscribed at the marts' snapshot date, same feature columns, no label) when dbt builds it
    (`scoring` not None and not empty); until then the latest labelled snapshot of
    `churn_training_set`, which is at least one label horizon old (a note says so).
    """
    notes: list[str] = []
    for col in ("user_id", "snapshot_date", LABEL):
        if col not in training.columns:
            raise AudienceDataError(f"mart {TRAINING_MART!r} lacks the column {col!r}")
    if scoring is not None and not scoring.empty:
        missing = [c for c in churn_features(training).columns if c not in scoring.columns]
        if missing:
            raise AudienceDataError(
                f"mart {SCORING_MART!r} lacks the feature columns {missing} of {TRAINING_MART!r}"
            )
        latest = scoring["snapshot_date"].max()
        scoring = scoring[scoring["snapshot_date"] == latest].reset_index(drop=True)
        source = SCORING_MART
    else:
        why = "does not exist" if scoring is None else "is empty"
        latest = training["snapshot_date"].max()
        scoring = training[training["snapshot_date"] == latest].drop(columns=[LABEL])
        scoring = scoring.reset_index(drop=True)
        source = f"{TRAINING_MART} (latest labelled snapshot)"
        notes.append(
            f"mart {SCORING_MART!r} {why}: scoring the latest "
            f"labelled snapshot of {TRAINING_MART} ({pd.Timestamp(latest).date()}), which is at "
            "least one label horizon behind the marts"
        )
        log.warning(notes[-1])
    return ChurnInputs(training=training, scoring=scoring, scoring_source=source, notes=notes)


# --------------------------------------------------------------------------------------------
# Segment ids, tables, migration
# --------------------------------------------------------------------------------------------


def segment_ids(segmenter: UserSegmenter) -> dict[int, int]:
    """Raw K-Means label → published segment id (identity for a model never aligned)."""
    ids = getattr(segmenter, "segment_ids_", None)
    k = segmenter.kmeans_.n_clusters
    return {int(r): int(ids[r]) for r in range(k)} if ids is not None else {r: r for r in range(k)}


def align_to_previous(candidate: UserSegmenter, previous: UserSegmenter | None) -> dict[int, int]:
    """Published ids for the candidate's clusters: those of the previous model's closest
    centres; clusters with no partner get ids above every previous one."""
    if previous is None:
        return {r: r for r in range(candidate.kmeans_.n_clusters)}
    prev_ids = segment_ids(previous)
    mapping = align_segments(previous.centers_, candidate.centers_)
    n_prev = previous.kmeans_.n_clusters
    next_id = max(prev_ids.values()) + 1
    out: dict[int, int] = {}
    for raw in sorted(mapping):
        if mapping[raw] < n_prev:
            out[raw] = prev_ids[mapping[raw]]
        else:
            out[raw] = next_id
            next_id += 1
    return out


def adopt_ids(candidate: UserSegmenter, previous: UserSegmenter | None) -> UserSegmenter:
    """Store on the candidate (`segment_ids_`) the published ids `align_to_previous` gives its
    clusters, so every table it writes and its registry entry use them. Returns the candidate."""
    ids = align_to_previous(candidate, previous)
    candidate.segment_ids_ = np.array([ids[r] for r in range(candidate.kmeans_.n_clusters)])
    return candidate


@dataclass(frozen=True)
class SegmentTables:
    """What a segmenter says about a set of users, ready to publish."""

    assignments: pd.DataFrame  # ml.user_segments rows
    profiles: pd.DataFrame  # ml.segment_profiles rows
    long_profiles: pd.DataFrame = field(repr=False)  # profile_segments output (published ids)
    names: list[SegmentName] = field(repr=False, default_factory=list)
    labels: np.ndarray = field(repr=False, default_factory=lambda: np.array([]))


def _top_features(grp: pd.DataFrame, n: int = 5) -> list[dict[str, Any]]:
    ranked = grp[grp["z"].abs() > 1e-9].reindex(grp["z"].abs().sort_values(ascending=False).index)
    ranked = ranked[ranked["z"].abs() > 1e-9].head(n)
    return [
        {
            "feature": r.feature,
            "segment_mean": round(float(r.segment_mean), 4),
            "population_mean": round(float(r.population_mean), 4),
            "lift": None if pd.isna(r.lift) else round(float(r.lift), 3),
            "z": round(float(r.z), 3),
        }
        for r in ranked.itertuples()
    ]


def _top_features_text(items: list[dict[str, Any]]) -> str:
    def one(i: dict[str, Any]) -> str:
        lift = "n/a" if i["lift"] is None else f"{i['lift']:.1f}x"
        return f"{i['feature']} {i['segment_mean']:.3g} vs {i['population_mean']:.3g} ({lift})"

    return "; ".join(one(i) for i in items)


def segment_tables(
    segmenter: UserSegmenter, users: pd.DataFrame, snapshot_date: dt.date
) -> SegmentTables:
    """Assignments (with distance to the own centre and the margin to the next one) and one
    profile row per segment of the model, plus the not-segmented group.

    A segment nobody falls into this time keeps a row (size 0, "no members this run") rather
    than vanishing, so a consumer joining on segment_id never loses one silently.
    """
    ids = segment_ids(segmenter)
    raw = segmenter.predict(users)
    labels = np.array([ids[int(r)] if r >= 0 else UNSEGMENTED for r in raw])
    mask = raw >= 0
    distance = np.full(len(users), np.nan)
    margin = np.full(len(users), np.nan)
    if mask.any():
        d = segmenter.kmeans_.transform(segmenter.transform(users[mask]))
        own = d[np.arange(len(d)), raw[mask]]
        distance[mask] = own
        if d.shape[1] > 1:
            margin[mask] = np.partition(d, 1, axis=1)[:, 1] - own
    long = profile_segments(users, labels, segmenter.feature_names_)
    names = name_segments(long)
    name_of = {n.segment: n for n in names}
    for seg in ids.values():
        if seg not in name_of:
            name_of[seg] = SegmentName(
                seg, f"Segment {seg} (no members this run)", "Nobody falls into this segment "
                "in this run's data.", 0, 0.0,
            )  # fmt: skip
    name_of[UNSEGMENTED] = SegmentName(
        UNSEGMENTED,
        UNSEGMENTED_NAME,
        f"Fewer than {segmenter.min_views} plays: not enough viewing to tell their taste yet.",
        int((~mask).sum()),
        0.0,
    )
    assignments = pd.DataFrame(
        {
            "user_id": users["user_id"].to_numpy(),
            "snapshot_date": snapshot_date,
            "segment_id": labels.astype(int),
            "segment_name": [name_of[s].name for s in labels],
            "distance_to_center": distance,
            "margin_to_next_center": margin,
        }
    )
    n_all, n_seg = len(users), int(mask.sum())
    rows = []
    for seg in sorted(name_of, key=lambda s: (s == UNSEGMENTED, s)):
        info = name_of[seg]
        size = int((labels == seg).sum())
        top = _top_features(long[long["segment"] == seg]) if seg != UNSEGMENTED else []
        rows.append(
            {
                "segment_id": seg,
                "segment_name": info.name,
                "description": info.description,
                "size": size,
                "share": size / n_all if n_all else 0.0,
                "share_of_segmented": (size / n_seg if n_seg else 0.0)
                if seg != UNSEGMENTED
                else None,
                "top_features": _top_features_text(top),
                "top_features_json": json.dumps(top),
                "snapshot_date": snapshot_date,
            }
        )
    profiles = pd.DataFrame(rows)
    return SegmentTables(assignments, profiles, long, list(name_of.values()), labels)


def migration_table(
    previous: pd.DataFrame | None, current: pd.DataFrame, model_version: str
) -> pd.DataFrame | None:
    """Who moved where between the published assignment and this one (ids are aligned).

    Columns: from_model_version, from_segment, from_name, to_segment, to_name, users,
    share_of_from, snapshot_date, model_version. Users only in one of the two appear with
    segment -2 ("absent"): arrivals and departures. None when nothing was published before.
    """
    if previous is None or previous.empty:
        return None
    prev = previous.rename(columns={"segment_id": "segment"})
    cur = current.rename(columns={"segment_id": "segment"})
    table = segment_migration(prev, cur)
    prev_names = prev.groupby("segment")["segment_name"].first().to_dict()
    cur_names = cur.groupby("segment")["segment_name"].first().to_dict()
    prev_names[ABSENT] = cur_names[ABSENT] = "(absent)"
    from_versions = sorted(previous["model_version"].dropna().astype(str).unique())
    table.insert(0, "from_model_version", ", ".join(from_versions) or None)
    table.insert(2, "from_name", table["from_segment"].map(prev_names))
    table.insert(4, "to_name", table["to_segment"].map(cur_names))
    table["snapshot_date"] = current["snapshot_date"].iloc[0]
    table["model_version"] = model_version
    return table


def migration_summary(migration: pd.DataFrame | None) -> dict[str, Any] | None:
    """Headline counts of a migration table: stayed, moved, arrived, left (None: no table)."""
    if migration is None:
        return None
    f, t, n = migration["from_segment"], migration["to_segment"], migration["users"]
    return {
        "from_model_version": migration["from_model_version"].iloc[0],
        "stayed": int(n[(f == t) & (f != ABSENT)].sum()),
        "moved": int(n[(f != t) & (f != ABSENT) & (t != ABSENT)].sum()),
        "arrived": int(n[f == ABSENT].sum()),
        "left": int(n[t == ABSENT].sum()),
    }
