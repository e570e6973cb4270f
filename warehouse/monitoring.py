"""What the monitor reads from the warehouse: feature windows, churn-score snapshots and the
latest recommendations with the first watches that judge them.

dbt owns every transformation and Python reads marts. The mart `user_feature_windows`
(dbt_project/models/marts/monitoring/) holds the `user_features` columns computed over two equal,
adjacent windows (`window_name` in {'reference', 'current'}, bounds in `window_start` /
`window_end`). The platform's dbt build makes it with the default windows (28 days ending at the
marts' snapshot date); other windows are built by dbt on a scratch copy of the warehouse, so a
monitoring run never rewrites the shared mart other readers rely on.

Every read goes through `Warehouse(settings).session()` and `Session.find` / `Session.read`.
Rows are read in the table's own order (`order_by=None`), as the monitor always has: the drift
noise floor permutes rows with a fixed seed, so another order would move its figures.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from monitoring.checks import Skipped
from monitoring.lineage import published_lineage
from warehouse.db import ML_SCHEMA, Session, Warehouse
from warehouse.dbtrun import dbt_target_dir, manifest_sha256, run_dbt
from warehouse.settings import Settings

log = logging.getLogger(__name__)

WINDOWS_MART = "user_feature_windows"
CHURN_TABLE = "churn_scores"
RECS_TABLE = "recommendations"
INTERACTIONS_MART = "user_title_interactions"
#: Rows compared: users who watched in the window. How viewers watch (shares, habits) is the data
#: drift question; how many stopped watching is churn's, monitored by prediction drift on churn
#: scores. Without it the fading, churning part of any population moves every activity column.
ACTIVE_FILTER = "watch_hours > 0"

Bounds = dict[str, tuple[dt.date, dt.date]]


@dataclass(frozen=True)
class ReferencePeriod:
    """The period a drift check compares the current window with, before it is fitted to the
    windows: `kind` is `training` (the champions' data window), `pinned` (a set period) or
    `adjacent` (the window before the current one; `start`/`end` unused). `source` says where
    the period came from (the champion versions, or the settings), for the report."""

    kind: str
    start: dt.date | None = None
    end: dt.date | None = None
    source: str = ""
    notes: tuple[str, ...] = ()

    @classmethod
    def adjacent(cls, source: str = "", notes: tuple[str, ...] = ()) -> ReferencePeriod:
        return cls("adjacent", source=source, notes=notes)


def fit_reference(
    reference: ReferencePeriod, current_end: dt.date, days: int
) -> tuple[ReferencePeriod, int]:
    """The reference cut to end where the current window starts, and how many whole windows of
    `days` it holds (0 for adjacent). A champion trained up to the snapshot has seen the current
    window: comparing a window with itself would hide what it exists to show. When less than one
    window is left, the adjacent window stands in and a note says why."""
    if reference.kind == "adjacent":
        return reference, 0
    assert reference.start is not None and reference.end is not None
    current_start = current_end - dt.timedelta(days=days)
    end = min(reference.end, current_start)
    count = max((end - reference.start).days // days, 0)
    if count < 1:
        note = (
            f"the {reference.kind} reference [{reference.start}, {reference.end}) holds no "
            f"whole {days}-day window before the current window starts ({current_start}): "
            "compared with the adjacent window instead"
        )
        return ReferencePeriod.adjacent(reference.source, (*reference.notes, note)), 0
    start = end - dt.timedelta(days=count * days)
    return ReferencePeriod(reference.kind, start, end, reference.source, reference.notes), count


@dataclass(frozen=True)
class FeatureWindows:
    """Reference and current feature frames (one row per viewer) and what they cover.

    `windowed` is True when both frames cover equal-length windows (always, since the windowed
    mart exists); it lets the drift spec compare counters such as `views_total`."""

    reference: pd.DataFrame
    current: pd.DataFrame
    reference_window: dict[str, Any]
    current_window: dict[str, Any]
    source: str
    windowed: bool
    manifest_sha256: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChurnSnapshots:
    """The two latest snapshots of `ml.churn_scores` and what each window covers (its table,
    snapshot date and the lineage of the run that published it)."""

    reference: pd.DataFrame
    current: pd.DataFrame
    reference_window: dict[str, Any]
    current_window: dict[str, Any]


@dataclass(frozen=True)
class PublishedRecommendations:
    """`ml.recommendations` as published, and every first watch (user_id, title_id,
    first_watched_at) from `user_title_interactions`."""

    recommendations: pd.DataFrame
    watched: pd.DataFrame


def _built_windows(db: Session) -> Bounds | None:
    """The (start, end) of each window in the built mart, or None when there is no such mart."""
    rows = db.read(
        WINDOWS_MART, columns=["window_name", "window_start", "window_end"], order_by=None
    )
    if rows is None:
        return None
    bounds = rows.groupby("window_name").agg(
        start=("window_start", "min"), end=("window_end", "max")
    )
    return {
        str(name): (pd.Timestamp(start).date(), pd.Timestamp(end).date())
        for name, start, end in bounds.itertuples()
        if pd.notna(start)
    }


def _matches(
    built: Bounds | None,
    days: int,
    current_end: dt.date | None,
    reference: ReferencePeriod | None = None,
) -> bool:
    """Does the built mart already hold the windows asked for?"""
    if not built or set(built) != {"reference", "current"}:
        return False
    start, end = built["current"]
    if (end - start).days != days or (current_end is not None and current_end != end):
        return False
    if reference is None or reference.kind == "adjacent":
        return built["reference"] == (start - dt.timedelta(days=days), start)
    return built["reference"] == (reference.start, reference.end)


def _frames(db: Session, built: Bounds | None = None) -> tuple[pd.DataFrame, pd.DataFrame, Bounds]:
    """The active rows of each window, and the windows' bounds (`built` when already read)."""
    frame = db.require(WINDOWS_MART, where=ACTIVE_FILTER, order_by=None)
    ref = frame[frame["window_name"] == "reference"].reset_index(drop=True)
    cur = frame[frame["window_name"] == "current"].reset_index(drop=True)
    return ref, cur, (built if built is not None else _built_windows(db)) or {}


def _describe(built: Bounds) -> str:
    return ", ".join(f"{name} [{start}, {end})" for name, (start, end) in sorted(built.items()))


def _scratch_build(
    settings: Settings, scratch_home: Path, dbt_vars: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, Bounds]:
    """Build `user_feature_windows` with `dbt_vars` on the copy at `<scratch_home>/
    warehouse.duckdb`, read it, and delete the copy."""
    scratch = settings.model_copy(
        update={"home": scratch_home, "duckdb_path": scratch_home / "warehouse.duckdb"}
    )
    try:
        result = run_dbt(scratch, "run", select=WINDOWS_MART, dbt_vars=dbt_vars)
        if not result.success or result.failed:
            messages = "; ".join(f"{n.unique_id}: {n.message}" for n in result.failures)
            raise RuntimeError(
                f"dbt run of {WINDOWS_MART} with {dbt_vars} failed: {messages or 'see dbt log'}"
            )
        with Warehouse(scratch).session() as db:
            return _frames(db)
    finally:
        scratch.warehouse_path.unlink(missing_ok=True)


def load_feature_windows(
    settings: Settings,
    *,
    window_days: int | None = None,
    current_end: dt.date | None = None,
    scratch: Path | None = None,
    reference: ReferencePeriod | None = None,
) -> FeatureWindows:
    """Reference = [end - 2w, end - w), current = [end - w, end) from the mart
    `user_feature_windows` (dbt builds it with `drift_window_days` = 28 and `end` = the marts'
    snapshot date unless told otherwise).

    When the built mart holds other windows than the ones asked for (a different length, or an
    explicit `current_end`), dbt rebuilds just that mart with `--vars {drift_window_days,
    drift_current_end}` on a scratch copy of the warehouse (`scratch`, by default
    `<home>/monitoring/scratch`): the shared mart other readers rely on is never rewritten by a
    monitoring run, and dbt still owns the SQL.

    With a `reference` period (`training` or `pinned`, see `ReferencePeriod`) the reference is
    that period, cut to end where the current window starts, in consecutive windows of the
    current one's length (`fit_reference`); its frame then holds a row per user and window.
    """
    days = window_days or settings.drift.window_days
    lineage_hash = manifest_sha256(dbt_target_dir(settings))
    scratch_home = scratch or settings.home_dir / "monitoring" / "scratch"
    reference = reference or ReferencePeriod.adjacent()
    loaded, count = None, 0
    with Warehouse(settings).session() as db:
        built = _built_windows(db)
        end = current_end or (built or {}).get("current", (None, None))[1]
        if end is not None:
            reference, count = fit_reference(reference, end, days)
        elif reference.kind != "adjacent":
            note = "the current window's end is unknown (no built mart): adjacent reference"
            reference = ReferencePeriod.adjacent(reference.source, (*reference.notes, note))
        if _matches(built, days, current_end, reference):
            loaded = _frames(db, built)
        else:
            db.copy_to(scratch_home / "warehouse.duckdb")
    source, notes = WINDOWS_MART, list(reference.notes)
    if loaded is None:
        dbt_vars: dict[str, Any] = {"drift_window_days": days}
        if current_end is not None:
            dbt_vars["drift_current_end"] = current_end.isoformat()
        if reference.kind != "adjacent":
            assert reference.start is not None and reference.end is not None
            dbt_vars["drift_reference_start"] = reference.start.isoformat()
            dbt_vars["drift_reference_end"] = reference.end.isoformat()
        note = (
            f"{WINDOWS_MART} as built holds "
            f"{_describe(built) if built else 'nothing (not built yet)'}; rebuilt on a scratch "
            f"copy with --vars {dbt_vars}"
        )
        log.info(note)
        loaded = _scratch_build(settings, scratch_home, dbt_vars)
        source, notes = f"{WINDOWS_MART} (scratch dbt run)", [*notes, note]
    ref, cur, bounds = loaded

    def window(name: str) -> dict[str, Any]:
        start, end = bounds.get(name, (None, None))
        return {
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
            "days": days,
            "mart": WINDOWS_MART,
            "window_name": name,
            "rows": ACTIVE_FILTER,
        }

    reference_window = window("reference") | {
        "kind": reference.kind,
        "windows": max(count, 1),
        "source": reference.source,
    }
    return FeatureWindows(
        reference=ref,
        current=cur,
        reference_window=reference_window,
        current_window=window("current"),
        source=source,
        windowed=True,
        manifest_sha256=lineage_hash,
        notes=notes,
    )


def load_churn_scores(settings: Settings) -> ChurnSnapshots | Skipped:
    """The two latest snapshot dates of `ml.churn_scores` (reference = previous, current =
    latest), or why prediction drift cannot run."""
    check, table = "churn_scores", f"{ML_SCHEMA}.{CHURN_TABLE}"
    with Warehouse(settings).session() as db:
        # Only the rows of the two latest dates: the table gains a snapshot per scoring run.
        dates = db.read(
            CHURN_TABLE,
            schema=ML_SCHEMA,
            columns=["snapshot_date"],
            where=f"snapshot_date in (select distinct snapshot_date from {table} "
            "where snapshot_date is not null order by snapshot_date desc limit 2)",
            order_by=None,
        )
        if dates is None:
            return Skipped(check, f"{table} does not exist (no scores yet)")
        distinct = dates["snapshot_date"].drop_duplicates()
        latest = sorted((pd.Timestamp(d).date() for d in distinct), reverse=True)
        if len(latest) < 2:
            found = ", ".join(str(d) for d in latest) or "none"
            return Skipped(
                check,
                f"{table} has {len(latest)} snapshot date(s) ({found}); "
                "prediction drift needs a previous one to compare with",
            )
        current, reference = (
            db.require(
                CHURN_TABLE, schema=ML_SCHEMA, where="snapshot_date = ?", params=[d], order_by=None
            )
            for d in latest
        )

    def window(frame: pd.DataFrame, date: dt.date) -> dict[str, Any]:
        return {"table": table, "snapshot_date": str(date)} | published_lineage(frame)

    return ChurnSnapshots(
        reference, current, window(reference, latest[1]), window(current, latest[0])
    )


def load_recommendations(settings: Settings) -> PublishedRecommendations | Skipped:
    """`ml.recommendations` and the first watches that judge it, or why there is nothing to
    judge (no table, no interactions mart, no rows)."""
    check, table = "recommendations", f"{ML_SCHEMA}.{RECS_TABLE}"
    with Warehouse(settings).session() as db:
        recs = db.read(RECS_TABLE, schema=ML_SCHEMA, order_by=None)
        if recs is None:
            return Skipped(check, f"{table} does not exist (none published)")
        watched = db.read(
            INTERACTIONS_MART,
            columns=["user_id", "title_id", "first_watched_at"],
            where="first_watched_at is not null",
            order_by=None,
        )
        if watched is None:
            return Skipped(check, f"{INTERACTIONS_MART} does not exist: build the marts first")
    if recs.empty:
        return Skipped(check, f"{table} is empty")
    return PublishedRecommendations(recs, watched)
