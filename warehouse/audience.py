"""What the audience flows read and publish: marts in, `ml.user_segments`,
`ml.segment_profiles`, `ml.segment_migrations`, `ml.churn_scores` and
`ml.reengagement_actions` out.

Every read and publish takes the warehouse lock inside the function (`Warehouse.session`), so
the flows hold it only around their own I/O. The checks on what was read, and the rows to
publish, are pure functions in `ml.audience.tables` (tested without a warehouse).

`ml.audience` is imported inside the functions that use it, not at the top: it loads
scikit-learn and SciPy (seconds), and `tastemaker segments` / `tastemaker churn` read the
published tables here (`read_segment_profiles`, `read_churn_scores`) to answer in a second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from warehouse.db import ML_SCHEMA, Session, Warehouse
from warehouse.publish import PublishLineage
from warehouse.settings import Settings

if TYPE_CHECKING:
    from ml.audience.reengagement import ReengagementInputs
    from ml.audience.tables import ChurnInputs, SegmentInputs, SegmentTables

#: The published tables the audience commands show (`ml.<name>`).
SEGMENT_PROFILES = "segment_profiles"
CHURN_SCORES = "churn_scores"

# --------------------------------------------------------------------------------------------
# Reading marts
# --------------------------------------------------------------------------------------------


def _mart(db: Session, name: str) -> pd.DataFrame:
    """A mart to learn from: missing or empty is bad data (fails fast, never retried)."""
    from ml.audience.tables import AudienceDataError

    frame = db.read(name)
    if frame is None:
        raise AudienceDataError(f"mart {name!r} does not exist: run `tastemaker transform` first")
    if frame.empty:
        raise AudienceDataError(f"mart {name!r} is empty: nothing to learn from")
    return frame


def load_segment_inputs(settings: Settings) -> SegmentInputs:
    """Read `user_features` and the current `ml.user_segments`."""
    from ml.audience.tables import FEATURES_MART, check_user_features

    with Warehouse(settings).session() as db:
        users = _mart(db, FEATURES_MART)
        previous = db.read("user_segments", schema=ML_SCHEMA, order_by=None)
    return check_user_features(users, previous)


def load_churn_inputs(settings: Settings) -> ChurnInputs:
    """Read `churn_training_set` and, when dbt builds it, `churn_scoring_set` (see
    `ml.audience.tables.churn_inputs` for which rows are scored)."""
    from ml.audience.tables import SCORING_MART, TRAINING_MART, churn_inputs

    with Warehouse(settings).session() as db:
        training = _mart(db, TRAINING_MART)
        scoring = db.read(SCORING_MART, order_by=None)
    return churn_inputs(training, scoring)


def _read_recommendations(db: Session, notes: list[str]) -> pd.DataFrame | None:
    """user_id, title_id, title, rank from `ml.recommendations` + `title_features`, or None."""
    titles = db.find("title_features")
    cols = set(db.columns("recommendations", schema=ML_SCHEMA))
    needed = {"user_id", "title_id", "rank"}
    if not titles or not needed <= cols:
        why = "does not exist" if not cols else f"lacks {sorted(needed - cols)}"
        notes.append(f"ml.recommendations {why}: teasers cannot name a title")
        return None
    order = "r.user_id, r.rank" + (", r.row_name" if "row_name" in cols else "")
    return db.con.execute(
        "select r.user_id, r.title_id, t.title_name as title, r.rank "
        f"from {ML_SCHEMA}.recommendations r join {titles} t using (title_id) order by {order}"
    ).df()


def load_reengagement_inputs(settings: Settings) -> ReengagementInputs:
    """Read the policy's inputs; each is optional.

    - `ml.user_segments` → responses per segment (else pooled over everyone);
    - `user_contact_history` → contact caps and opt-outs. Without it nobody can be known to be
      over a cap or opted out, so *no one is contacted* (every row says why): the policy must
      never nudge an opted-out user;
    - `user_hour_profile` → quiet hours (else the default send hour);
    - `nudge_outcomes` → estimated responses (else the configured priors);
    - `ml.recommendations` + `title_features` → the title a teaser names (else no teasers).
    """
    from ml.audience.reengagement import (
        CONTACTS_MART,
        HOURS_MART,
        NUDGES_MART,
        ReengagementInputs,
        policy_segments,
    )

    notes: list[str] = []
    frames: dict[str, pd.DataFrame | None] = {}
    with Warehouse(settings).session() as db:
        for name in (CONTACTS_MART, HOURS_MART, NUDGES_MART):
            frames[name] = db.read(name)
            if frames[name] is None:
                notes.append(f"mart {name!r} does not exist")
        recommendations = _read_recommendations(db, notes)
        published = db.read("user_segments", schema=ML_SCHEMA, order_by=None)
    segments = policy_segments(published)
    if segments is None:
        notes.append("no ml.user_segments: responses are pooled over all users")
    return ReengagementInputs(
        segments=segments,
        contact_history=frames[CONTACTS_MART],
        hour_profile=frames[HOURS_MART],
        nudge_log=frames[NUDGES_MART],
        recommendations=recommendations,
        notes=notes,
    )


# --------------------------------------------------------------------------------------------
# Publishing
# --------------------------------------------------------------------------------------------


def publish_segments(
    settings: Settings,
    tables: SegmentTables,
    migration: pd.DataFrame | None,
    lineage: PublishLineage,
) -> dict[str, int]:
    """Publish the migration (history kept per model pair and snapshot), the assignment and the
    profiles (latest only)."""
    assert lineage.model_version is not None
    counts: dict[str, int] = {}
    with Warehouse(settings).session() as db:
        if migration is not None:
            key = {
                "from_model_version": migration["from_model_version"].iloc[0],
                "model_version": lineage.model_version,
                "snapshot_date": migration["snapshot_date"].iloc[0],
            }
            counts["segment_migrations"] = db.publish(
                "segment_migrations", migration, lineage, replace_where=key
            )
        counts["user_segments"] = db.publish("user_segments", tables.assignments, lineage)
        counts[SEGMENT_PROFILES] = db.publish(SEGMENT_PROFILES, tables.profiles, lineage)
    return counts


def publish_churn_scores(settings: Settings, scores: pd.DataFrame, lineage: PublishLineage) -> int:
    """Replace this snapshot's scores, keep the earlier snapshots (prediction drift reads them)."""
    from ml.audience.tables import AudienceDataError

    if scores.empty:
        raise AudienceDataError("no users to score: the scoring rows are empty")
    snapshot = scores["snapshot_date"].iloc[0]
    with Warehouse(settings).session() as db:
        return db.publish(CHURN_SCORES, scores, lineage, replace_where={"snapshot_date": snapshot})


