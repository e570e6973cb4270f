"""What the monitor reads from the warehouse: feature windows, churn-score snapshots and the
latest recommendations with the first watches that judge them.

dbt owns every transformation and Python reads marts. The mart `user_feature_windows`
(dbt_project/models/marts/monitoring/) holds the `user_features` columns computed over two equal,
adjacent windows (`window_name` in {'reference', 'current'}, bounds in `window_start` /
`window_end`). The platform's dbt build makes it with the default windows (28 days ending at the
marts' snapshot date); other windows are built by dbt on a scratch copy of the warehouse, so a
monitoring run never rewrites the shared mart other readers rely on.

Every read goes through `Warehouse(settings).session()` and `Session.find` / `Session.read`.
The readers take `reader=True` from a read-only command (`tastemaker drift`): they then wait for a
writing run only `read_lock_timeout_s` and raise `WarehouseBusyError`, where the monitoring flow
waits like a writer rather than fail a nightly run behind a long build.
Rows are read in the table's own order (`order_by=None`), as the monitor always has: the drift
noise floor permutes rows with a fixed seed, so another order would move its figures.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from monitoring.checks import Skipped
from monitoring.lineage import published_lineage
from warehouse.db import ML_SCHEMA, Session, Warehouse
from warehouse.dbtrun import dbt_target_dir, manifest_sha256, run_dbt
from warehouse.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

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


def _scratch_run(
    settings: Settings,
    scratch_home: Path,
    dbt_vars: dict[str, Any],
    read: Callable[[Session], T],
    what: str,
) -> T:
    """Run `user_feature_windows` with `dbt_vars` on the copy at `<scratch_home>/
    warehouse.duckdb`, `read` it, and delete the copy (`what` names the run in the error)."""
    scratch = settings.model_copy(
        update={"home": scratch_home, "duckdb_path": scratch_home / "warehouse.duckdb"}
    )
    try:
        result = run_dbt(scratch, "run", select=WINDOWS_MART, dbt_vars=dbt_vars)
        if not result.success or result.failed:
            messages = "; ".join(f"{n.unique_id}: {n.message}" for n in result.failures)
            raise RuntimeError(
                f"dbt run of {WINDOWS_MART} {what} failed: {messages or 'see dbt log'}"
            )
        with Warehouse(scratch).session() as db:
            return read(db)
    finally:
        scratch.warehouse_path.unlink(missing_ok=True)


def load_feature_windows(
    settings: Settings,
    *,
    window_days: int | None = None,
    current_end: dt.date | None = None,
    scratch: Path | None = None,
    reference: ReferencePeriod | None = None,
    reader: bool = False,
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

    `reader`: wait for the shared warehouse like a read-only command (the scratch copy is this
    run's own file, and its lock is never contended).
    """
    days = window_days or settings.drift.window_days
    lineage_hash = manifest_sha256(dbt_target_dir(settings))
    scratch_home = scratch or settings.home_dir / "monitoring" / "scratch"
    reference = reference or ReferencePeriod.adjacent()
    loaded, count = None, 0
    with Warehouse(settings, reader=reader).session() as db:
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
        loaded = _scratch_run(settings, scratch_home, dbt_vars, _frames, f"with {dbt_vars}")
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


def load_churn_scores(settings: Settings, *, reader: bool = False) -> ChurnSnapshots | Skipped:
    """The two latest snapshot dates of `ml.churn_scores` (reference = previous, current =
    latest), or why prediction drift cannot run (`reader`: see the module docstring)."""
    check, table = "churn_scores", f"{ML_SCHEMA}.{CHURN_TABLE}"
    with Warehouse(settings, reader=reader).session() as db:
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


