"""Monitoring flow: read the feature windows, run the drift report, mail it, publish artifacts.

Steps (each a task in the Prefect UI): load the reference and current windows of `user_features`
→ Evidently drift report (HTML + JSON under `<home>/reports/<date>/`) → compose the email per the
mail policy (it lands in `<home>/outbox/` first) → deliver the outbox over SMTP with retries →
markdown and link artifacts that point at the report.

The plain functions (`load_feature_windows`, `drift_step`, `mail_step`) carry the logic and are
what the CLI and tests call; the flow only wires them as tasks.

Where the windows come from. dbt owns every transformation; Python reads marts:
- preferred: a mart `user_feature_windows` (the `user_features` columns plus `window_name` in
  {'reference', 'current'}), built by dbt for equal-length adjacent windows;
- until it exists: dbt is run twice on a scratch copy of the warehouse with
  `--vars {snapshot_date, features_window_days}` and `user_features` is read after each run.
  If the project does not declare `features_window_days` the two frames are cumulative snapshots
  (all history up to each date): the comparison still works, but a shift confined to the current
  window is diluted by the history before it (a warning says so).
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import yaml
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from flows.settings import Settings, get_settings
from flows.tasks.dbtrun import dbt_target_dir, manifest_sha256, run_dbt
from flows.tasks.lock import warehouse_lock
from flows.tasks.warehouse import connect
from monitoring.drift import DriftSummary, DriftThresholds, run_drift, user_features_spec
from monitoring.mail import (
    DeliveryResult,
    SmtpConfig,
    build_message,
    flush_outbox,
    mark_digest_sent,
    should_send,
    write_to_outbox,
)

log = logging.getLogger(__name__)

WINDOWS_MART = "user_feature_windows"
FEATURES_MART = "user_features"
WINDOW_VAR = "features_window_days"
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
    """Reference and current `user_features` frames and what they cover."""

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


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_name = ? "
        "and table_schema not in ('raw')",
        [name],
    ).fetchone()
    return bool(row and row[0])


def _declared_vars(settings: Settings) -> dict[str, Any]:
    project = settings.dbt_project_dir / "dbt_project.yml"
    data = yaml.safe_load(project.read_text()) if project.is_file() else {}
    return dict((data or {}).get("vars") or {})


def _read(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def load_feature_windows(
    settings: Settings,
    *,
    window_days: int | None = None,
    current_end: dt.date | None = None,
    scratch: Path | None = None,
) -> FeatureWindows:
    """Reference = [end - 2w, end - w), current = [end - w, end): read from the marts (see module
    docstring for the two ways). `end` defaults to the marts' snapshot date."""
    days = window_days or settings.drift_window_days
    lineage_hash = manifest_sha256(dbt_target_dir(settings))
    with warehouse_lock(settings.lock_path, settings.warehouse_lock_timeout_s):
        con = connect(settings.warehouse_path)
        try:
            if _has_table(con, WINDOWS_MART):
                frame = _read(con, f"select * from {WINDOWS_MART} where {ACTIVE_FILTER}")
                ref = frame[frame["window_name"] == "reference"].reset_index(drop=True)
                cur = frame[frame["window_name"] == "current"].reset_index(drop=True)
                return FeatureWindows(
                    reference=ref,
                    current=cur,
                    reference_window={
                        "mart": WINDOWS_MART,
                        "window_name": "reference",
                        "rows": ACTIVE_FILTER,
                    },
                    current_window={
                        "mart": WINDOWS_MART,
                        "window_name": "current",
                        "rows": ACTIVE_FILTER,
                    },
                    source=WINDOWS_MART,
                    windowed=True,
                    manifest_sha256=lineage_hash,
                )
            if current_end is None:
                row = con.execute(f"select max(snapshot_date) from {FEATURES_MART}").fetchone()
                if not row or row[0] is None:
                    raise RuntimeError(f"{FEATURES_MART} is empty: build the warehouse first")
                current_end = row[0]
        finally:
            con.close()
        scratch_home = scratch or settings.home_dir / "monitoring" / "scratch"
        scratch_home.mkdir(parents=True, exist_ok=True)
        scratch_db = scratch_home / "warehouse.duckdb"
        shutil.copyfile(settings.warehouse_path, scratch_db)

    assert current_end is not None
    cur_start = current_end - dt.timedelta(days=days)
    ref_start = cur_start - dt.timedelta(days=days)
    windowed = WINDOW_VAR in _declared_vars(settings)
    notes: list[str] = []
    if not windowed:
        notes.append(
            f"dbt declares no `{WINDOW_VAR}` var: comparing cumulative snapshots of "
            f"{FEATURES_MART} as of {cur_start} and {current_end}; a shift confined to the "
            "current window is diluted by the history before it."
        )
        log.warning(notes[-1])
    scratch_settings = settings.model_copy(update={"home": scratch_home, "duckdb_path": scratch_db})
    frames: dict[str, pd.DataFrame] = {}
    for name, as_of in (("reference", cur_start), ("current", current_end)):
        dbt_vars: dict[str, Any] = {"snapshot_date": as_of.isoformat()}
        if windowed:
            dbt_vars[WINDOW_VAR] = days
        result = run_dbt(
            scratch_settings, "run", select=f"int_snapshot_date {FEATURES_MART}", dbt_vars=dbt_vars
        )
        if not result.success or result.failed:
            raise RuntimeError(f"dbt run of {FEATURES_MART} as of {as_of} failed")
        con = duckdb.connect(str(scratch_db))
        try:
            frames[name] = _read(con, f"select * from {FEATURES_MART} where {ACTIVE_FILTER}")
        finally:
            con.close()
    scratch_db.unlink(missing_ok=True)

    def window(start: dt.date, end: dt.date) -> dict[str, Any]:
        return {
            "start": start.isoformat() if windowed else None,
            "end": end.isoformat(),
            "mart": FEATURES_MART,
            "rows": ACTIVE_FILTER,
            "cumulative": not windowed,
        }

    return FeatureWindows(
        reference=frames["reference"],
        current=frames["current"],
        reference_window=window(ref_start, cur_start),
        current_window=window(cur_start, current_end),
        source=f"{FEATURES_MART} via dbt vars",
        windowed=windowed,
        manifest_sha256=lineage_hash,
        notes=notes,
    )


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


