"""Monitoring flow: read the feature windows, run the drift report, mail it, publish artifacts.

Steps (each a task in the Prefect UI): load the reference and current windows of `user_features`
→ Evidently drift report (HTML + JSON under `<home>/reports/<date>/`) → compose the email per the
mail policy (it lands in `<home>/outbox/` first) → deliver the outbox over SMTP with retries →
markdown and link artifacts that point at the report.

The plain functions (`load_feature_windows`, `drift_step`, `mail_step`) carry the logic and are
what the CLI and tests call; the flow only wires them as tasks.

Where the windows come from: dbt owns every transformation and Python reads marts. The mart
`user_feature_windows` (dbt_project/models/marts/monitoring/) holds the `user_features` columns
computed over two equal, adjacent windows (`window_name` in {'reference', 'current'}, bounds in
`window_start`/`window_end`). The platform's dbt build makes it with the default windows (28 days
ending at the marts' snapshot date); other windows are built by dbt on a scratch copy.
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from flows.retry import IO_RETRY, SMTP_RETRY
from monitoring.drift import (
    DriftSummary,
    DriftThresholds,
    run_drift,
    run_prediction_drift,
    user_features_spec,
)
from monitoring.lineage import report_links_markdown, report_url
from monitoring.mail import (
    DeliveryResult,
    SmtpConfig,
    build_message,
    flush_outbox,
    mark_digest_sent,
    plural,
    should_send,
    write_to_outbox,
)
from monitoring.recsys import RecsysPeriod, RecsysSummary, recsys_markdown, run_recsys_quality
from warehouse.db import Warehouse
from warehouse.dbtrun import dbt_target_dir, manifest_sha256, run_dbt
from warehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)

WINDOWS_MART = "user_feature_windows"
ML_SCHEMA = "ml"
CHURN_TABLE = "churn_scores"
RECS_TABLE = "recommendations"
INTERACTIONS_MART = "user_title_interactions"
#: Where the monitor keeps each set of recommendations it has seen (ml.recommendations holds only
#: the latest), so the next set can be compared with the one it replaced.
RECSYS_HISTORY = ("monitoring", "recsys")
RECSYS_K = 10
RECSYS_TOLERANCE = 0.1
RECSYS_MIN_USERS = 50
#: Rows compared: users who watched in the window. How viewers watch (shares, habits) is the data
#: drift question; how many stopped watching is churn's, monitored by prediction drift on churn
#: scores. Without it the fading, churning part of any population moves every activity column.
ACTIVE_FILTER = "watch_hours > 0"


class MonitorParams(BaseModel):
    """Parameters of the monitoring flow (a form in the Prefect UI)."""

    window_days: int | None = Field(
        default=None, ge=1, description="Window length in days; empty = drift_window_days setting."
    )
    current_end: dt.date | None = Field(
        default=None,
        description="End (exclusive) of the current window; empty = the marts' snapshot date.",
    )
    email: bool = Field(default=True, description="Compose and send mail per the mail policy.")


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


def smtp_config(settings: Settings) -> SmtpConfig:
    """Mail settings for `monitoring.mail` (which never reads Settings itself)."""
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        sender=settings.smtp_sender,
        recipients=tuple(settings.smtp_recipients),
        starttls=settings.smtp_starttls,
        timeout_s=settings.smtp_timeout_s,
        tls_context=(
            ssl.create_default_context(cafile=str(settings.mail_tls_ca_file))
            if settings.mail_tls_ca_file
            else None
        ),
    )


def drift_thresholds(settings: Settings) -> DriftThresholds:
    return DriftThresholds(
        column=settings.drift_column_threshold,
        share=settings.drift_share_threshold,
        min_rows=settings.drift_min_rows,
        permutations=settings.drift_permutations,
        null_quantile=settings.drift_null_quantile,
    )


def _has_table(con: duckdb.DuckDBPyConnection, name: str, schema: str | None = None) -> bool:
    sql = (
        "select count(*) from information_schema.tables where table_name = ? "
        "and table_schema not in ('raw')"
    )
    params: list[Any] = [name]
    if schema is not None:
        sql += " and table_schema = ?"
        params.append(schema)
    row = con.execute(sql, params).fetchone()
    return bool(row and row[0])


def _read(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def _built_windows(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[dt.date, dt.date]] | None:
    """The (start, end) of each window in the built mart, or None when there is no such mart."""
    if not _has_table(con, WINDOWS_MART):
        return None
    rows = con.execute(
        f"select window_name, min(window_start), max(window_end) from {WINDOWS_MART} "
        "group by window_name"
    ).fetchall()
    return {str(name): (start, end) for name, start, end in rows if start is not None}


def _matches(
    built: dict[str, tuple[dt.date, dt.date]] | None, days: int, current_end: dt.date | None
) -> bool:
    """Does the built mart already hold the windows asked for?"""
    if not built or set(built) != {"reference", "current"}:
        return False
    start, end = built["current"]
    return (end - start).days == days and (current_end is None or current_end == end)


def _frames(
    con: duckdb.DuckDBPyConnection,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, tuple[dt.date, dt.date]]]:
    frame = _read(con, f"select * from {WINDOWS_MART} where {ACTIVE_FILTER}")
    ref = frame[frame["window_name"] == "reference"].reset_index(drop=True)
    cur = frame[frame["window_name"] == "current"].reset_index(drop=True)
    return ref, cur, _built_windows(con) or {}


def load_feature_windows(
    settings: Settings,
    *,
    window_days: int | None = None,
    current_end: dt.date | None = None,
    scratch: Path | None = None,
) -> FeatureWindows:
    """Reference = [end - 2w, end - w), current = [end - w, end) from the mart
    `user_feature_windows` (dbt builds it with `drift_window_days` = 28 and `end` = the marts'
    snapshot date unless told otherwise).

    When the built mart holds other windows than the ones asked for (a different length, or an
    explicit `current_end`), dbt rebuilds just that mart with `--vars {drift_window_days,
    drift_current_end}` on a scratch copy of the warehouse: the shared mart other readers rely on
    is never rewritten by a monitoring run, and dbt still owns the SQL.
    """
    days = window_days or settings.drift_window_days
    lineage_hash = manifest_sha256(dbt_target_dir(settings))
    scratch_home = scratch or settings.home_dir / "monitoring" / "scratch"
    scratch_db = scratch_home / "warehouse.duckdb"
    with Warehouse(settings).session() as db:
        con = db.con
        built = _built_windows(con)
        if _matches(built, days, current_end):
            ref, cur, bounds = _frames(con)
            source, notes = WINDOWS_MART, []
        else:
            ref = cur = None
        if ref is None:
            db.copy_to(scratch_db)

    if ref is None or cur is None:
        dbt_vars: dict[str, Any] = {"drift_window_days": days}
        if current_end is not None:
            dbt_vars["drift_current_end"] = current_end.isoformat()
        note = (
            f"{WINDOWS_MART} as built holds "
            f"{_describe(built) if built else 'nothing (not built yet)'}; rebuilt on a scratch "
            f"copy with --vars {dbt_vars}"
        )
        log.info(note)
        scratch_settings = settings.model_copy(
            update={"home": scratch_home, "duckdb_path": scratch_db}
        )
        try:
            result = run_dbt(scratch_settings, "run", select=WINDOWS_MART, dbt_vars=dbt_vars)
            if not result.success or result.failed:
                messages = "; ".join(f"{n.unique_id}: {n.message}" for n in result.failures)
                raise RuntimeError(
                    f"dbt run of {WINDOWS_MART} with {dbt_vars} failed: {messages or 'see dbt log'}"
                )
            con = duckdb.connect(str(scratch_db))
            try:
                ref, cur, bounds = _frames(con)
            finally:
                con.close()
        finally:
            scratch_db.unlink(missing_ok=True)
        source, notes = f"{WINDOWS_MART} (scratch dbt run)", [note]

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

    return FeatureWindows(
        reference=ref,
        current=cur,
        reference_window=window("reference"),
        current_window=window("current"),
        source=source,
        windowed=True,
        manifest_sha256=lineage_hash,
        notes=notes,
    )


def _describe(built: dict[str, tuple[dt.date, dt.date]]) -> str:
    return ", ".join(f"{name} [{start}, {end})" for name, (start, end) in sorted(built.items()))


def drift_step(
    settings: Settings,
    windows: FeatureWindows,
    *,
    run_id: str | None = None,
    now: dt.datetime | None = None,
) -> DriftSummary:
    """Evidently report on the two windows, written under `<home>/reports/<date>/`."""
    spec = user_features_spec(windows.reference.columns, equal_windows=windows.windowed)
    return run_drift(
        windows.reference,
        windows.current,
        spec,
        drift_thresholds(settings),
        settings.reports_path,
        reference_window=windows.reference_window,
        current_window=windows.current_window,
        lineage={"run_id": run_id, "manifest_sha256": windows.manifest_sha256},
        now=now,
    )


@dataclass(frozen=True)
class Skipped:
    """A check that could not run, and why (logged, in the flow result and the CLI output)."""

    check: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "status": "skipped", "reason": self.reason}


def _one_or_all(frame: pd.DataFrame, column: str) -> Any:
    """The value of a lineage column: one value, a sorted list when rows disagree, or None."""
    if column not in frame.columns:
        return None
    values = sorted({str(v) for v in frame[column].dropna().unique()})
    return values[0] if len(values) == 1 else (values or None)


def published_lineage(frame: pd.DataFrame) -> dict[str, Any]:
    """The lineage columns that `warehouse.publish` stamps on every ml.* row."""
    return {
        "model_version": _one_or_all(frame, "model_version"),
        "run_id": _one_or_all(frame, "run_id"),
        "dbt_manifest_sha256": _one_or_all(frame, "dbt_manifest_sha256"),
    }


def load_churn_scores(
    settings: Settings,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], dict[str, Any]] | Skipped:
    """The two latest snapshot dates of `ml.churn_scores` (reference = previous, current =
    latest), or why prediction drift cannot run."""
    check = "churn_scores"
    with Warehouse(settings).session() as db:
        con = db.con
        if not _has_table(con, CHURN_TABLE, ML_SCHEMA):
            return Skipped(check, f"{ML_SCHEMA}.{CHURN_TABLE} does not exist (no scores yet)")
        dates = [
            row[0]
            for row in con.execute(
                f"select distinct snapshot_date from {ML_SCHEMA}.{CHURN_TABLE} "
                "where snapshot_date is not null order by snapshot_date desc limit 2"
            ).fetchall()
        ]
        if len(dates) < 2:
            found = ", ".join(str(d) for d in dates) or "none"
            return Skipped(
                check,
                f"{ML_SCHEMA}.{CHURN_TABLE} has {len(dates)} snapshot date(s) ({found}); "
                "prediction drift needs a previous one to compare with",
            )
        frames = [
            _read(
                con,
                f"select * from {ML_SCHEMA}.{CHURN_TABLE} where snapshot_date = ?",
                [d],
            )
            for d in dates
        ]
    current, reference = frames

    def window(frame: pd.DataFrame, date: dt.date) -> dict[str, Any]:
        return {"table": f"{ML_SCHEMA}.{CHURN_TABLE}", "snapshot_date": str(date)} | (
            published_lineage(frame)
        )

    return reference, current, window(reference, dates[1]), window(current, dates[0])


def prediction_drift_step(
    settings: Settings, *, run_id: str | None = None, now: dt.datetime | None = None
) -> DriftSummary | Skipped:
    """Churn probability distribution: latest snapshot of ml.churn_scores vs the previous one."""
    loaded = load_churn_scores(settings)
    if isinstance(loaded, Skipped):
        log.info("prediction drift skipped: %s", loaded.reason)
        return loaded
    reference, current, ref_window, cur_window = loaded
    return run_prediction_drift(
        reference,
        current,
        drift_thresholds(settings),
        settings.reports_path,
        reference_window=ref_window,
        current_window=cur_window,
        lineage={
            "run_id": run_id,
            "manifest_sha256": manifest_sha256(dbt_target_dir(settings)),
            "model_version": cur_window.get("model_version"),
            "reference_model_version": ref_window.get("model_version"),
            "scores_run_id": cur_window.get("run_id"),
            "scores_dbt_manifest_sha256": cur_window.get("dbt_manifest_sha256"),
        },
        now=now,
    )


def _cutoff(frame: pd.DataFrame) -> dt.date | None:
    """The date a set of recommendations was made: its as-of column if it has one, else the day
    it was published."""
    for column in ("snapshot_date", "as_of", "published_at"):
        if column in frame.columns and frame[column].notna().any():
            return pd.Timestamp(frame[column].dropna().min()).date()
    return None


def _history_dir(settings: Settings) -> Path:
    return settings.home_dir.joinpath(*RECSYS_HISTORY)


def _remember(settings: Settings, recs: pd.DataFrame, cutoff: dt.date) -> Path:
    """Keep this set of recommendations (once per cut-off and model version)."""
    folder = _history_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    version = str(_one_or_all(recs, "model_version") or "unknown").replace("/", "_")
    path = folder / f"{cutoff.isoformat()}__{version.replace(':', '_')}.parquet"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        recs.to_parquet(tmp, index=False)
        tmp.replace(path)
    return path


def _previous(settings: Settings, cutoff: dt.date) -> tuple[pd.DataFrame, dt.date] | None:
    """The latest remembered set made before `cutoff`."""
    best: tuple[dt.date, Path] | None = None
    for path in _history_dir(settings).glob("*.parquet"):
        try:
            made = dt.date.fromisoformat(path.name.split("__", 1)[0])
        except ValueError:
            continue
        if made < cutoff and (best is None or made > best[0]):
            best = (made, path)
    return (pd.read_parquet(best[1]), best[0]) if best else None


def load_recsys_periods(
    settings: Settings, *, window_days: int | None = None
) -> tuple[RecsysPeriod, RecsysPeriod] | Skipped:
    """Each set of recommendations judged by what users first watched while it was live.

    current = `ml.recommendations` (made on day C) against first watches in [C, C + w);
    reference = the set before it (remembered by an earlier monitoring run, made on day R)
    against first watches in [R, C). Training interactions = first watches before each set was
    made. Skips (with the reason) when the table is missing, no earlier set is remembered yet,
    or nobody has watched anything since C.
    """
    check = "recommendations"
    days = window_days or settings.drift_window_days
    with Warehouse(settings).session() as db:
        con = db.con
        if not _has_table(con, RECS_TABLE, ML_SCHEMA):
            return Skipped(check, f"{ML_SCHEMA}.{RECS_TABLE} does not exist (none published)")
        recs = _read(con, f"select * from {ML_SCHEMA}.{RECS_TABLE}")
        if not _has_table(con, INTERACTIONS_MART):
            return Skipped(check, f"{INTERACTIONS_MART} does not exist: build the marts first")
        watched = _read(
            con,
            f"select user_id, title_id, first_watched_at from {INTERACTIONS_MART} "
            "where first_watched_at is not null",
        )
    if recs.empty:
        return Skipped(check, f"{ML_SCHEMA}.{RECS_TABLE} is empty")
    if "row_name" in recs.columns and recs["row_name"].nunique() > 1:
        # the homepage row most users get (e.g. top picks) is the one whose quality is tracked
        row = recs.groupby("row_name")["user_id"].nunique().sort_values(ascending=False).index[0]
        recs = recs[recs["row_name"] == row]
    cutoff = _cutoff(recs)
    if cutoff is None:
        return Skipped(check, f"{ML_SCHEMA}.{RECS_TABLE} has no snapshot_date or published_at")
    _remember(settings, recs, cutoff)
    previous = _previous(settings, cutoff)
    if previous is None:
        return Skipped(
            check,
            f"no earlier recommendations remembered before {cutoff}: this set is kept in "
            f"{_history_dir(settings)} as the reference for the next one",
        )
    ref_recs, ref_cutoff = previous
    first = pd.to_datetime(watched["first_watched_at"], utc=True)

    def between(start: dt.date, end: dt.date) -> pd.DataFrame:
        lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
        return watched.loc[(first >= lo) & (first < hi), ["user_id", "title_id"]]

    def before(day: dt.date) -> pd.DataFrame:
        return watched.loc[first < pd.Timestamp(day, tz="UTC"), ["user_id", "title_id"]]

    cur_end = cutoff + dt.timedelta(days=days)
    current_holdout = between(cutoff, cur_end)
    if current_holdout.empty:
        return Skipped(
            check,
            f"nobody has started a title since the recommendations were made ({cutoff}): "
            "nothing to judge them by yet",
        )

    def window(frame: pd.DataFrame, start: dt.date, end: dt.date) -> dict[str, Any]:
        return {"made_on": str(start), "holdout": [str(start), str(end)]} | published_lineage(frame)

    reference = RecsysPeriod(
        ref_recs,
        between(ref_cutoff, cutoff),
        before(ref_cutoff),
        window(ref_recs, ref_cutoff, cutoff),
    )
    current = RecsysPeriod(recs, current_holdout, before(cutoff), window(recs, cutoff, cur_end))
    return reference, current


def recsys_step(
    settings: Settings,
    *,
    run_id: str | None = None,
    window_days: int | None = None,
    now: dt.datetime | None = None,
) -> RecsysSummary | Skipped:
    """Evidently recsys metrics of the current recommendations vs the set they replaced."""
    loaded = load_recsys_periods(settings, window_days=window_days)
    if isinstance(loaded, Skipped):
        log.info("recommendation quality skipped: %s", loaded.reason)
        return loaded
    reference, current = loaded
    return run_recsys_quality(
        reference,
        current,
        settings.reports_path,
        k=RECSYS_K,
        tolerance=RECSYS_TOLERANCE,
        min_users=RECSYS_MIN_USERS,
        lineage={
            "run_id": run_id,
            "manifest_sha256": manifest_sha256(dbt_target_dir(settings)),
            "model_version": current.window.get("model_version"),
            "reference_model_version": reference.window.get("model_version"),
            "recommendations_run_id": current.window.get("run_id"),
            "recommendations_dbt_manifest_sha256": current.window.get("dbt_manifest_sha256"),
        },
        now=now,
    )


def mail_step(settings: Settings, summary: DriftSummary, *, today: dt.date) -> Path | None:
    """Write the email to the outbox if the policy says so; returns its path (or None)."""
    from monitoring.drift import mail_content

    outbox = settings.outbox_path
    policy = settings.mail_policy
    if not should_send(policy, summary.dataset_drift, outbox, today):  # type: ignore[arg-type]
        log.info("mail policy %s: no mail for status %s", policy, summary.status)
        return None
    message = build_message(
        mail_content(summary, reports_base_url=settings.reports_base_url),
        smtp_config(settings),
        max_attachment_bytes=settings.mail_max_attachment_bytes,
    )
    path = write_to_outbox(message, outbox)
    if policy == "daily_digest":
        mark_digest_sent(outbox, today)
    return path


def mail_note(settings: Settings, summaries: list[DriftSummary], written: list[Path]) -> str:
    """One line saying what happened to the mail, and why when there is none.

    With the default policy (`drift_only`) a run on an undrifted world mails nothing; without
    this line a newcomer following the README waits for a mail that was never meant to come."""
    policy = settings.mail_policy
    setting = f"TASTEMAKER_MAIL_POLICY={policy}"
    if written:
        if settings.smtp_host:
            return f"mail: {len(written)} message(s) for {settings.smtp_host} ({setting})"
        return (
            f"mail: {len(written)} message(s) written to {settings.outbox_path} (no "
            "TASTEMAKER_SMTP_HOST, so nothing is sent: open the .eml with a mail client)"
        )
    if policy == "daily_digest":
        return f"no mail: today's digest already went out and nothing new drifted ({setting})"
    drifted = sum(s.drifted_count for s in summaries)
    if drifted == 0:
        return f"no mail: nothing drifted and {setting}"
    return (
        f"no mail: no dataset drift ({plural(drifted, 'column')} drifted, below the "
        f"{settings.drift_share_threshold:.0%} share) and {setting}"
    )


def deliver_step(settings: Settings) -> DeliveryResult:
    """Send everything waiting in the outbox (this run's mail and any left by earlier runs)."""
    return flush_outbox(
        settings.outbox_path,
        smtp_config(settings),
        retries=settings.mail_retries,
        backoff_s=settings.mail_backoff_s,
    )


def publish_report_link(key: str, base_url: str | None, html_path: str | None, text: str) -> None:
    """A link artifact to the served report; none without a base URL (the markdown artifact
    names the path: a file:// link would be refused by the browser showing the Prefect UI)."""
    url = report_url(base_url, html_path)
    if url:
        create_link_artifact(key=key, link=url, link_text=text, description=text)


def summary_markdown(summary: DriftSummary, reports_base_url: str | None = None) -> str:
    """The drift summary as a Prefect markdown artifact (values are ours or column names)."""
    lines = [
        f"# Drift: {summary.dataset}",
        "",
        f"**{summary.status}** — {summary.drifted_count} of {summary.column_count} columns "
        f"drifted (share {summary.share:.2f}, threshold {summary.share_threshold:.2f}); "
        f"reference {summary.reference_rows} rows, current {summary.current_rows} rows.",
        "",
        "| column | test | statistic | threshold | drift |",
        "|---|---|---:|---:|---|",
    ]
    ranked = sorted(summary.columns, key=lambda c: (not c.drifted, -(c.statistic or 0.0)))
    for c in ranked[:20]:
        stat = "—" if c.statistic is None else f"{c.statistic:.3f}"
        lines.append(
            f"| `{c.column}` | {c.test} | {stat} | {c.threshold:.3f} | "
            f"{'**yes**' if c.drifted else 'no'} |"
        )
    lines += ["", "## Lineage", ""]
    lines += [f"- {k}: `{v}`" for k, v in summary.lineage.items()]
    lines += report_links_markdown(reports_base_url, summary.html_path, summary.json_path)
    return "\n".join(lines)


# --- Prefect wiring -------------------------------------------------------------------------


@task(cache_policy=NO_CACHE, **IO_RETRY)
def load_windows_task(settings: Settings, params: MonitorParams) -> FeatureWindows:
    """Read the reference and current feature windows from the marts."""
    return load_feature_windows(
        settings, window_days=params.window_days, current_end=params.current_end
    )


@task(cache_policy=NO_CACHE)
def drift_task(settings: Settings, windows: FeatureWindows, run_id: str | None) -> DriftSummary:
    """Run the Evidently drift report and write HTML + JSON."""
    return drift_step(settings, windows, run_id=run_id)


@task(cache_policy=NO_CACHE, **IO_RETRY)
def compose_mail_task(settings: Settings, summary: DriftSummary) -> str | None:
    """Put the drift email in the outbox if the mail policy asks for one."""
    path = mail_step(settings, summary, today=dt.datetime.now(dt.UTC).date())
    return str(path) if path else None


class MailQueuedError(ConnectionError):
    """SMTP delivery failed; the messages stay in the outbox for the next run (transient, so
    the one retry policy retries it; SMTP gets a longer schedule than the warehouse)."""


@task(cache_policy=NO_CACHE, **SMTP_RETRY)
def deliver_task(settings: Settings) -> dict[str, Any]:
    """Deliver the outbox over SMTP; raises (so Prefect retries) while messages stay queued."""
    result = deliver_step(settings)
    if settings.smtp_host and result.queued:
        raise MailQueuedError(f"{len(result.queued)} message(s) queued: {result.error}")
    return {"sent": result.sent, "queued": result.queued, "rejected": result.rejected}


@task(cache_policy=NO_CACHE)
def prediction_drift_task(settings: Settings, run_id: str | None) -> DriftSummary | Skipped:
    """Churn score distribution: latest ml.churn_scores snapshot vs the previous one."""
    return prediction_drift_step(settings, run_id=run_id)


@task(cache_policy=NO_CACHE)
def recsys_task(
    settings: Settings, params: MonitorParams, run_id: str | None
) -> RecsysSummary | Skipped:
    """Evidently recsys metrics of ml.recommendations vs the set it replaced."""
    return recsys_step(settings, run_id=run_id, window_days=params.window_days)


@task(cache_policy=NO_CACHE)
def publish_recsys_task(settings: Settings, summary: RecsysSummary) -> None:
    """Markdown table of the quality metrics and a link to the Evidently report."""
    key = "tastemaker-recsys-quality"
    base = settings.reports_base_url
    markdown = recsys_markdown(summary, base)
    create_markdown_artifact(key=key, markdown=markdown, description="recommendation quality")
    publish_report_link(
        f"{key}-report", base, summary.html_path, f"Evidently report {summary.report_id}"
    )


@task(cache_policy=NO_CACHE)
def publish_task(settings: Settings, summary: DriftSummary) -> None:
    """Markdown summary and a link to the Evidently report as Prefect artifacts."""
    key = f"tastemaker-drift-{summary.dataset.replace('_', '-')}"
    markdown = summary_markdown(summary, settings.reports_base_url)
    create_markdown_artifact(key=key, markdown=markdown, description="drift")
    publish_report_link(
        f"{key}-report",
        settings.reports_base_url,
        summary.html_path,
        f"Evidently report {summary.report_id}",
    )


@flow(name="monitor", log_prints=True)
def monitor_flow(params: MonitorParams | None = None) -> dict[str, Any]:
    """Data drift of user_features, prediction drift of churn scores and recommendation
    quality; mailed per the policy; SMTP failures leave mail queued for the next run."""
    from prefect.runtime import flow_run

    params = params or MonitorParams()
    settings = get_settings()
    logger = get_run_logger()
    run_id = str(flow_run.id) if flow_run.id else None
    windows = load_windows_task(settings, params)
    for note in windows.notes:
        logger.info(note)
    summary = drift_task(settings, windows, run_id)
    publish_task(settings, summary)
    prediction = prediction_drift_task(settings, run_id)
    if isinstance(prediction, Skipped):
        logger.info("prediction drift skipped: %s", prediction.reason)
    else:
        publish_task(settings, prediction)
    quality = recsys_task(settings, params, run_id)
    if isinstance(quality, Skipped):
        logger.info("recommendation quality skipped: %s", quality.reason)
    else:
        publish_recsys_task(settings, quality)
    delivery: dict[str, Any] = {"sent": [], "queued": []}
    mails: list[str] = []
    checked = [summary] + ([] if isinstance(prediction, Skipped) else [prediction])
    if params.email:
        # user_features first: under daily_digest it is the day's digest; churn drift mails
        # whenever it drifts (the digest marker is set by then).
        for drift_summary in checked:
            path = compose_mail_task(settings, drift_summary)
            if path:
                mails.append(path)
        state = deliver_task(settings, return_state=True)
        if state.is_completed():
            delivery = state.result()
        else:
            queued = [p.name for p in settings.outbox_path.glob("*.eml")]
            delivery = {"sent": [], "queued": queued, "error": str(state.message)}
            logger.error("mail stays in the outbox for the next run: %s", state.message)
    note = (
        mail_note(settings, checked, [Path(m) for m in mails])
        if params.email
        else "no mail: the email parameter is off"
    )
    logger.info(
        "drift %s: %d of %d columns; churn scores %s; recommendations %s; %s",
        summary.status,
        summary.drifted_count,
        summary.column_count,
        prediction.status if isinstance(prediction, DriftSummary) else "skipped",
        quality.status if isinstance(quality, RecsysSummary) else "skipped",
        note,
    )
    return {
        "run_id": run_id,
        "drift": summary.to_dict(),
        "prediction_drift": prediction.to_dict(),
        "recsys": quality.to_dict(),
        "mail": mails[0] if mails else None,
        "mails": mails,
        "mail_note": note,
        "delivery": delivery,
    }