def load_recommendations(
    settings: Settings, *, reader: bool = False
) -> PublishedRecommendations | Skipped:
    """`ml.recommendations` and the first watches that judge it, or why there is nothing to
    judge (no table, no interactions mart, no rows; `reader`: see the module docstring)."""
    check, table = "recommendations", f"{ML_SCHEMA}.{RECS_TABLE}"
    with Warehouse(settings, reader=reader).session() as db:
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


# --- back-fill: the daily monitor replayed over past days ---------------------------------------

#: The `window_name` of every window of a back-fill build of `user_feature_windows`.
BACKFILL_WINDOW = "backfill"
#: Where the back-filled statistics live: `monitoring.drift_daily`, one row per day and column.
MONITORING_SCHEMA = "monitoring"
DRIFT_DAILY_TABLE = "drift_daily"
SNAPSHOT_MODEL = "int_snapshot_date"


class BackfillRangeError(ValueError):
    """The back-fill asks for days the data does not hold (the message says how many it does)."""


@dataclass(frozen=True)
class BackfillDay:
    """One day of a back-fill: the current window `[day - w, day)` and its fitted reference
    (the windows of w days ending at `reference_ends`)."""

    day: dt.date
    reference: ReferencePeriod
    reference_ends: tuple[dt.date, ...]

    def windows(self, days: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """The reference and current window records, as `load_feature_windows` writes them."""
        first = min(self.reference_ends) - dt.timedelta(days=days)
        common = {"days": days, "mart": WINDOWS_MART, "rows": ACTIVE_FILTER}
        reference = common | {
            "start": first.isoformat(),
            "end": max(self.reference_ends).isoformat(),
            "window_name": "reference",
            "kind": self.reference.kind,
            "windows": len(self.reference_ends),
            "source": self.reference.source,
        }
        current = common | {
            "start": (self.day - dt.timedelta(days=days)).isoformat(),
            "end": self.day.isoformat(),
            "window_name": "current",
        }
        return reference, current


def backfill_plan(
    reference: ReferencePeriod, last_day: dt.date, days: int, window_days: int
) -> list[BackfillDay]:
    """The `days` days ending at `last_day` (each the end, exclusive, of a current window), each
    with the reference the daily monitor would have used that day (`fit_reference`: the period
    cut to end where that day's current window starts, or the adjacent window)."""
    plan = []
    for offset in range(days - 1, -1, -1):
        day = last_day - dt.timedelta(days=offset)
        fitted, count = fit_reference(reference, day, window_days)
        if fitted.kind == "adjacent":
            ends: tuple[dt.date, ...] = (day - dt.timedelta(days=window_days),)
        else:
            assert fitted.end is not None
            ends = tuple(fitted.end - dt.timedelta(days=k * window_days) for k in range(count))
        plan.append(BackfillDay(day, fitted, ends))
    return plan


def _earliest_start(plan: list[BackfillDay], window_days: int) -> dt.date:
    return min(min(d.reference_ends) for d in plan) - dt.timedelta(days=window_days)


def check_backfill_range(
    reference: ReferencePeriod,
    last_day: dt.date,
    days: int,
    window_days: int,
    data_start: dt.date,
) -> list[BackfillDay]:
    """The plan, or `BackfillRangeError` when a window would start before the data does (a
    window half outside the data holds fewer viewers and less of each one's history, and would
    look drifted). The message says how many days the data does hold."""
    if days < 1:
        raise BackfillRangeError(f"--days must be at least 1, got {days}")
    plan = backfill_plan(reference, last_day, days, window_days)
    earliest = _earliest_start(plan, window_days)
    if earliest >= data_start:
        return plan
    fits = 0
    while (
        fits < days
        and _earliest_start(backfill_plan(reference, last_day, fits + 1, window_days), window_days)
        >= data_start
    ):
        fits += 1
    raise BackfillRangeError(
        f"--days {days} needs data from {earliest} ({window_days}-day windows ending "
        f"{plan[0].day} to {last_day}, and their references) but the data starts on "
        f"{data_start}: at most {fits} day(s) fit"
        + ("" if fits else "; use a shorter drift.window_days")
    )


@dataclass(frozen=True)
class BackfillWindows:
    """Every window a back-fill compares (one dbt run), and the plan that picks them per day."""

    frame: pd.DataFrame
    plan: list[BackfillDay]
    window_days: int
    manifest_sha256: str | None
    dbt_vars: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def day_frames(self, day: BackfillDay) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The reference and current rows of `day` (active viewers, the mart's row order)."""
        ends = self.frame["window_end"]
        reference = self.frame[ends.isin(day.reference_ends)].reset_index(drop=True)
        current = self.frame[ends == day.day].reset_index(drop=True)
        return reference, current


def load_backfill_windows(
    settings: Settings,
    *,
    days: int,
    window_days: int | None = None,
    last_day: dt.date | None = None,
    reference: ReferencePeriod | None = None,
    scratch: Path | None = None,
) -> BackfillWindows:
    """The feature windows of a `days`-day back-fill ending at `last_day` (default: the built
    mart's current end, the marts' snapshot date), from ONE scratch dbt run of
    `user_feature_windows` whose var `drift_backfill_ends` lists every window end the plan
    needs (each day's current window and its reference windows; about 2-3 windows per day with
    the training reference, since consecutive days share most of them). One run rather than a
    run per day: the views are scanned once for all windows, and dbt's per-run cost (~2 s
    with the cached parse, 7-14 s without) is paid once instead of `days` times.

    Raises `BackfillRangeError` when the windows would reach before the data's first day."""
    w = window_days or settings.drift.window_days
    scratch_home = scratch or settings.home_dir / "monitoring" / "scratch"
    reference = reference or ReferencePeriod.adjacent()
    with Warehouse(settings).session() as db:
        span = db.require(SNAPSHOT_MODEL, columns=["snapshot_date", "observed_from"])
        built = _built_windows(db)
        end = last_day or (built or {}).get("current", (None, None))[1]
        if end is None:
            end = pd.Timestamp(span["snapshot_date"].iloc[0]).date()
        data_start = pd.Timestamp(span["observed_from"].iloc[0]).date()
        plan = check_backfill_range(reference, end, days, w, data_start)
        db.copy_to(scratch_home / "warehouse.duckdb")
    window_ends = sorted({d.day for d in plan} | {e for d in plan for e in d.reference_ends})
    dbt_vars: dict[str, Any] = {
        "drift_window_days": w,
        "drift_backfill_ends": [e.isoformat() for e in window_ends],
    }
    frame = _scratch_run(
        settings,
        scratch_home,
        dbt_vars,
        lambda db: db.require(
            WINDOWS_MART,
            where=f"window_name = '{BACKFILL_WINDOW}' and {ACTIVE_FILTER}",
            order_by=None,
        ),
        "for the back-fill",
    )
    frame["window_end"] = pd.to_datetime(frame["window_end"]).dt.date
    note = (
        f"back-fill: {len(plan)} day(s) ending {end}, {len(window_ends)} windows of {w} days "
        f"from one scratch dbt run of {WINDOWS_MART} (var drift_backfill_ends)"
    )
    log.info(note)
    return BackfillWindows(
        frame=frame,
        plan=plan,
        window_days=w,
        manifest_sha256=manifest_sha256(dbt_target_dir(settings)),
        dbt_vars={"drift_window_days": w, "drift_backfill_ends": f"{len(window_ends)} dates"},
        notes=[*reference.notes, note],
    )


def save_drift_daily(settings: Settings, rows: pd.DataFrame) -> int:
    """Write the back-fill's rows to `monitoring.drift_daily` in one transaction, replacing the
    rows of the same (day, window_days): a re-run of the same days leaves one row per day and
    column, and days outside it are kept (history builds up run by run)."""
    table = f"{MONITORING_SCHEMA}.{DRIFT_DAILY_TABLE}"
    with Warehouse(settings).session(create=True) as db:
        con = db.con
        con.execute("begin transaction")
        try:
            con.execute(f"create schema if not exists {MONITORING_SCHEMA}")
            con.register("incoming", rows)
            con.execute(f"create table if not exists {table} as select * from incoming limit 0")
            con.execute(
                f"delete from {table} where (day, window_days) in "
                "(select distinct day, window_days from incoming)"
            )
            con.execute(f"insert into {table} by name select * from incoming")
            con.unregister("incoming")
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    return len(rows)


def load_drift_daily(
    settings: Settings, *, window_days: int, last_day: dt.date | None = None
) -> pd.DataFrame | None:
    """The back-filled rows of `window_days`-day windows up to `last_day` (all days when None),
    by day and column; None when there is no back-fill (no table, or no such rows)."""
    if not settings.warehouse_path.is_file():
        return None
    where, params = "window_days = ?", [window_days]
    if last_day is not None:
        where, params = where + " and day <= ?", [*params, last_day]
    with Warehouse(settings, reader=True).session() as db:
        frame = db.read(
            DRIFT_DAILY_TABLE,
            schema=MONITORING_SCHEMA,
            where=where,
            params=params,
            order_by="day, column_name",
        )
    if frame is None or frame.empty:
        return None
    for col in ("day", "reference_start", "reference_end", "current_start"):
        frame[col] = pd.to_datetime(frame[col]).dt.date
    return frame


# --- does it matter: the churn champion's scores, and labels where they have arrived ------------

#: The mart holding each labelled churn snapshot (a row per user subscribed at it, labelled once
#: its label window has passed): where the current scores' labels arrive, if they have.
CHURN_LABELS_MART = "churn_training_set"
CHURN_LABEL = "churned_30d"


@dataclass(frozen=True)
class ScoredWindow:
    """The latest snapshot of `ml.churn_scores` (user_id, churn_probability, model_version)
    with its label where `churn_training_set` holds one for that user and snapshot date (NaN
    where not yet), and what it covers."""

    scores: pd.DataFrame
    snapshot_date: dt.date
    model_version: str | None
    labelled: int


def load_scored_window(settings: Settings, *, reader: bool = False) -> ScoredWindow | Skipped:
    """The latest churn scores and their labels where arrived, or why there are none
    (`reader`: see the module docstring)."""
    check, table = "churn_performance", f"{ML_SCHEMA}.{CHURN_TABLE}"
    with Warehouse(settings, reader=reader).session() as db:
        latest = db.read(
            CHURN_TABLE,
            schema=ML_SCHEMA,
            columns=["snapshot_date"],
            where=f"snapshot_date = (select max(snapshot_date) from {table})",
            order_by=None,
        )
        if latest is None or latest.empty:
            return Skipped(check, f"{table} does not exist or is empty (no scores yet)")
        snapshot = pd.Timestamp(latest["snapshot_date"].iloc[0]).date()
        scores = db.require(
            CHURN_TABLE,
            schema=ML_SCHEMA,
            columns=["user_id", "churn_probability", "model_version"],
            where="snapshot_date = ?",
            params=[snapshot],
            order_by="user_id",
        )
        labels = db.read(
            CHURN_LABELS_MART,
            columns=["user_id", CHURN_LABEL],
            where="snapshot_date = ?",
            params=[snapshot],
            order_by="user_id",
        )
    label = (
        scores["user_id"].map(labels.set_index("user_id")[CHURN_LABEL]).astype(float)
        if labels is not None and not labels.empty
        else pd.Series(float("nan"), index=scores.index)
    )
    scores = scores.assign(label=label)
    versions = scores["model_version"].dropna().unique()
    return ScoredWindow(
        scores=scores,
        snapshot_date=snapshot,
        model_version=str(versions[0]) if len(versions) == 1 else None,
        labelled=int(label.notna().sum()),
    )