def mail_step(settings: Settings, summary: DriftSummary, *, today: dt.date) -> Path | None:
    """Write the email to the outbox if the policy says so; returns its path (or None)."""
    from monitoring.drift import mail_content

    outbox = settings.outbox_path
    policy = settings.mail_policy
    if not should_send(policy, summary.dataset_drift, outbox, today):  # type: ignore[arg-type]
        log.info("mail policy %s: no mail for status %s", policy, summary.status)
        return None
    message = build_message(
        mail_content(summary),
        smtp_config(settings),
        max_attachment_bytes=settings.mail_max_attachment_bytes,
    )
    path = write_to_outbox(message, outbox)
    if policy == "daily_digest":
        mark_digest_sent(outbox, today)
    return path


def deliver_step(settings: Settings) -> DeliveryResult:
    """Send everything waiting in the outbox (this run's mail and any left by earlier runs)."""
    return flush_outbox(
        settings.outbox_path,
        smtp_config(settings),
        retries=settings.mail_retries,
        backoff_s=settings.mail_backoff_s,
    )


def summary_markdown(summary: DriftSummary) -> str:
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
    lines += [f"- report: `{summary.html_path}`", f"- summary: `{summary.json_path}`"]
    return "\n".join(lines)


# --- Prefect wiring -------------------------------------------------------------------------


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def load_windows_task(settings: Settings, params: MonitorParams) -> FeatureWindows:
    """Read the reference and current feature windows from the marts."""
    return load_feature_windows(
        settings, window_days=params.window_days, current_end=params.current_end
    )


@task(cache_policy=NO_CACHE)
def drift_task(settings: Settings, windows: FeatureWindows, run_id: str | None) -> DriftSummary:
    """Run the Evidently drift report and write HTML + JSON."""
    return drift_step(settings, windows, run_id=run_id)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def compose_mail_task(settings: Settings, summary: DriftSummary) -> str | None:
    """Put the drift email in the outbox if the mail policy asks for one."""
    path = mail_step(settings, summary, today=dt.datetime.now(dt.UTC).date())
    return str(path) if path else None


class MailQueuedError(RuntimeError):
    """SMTP delivery failed; the messages stay in the outbox for the next run."""


@task(cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[10, 60, 300])
def deliver_task(settings: Settings) -> dict[str, Any]:
    """Deliver the outbox over SMTP; raises (so Prefect retries) while messages stay queued."""
    result = deliver_step(settings)
    if settings.smtp_host and result.queued:
        raise MailQueuedError(f"{len(result.queued)} message(s) queued: {result.error}")
    return {"sent": result.sent, "queued": result.queued, "rejected": result.rejected}


@task(cache_policy=NO_CACHE)
def publish_task(summary: DriftSummary) -> None:
    """Markdown summary and a link to the Evidently report as Prefect artifacts."""
    key = f"tastemaker-drift-{summary.dataset.replace('_', '-')}"
    create_markdown_artifact(key=key, markdown=summary_markdown(summary), description="drift")
    if summary.html_path:
        create_link_artifact(
            key=f"{key}-report",
            link=Path(summary.html_path).resolve().as_uri(),
            link_text=f"Evidently report {summary.report_id}",
            description="Evidently drift report (HTML)",
        )


@flow(name="monitor", log_prints=True)
def monitor_flow(params: MonitorParams | None = None) -> dict[str, Any]:
    """Drift report on user_features, mailed per the policy; SMTP failures leave mail queued."""
    from prefect.runtime import flow_run

    params = params or MonitorParams()
    settings = get_settings()
    logger = get_run_logger()
    run_id = str(flow_run.id) if flow_run.id else None
    windows = load_windows_task(settings, params)
    for note in windows.notes:
        logger.warning(note)
    summary = drift_task(settings, windows, run_id)
    publish_task(summary)
    delivery: dict[str, Any] = {"sent": [], "queued": []}
    mail_path = None
    if params.email:
        mail_path = compose_mail_task(settings, summary)
        state = deliver_task(settings, return_state=True)
        if state.is_completed():
            delivery = state.result()
        else:
            queued = [p.name for p in settings.outbox_path.glob("*.eml")]
            delivery = {"sent": [], "queued": queued, "error": str(state.message)}
            logger.error("mail stays in the outbox for the next run: %s", state.message)
    logger.info(
        "drift %s: %d/%d columns; mail %s",
        summary.status,
        summary.drifted_count,
        summary.column_count,
        mail_path or "not needed",
    )
    return {"drift": summary.to_dict(), "mail": mail_path, "delivery": delivery}