def publish_actions(settings: Settings, plan: pd.DataFrame, lineage: PublishLineage) -> int:
    """Replace this snapshot's plan, keep earlier ones (what was sent when, for fatigue audits)."""
    if not len(plan):
        return 0
    snapshot = plan["snapshot_date"].iloc[0]
    with Warehouse(settings).session() as db:
        return db.publish(
            "reengagement_actions", plan, lineage, replace_where={"snapshot_date": snapshot}
        )


# --------------------------------------------------------------------------------------------
# Reading what was published (the `segments` and `churn` commands)
# --------------------------------------------------------------------------------------------


def read_segment_profiles(settings: Settings, *, reader: bool = False) -> pd.DataFrame | None:
    """`ml.segment_profiles` (the latest segmenter's segments) by segment id, the noise segment
    (-1, "too new to tell") last as people read the list; None before the first publish.

    `reader`: wait for a writing run like a read-only command (`read_lock_timeout_s`), then
    `WarehouseBusyError`. A missing warehouse file is `MissingTable` naming what to run."""
    with Warehouse(settings, reader=reader).session() as db:
        return db.read(SEGMENT_PROFILES, schema=ML_SCHEMA, order_by="segment_id < 0, segment_id")


def read_churn_scores(settings: Settings, *, reader: bool = False) -> pd.DataFrame | None:
    """Every kept snapshot of `ml.churn_scores` by snapshot date and user; None before the
    first publish (a run on a young service skips churn on purpose). `reader`: as in
    `read_segment_profiles`."""
    with Warehouse(settings, reader=reader).session() as db:
        return db.read(CHURN_SCORES, schema=ML_SCHEMA, order_by="snapshot_date, user_id")
