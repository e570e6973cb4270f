"""Monitoring flow: feature windows → data drift → churn prediction drift → recommendation
quality → mail per the policy (outbox first) → SMTP delivery with retries; every report as a
markdown artifact with a link to it.

Orchestration only: each task calls one step of flows/steps/monitor.py (Prefect-free, also what
`tastemaker drift` and the tests call), which reads through warehouse/monitoring.py and runs
monitoring/; the artifacts' markdown is flows/artifacts/monitor.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from flows.artifacts import monitor as artifacts
from flows.retry import IO_RETRY, SMTP_RETRY
from flows.steps import monitor as steps
from monitoring.checks import Skipped
from monitoring.drift import DriftSummary
from monitoring.performance import PerformanceEstimate
from monitoring.recsys import RecsysSummary
from warehouse.monitoring import FeatureWindows, load_feature_windows
from warehouse.settings import Settings, get_settings


class MonitorParams(BaseModel):
    """Parameters of the monitoring flow (a form in the Prefect UI)."""

    window_days: int | None = Field(
        default=None,
        ge=1,
        description="Window length in days; empty = the drift.window_days setting.",
    )
    current_end: dt.date | None = Field(
        default=None,
        description="End (exclusive) of the current window; empty = the marts' snapshot date.",
    )
    email: bool = Field(default=True, description="Compose and send mail per the mail policy.")


class MailQueuedError(ConnectionError):
    """SMTP delivery failed; the messages stay in the outbox for the next run (transient, so
    the one retry policy retries it; SMTP gets a longer schedule than the warehouse)."""


@task(cache_policy=NO_CACHE, **IO_RETRY)
def load_windows_task(settings: Settings, params: MonitorParams) -> FeatureWindows:
    """Read the reference and current feature windows from the marts."""
    return load_feature_windows(
        settings,
        window_days=params.window_days,
        current_end=params.current_end,
        reference=steps.drift_reference(settings),
    )


@task(cache_policy=NO_CACHE)
def drift_task(settings: Settings, windows: FeatureWindows, run_id: str | None) -> DriftSummary:
    """Run the Evidently drift report and write HTML + JSON."""
    return steps.drift_step(settings, windows, run_id=run_id)


@task(cache_policy=NO_CACHE)
def prediction_drift_task(settings: Settings, run_id: str | None) -> DriftSummary | Skipped:
    """Churn score distribution: latest ml.churn_scores snapshot vs the previous one."""
    return steps.prediction_drift_step(settings, run_id=run_id)


@task(cache_policy=NO_CACHE)
def recsys_task(
    settings: Settings, params: MonitorParams, run_id: str | None
) -> RecsysSummary | Skipped:
    """Evidently recsys metrics of ml.recommendations vs the set it replaced."""
    return steps.recsys_step(settings, run_id=run_id, window_days=params.window_days)


@task(cache_policy=NO_CACHE)
def performance_task(settings: Settings) -> PerformanceEstimate | Skipped:
    """Churn ROC-AUC on the latest scores estimated without labels (CBPE) vs its holdout."""
    return steps.performance_step(settings)


@task(cache_policy=NO_CACHE)
def publish_task(
    settings: Settings,
    summary: DriftSummary | RecsysSummary,
    impact: PerformanceEstimate | Skipped | None = None,
) -> None:
    """Markdown summary and, when reports are served, a link to the Evidently report."""
    main = isinstance(summary, DriftSummary) and summary.dataset == "user_features"
    made = artifacts.report_artifacts(
        summary,
        settings.mail.reports_base_url,
        impact=steps.impact_text(impact) if main else None,
        history=steps.history_text(settings, summary) if main else None,
    )
    create_markdown_artifact(key=made.key, markdown=made.markdown, description=made.description)
    if made.link:
        create_link_artifact(
            key=made.link_key, link=made.link, link_text=made.link_text, description=made.link_text
        )


@task(cache_policy=NO_CACHE, **IO_RETRY)
def compose_mail_task(
    settings: Settings, summary: DriftSummary, impact: PerformanceEstimate | Skipped
) -> str | None:
    """Put the drift email in the outbox if the mail policy asks for one."""
    path = steps.mail_step(settings, summary, today=dt.datetime.now(dt.UTC).date(), impact=impact)
    return str(path) if path else None


@task(cache_policy=NO_CACHE, **SMTP_RETRY)
def deliver_task(settings: Settings) -> dict[str, Any]:
    """Deliver the outbox over SMTP; raises (so Prefect retries) while messages stay queued."""
    result = steps.deliver_step(settings)
    if settings.smtp.host and result.queued:
        raise MailQueuedError(f"{len(result.queued)} message(s) queued: {result.error}")
    return {"sent": result.sent, "queued": result.queued, "rejected": result.rejected}


def _publish_or_log(settings: Settings, check: Any, what: str) -> None:
    if isinstance(check, Skipped):
        get_run_logger().info("%s skipped: %s", what, check.reason)
    else:
        publish_task(settings, check)


@flow(name="monitor", log_prints=True)
def monitor_flow(params: MonitorParams | None = None) -> dict[str, Any]:
    """Data drift of user_features, prediction drift of churn scores and recommendation
    quality; mailed per the policy; SMTP failures leave mail queued for the next run."""
    from prefect.runtime import flow_run

    params, settings, logger = params or MonitorParams(), get_settings(), get_run_logger()
    run_id = str(flow_run.id) if flow_run.id else None
    windows = load_windows_task(settings, params)
    for note in windows.notes:
        logger.info(note)
    summary = drift_task(settings, windows, run_id)
    prediction = prediction_drift_task(settings, run_id)
    impact = performance_task(settings)
    publish_task(settings, summary, impact)
    _publish_or_log(settings, prediction, "prediction drift")
    quality = recsys_task(settings, params, run_id)
    _publish_or_log(settings, quality, "recommendation quality")
    checked = steps.mailed_checks(summary, prediction)
    delivery: dict[str, Any] = {"sent": [], "queued": []}
    mails: list[str] = []
    note = "no mail: the email parameter is off"
    if params.email:
        mails = [p for p in (compose_mail_task(settings, s, impact) for s in checked) if p]
        state = deliver_task(settings, return_state=True)
        if state.is_completed():
            delivery = state.result()
        else:
            queued = [p.name for p in settings.outbox_path.glob("*.eml")]
            delivery = {"sent": [], "queued": queued, "error": str(state.message)}
            logger.error("mail stays in the outbox for the next run: %s", state.message)
        note = steps.mail_note(settings, checked, [Path(m) for m in mails])
    logger.info(steps.outcome_line(summary, prediction, quality, note))
    return {
        "run_id": run_id,
        "drift": summary.to_dict(),
        "prediction_drift": prediction.to_dict(),
        "performance": impact.to_dict(),
        "recsys": quality.to_dict(),
        "mail": mails[0] if mails else None,
        "mails": mails,
        "mail_note": note,
        "delivery": delivery,
    }
