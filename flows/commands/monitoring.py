"""Monitoring commands: `drift [--email] [--json]` and `lineage <model_version|report>`.

Module-level imports stay light (typer only): Evidently, pandas and DuckDB load inside commands.
`drift` and `lineage` call the same steps as the monitoring flow (flows/steps/monitor.py, which
imports no Prefect), so they answer in seconds from a terminal.

Both only read the warehouse (drift rebuilds other windows on a scratch copy), so they wait for a
writing run only `read_lock_timeout_s` and then say a run is writing (exit 2). `drift --backfill`
is the exception: it writes its rows to `monitoring.drift_daily`, and waits like a writer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from typing import Annotated

import typer

from flows.cli_support import EXIT_FAILED, JsonOpt, cli_run_id
from flows.cli_support import emit_json as _emit_json
from flows.cli_support import fail as _fail
from flows.cli_support import fail_busy as _fail_busy
from flows.cli_support import load_settings as _settings


def drift(
    email: Annotated[
        bool, typer.Option("--email", help="Mail the report per the mail policy.")
    ] = False,
    window_days: Annotated[
        int | None, typer.Option("--window-days", min=1, help="Window length (days).")
    ] = None,
    current_end: Annotated[
        str | None, typer.Option("--current-end", help="End of the current window (YYYY-MM-DD).")
    ] = None,
    backfill: Annotated[
        bool,
        typer.Option(
            "--backfill",
            help="First replay the daily check over the last --days days (statistics per day "
            "and column saved to monitoring.drift_daily, a chart in reports/backfill/).",
        ),
    ] = False,
    days: Annotated[
        int | None,
        typer.Option("--days", help="Days to back-fill (default: drift.backfill_days, 60)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Data drift of user_features (current window vs the reference), churn prediction drift
    and recommendation quality (Evidently reports); with --backfill, the same check day by day
    over the last days first, whose chart the report's mail then carries."""
    from warehouse.lock import WarehouseBusyError

    settings = _settings()
    end = None
    if current_end:
        try:
            end = dt.date.fromisoformat(current_end)
        except ValueError:
            _fail(f"--current-end must be YYYY-MM-DD, got {current_end!r}")
    if days is not None and not backfill:
        _fail("--days goes with --backfill (the days to back-fill)")
    backfill_days = settings.drift.backfill_days if days is None else days
    if backfill and backfill_days < 1:
        _fail(f"--days must be at least 1, got {backfill_days}")
    if not settings.warehouse_path.is_file():
        _fail(f"no warehouse at {settings.warehouse_path}: run `tastemaker run` first")
    from flows.steps.monitor import (
        backfill_chart_path,
        backfill_step,
        deliver_step,
        drift_reference,
        drift_step,
        impact_text,
        mail_note,
        mail_step,
        mailed_checks,
        performance_step,
        prediction_drift_step,
        recsys_step,
    )
    from monitoring.backfill import backfill_text
    from monitoring.checks import Skipped
    from monitoring.drift import alert_text, reference_text
    from monitoring.lineage import report_url
    from warehouse.monitoring import BackfillRangeError, load_feature_windows

    run_id = cli_run_id()
    history = None
    try:
        if backfill:
            try:
                with contextlib.redirect_stdout(sys.stderr):
                    history, backfill_notes = backfill_step(
                        settings,
                        days=backfill_days,
                        window_days=window_days,
                        last_day=end,
                        run_id=run_id,
                    )
            except BackfillRangeError as exc:
                _fail(str(exc))
            if not as_json:
                for note in backfill_notes:
                    typer.echo(f"note: {note}", err=True)
                typer.echo(f"back-fill: {backfill_text(history)}")
                typer.echo(
                    f"  saved to monitoring.drift_daily; chart: {backfill_chart_path(settings)}"
                )
        # dbt prints its progress on stdout; keep stdout for our own output (one JSON object).
        with contextlib.redirect_stdout(sys.stderr):
            windows = load_feature_windows(
                settings,
                window_days=window_days,
                current_end=end,
                reference=drift_reference(settings),
                reader=True,
            )
        try:
            summary = drift_step(settings, windows, run_id=run_id)
        except ValueError as exc:  # windows outside the data: say which, no traceback
            _fail(str(exc))
        prediction = prediction_drift_step(settings, run_id=run_id, reader=True)
        impact = performance_step(settings, reader=True)
        quality = recsys_step(settings, run_id=run_id, window_days=window_days, reader=True)
    except WarehouseBusyError as exc:
        _fail_busy(exc)
    mail_path = delivery = None
    checked = mailed_checks(summary, prediction)
    if email:
        today = dt.datetime.now(dt.UTC).date()
        written = [
            p for p in (mail_step(settings, s, today=today, impact=impact) for s in checked) if p
        ]
        mail_path = written[0] if written else None
        delivery = deliver_step(settings)
        mail_line = mail_note(settings, checked, written)
    else:
        mail_line = "no mail: run `tastemaker drift --email` to mail the report per the mail policy"
    if as_json:
        _emit_json(
            {
                "drift": summary.to_dict(),
                "prediction_drift": prediction.to_dict(),
                "performance": impact.to_dict(),
                "recsys": quality.to_dict(),
                "notes": windows.notes,
                "run_id": run_id,
                "backfill": None
                if history is None
                else {
                    "text": backfill_text(history),
                    "days": history.groupby("day")
                    .agg(status=("day_status", "first"), alerts=("day_alerts", "first"))
                    .reset_index()
                    .to_dict(orient="records"),
                    "chart": str(backfill_chart_path(settings)),
                },
                "mail": str(mail_path) if mail_path else None,
                "mail_note": mail_line,
                "delivery": None
                if delivery is None
                else {
                    "sent": delivery.sent,
                    "queued": delivery.queued,
                    "rejected": delivery.rejected,
                    "error": delivery.error,
                },
            }
        )
    else:
        for note in windows.notes:
            typer.echo(f"note: {note}", err=True)
        typer.echo(
            f"{summary.dataset}: {summary.status} — {alert_text(summary)}; "
            f"{summary.drifted_count} of {summary.column_count} columns drifted (share "
            f"{summary.share:.2f}, threshold {summary.share_threshold:.2f})"
        )
        typer.echo(f"reference: {reference_text(summary)}")
        for col in summary.top_drifted(10):
            typer.echo(
                f"  {col.column:<28} {col.test:<14} {col.statistic:.3f} >= {col.threshold:.3f}"
                f"  {col.effect_text():>13}  {col.alert_rule or ''}"
            )
        base = settings.mail.reports_base_url
        typer.echo(f"report: {report_url(base, summary.html_path) or summary.html_path}")
        typer.echo(f"summary: {report_url(base, summary.json_path) or summary.json_path}")
        typer.echo(f"run id: {run_id}")
        if isinstance(prediction, Skipped):
            typer.echo(f"churn scores: skipped — {prediction.reason}")
        else:
            typer.echo(
                f"churn scores: {prediction.status} — drifted: "
                f"{', '.join(prediction.drifted_columns) or 'none'} ({prediction.json_path})"
            )
        typer.echo(f"does it matter: {impact_text(impact)}")
        if isinstance(quality, Skipped):
            typer.echo(f"recommendations: skipped — {quality.reason}")
        else:
            typer.echo(
                f"recommendations: {quality.status} — "
                + ", ".join(
                    f"{m.name}@{quality.k} {m.current:.3f}"
                    for m in quality.metrics
                    if m.current is not None
                )
                + f" ({quality.json_path})"
            )
        typer.echo(mail_line)
        if email:
            if delivery is not None and delivery.queued and settings.smtp.host:
                typer.echo(f"  {len(delivery.queued)} message(s) queued in {settings.outbox_path}")
            if delivery is not None and delivery.rejected:
                typer.echo(
                    f"  {len(delivery.rejected)} message(s) refused by the server (rejected/)"
                )
    if delivery is not None and settings.smtp.host and delivery.queued:
        raise typer.Exit(EXIT_FAILED)


def lineage(
    target: Annotated[str, typer.Argument(help="A model version (model:version) or a report.")],
    as_json: JsonOpt = False,
) -> None:
    """Print the chain behind a model version or a drift report: run, dbt build, code, data."""
    from flows.steps.monitor import lineage_step
    from monitoring.lineage import LineageNotFoundError
    from warehouse.lock import WarehouseBusyError

    settings = _settings()
    try:
        chain = lineage_step(settings, target)
    except WarehouseBusyError as exc:
        _fail_busy(exc)
    except LineageNotFoundError as exc:
        _fail(str(exc))
    if as_json:
        _emit_json(chain)
        return
    for key, value in chain.items():
        typer.echo(f"{key:>22}: {value}")


def register(app: typer.Typer) -> None:
    """Add `drift` and `lineage` to the main CLI."""
    app.command("drift")(drift)
    app.command("lineage")(lineage)
