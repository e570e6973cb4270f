"""The monitor's steps as plain functions of the settings: no Prefect import.

The monitoring flow (flows/monitor.py) makes each one a task; `tastemaker drift` and `tastemaker
lineage` (flows/commands/monitoring.py) and the tests call the same functions without starting
Prefect. Each step turns the settings into the config objects `monitoring/` takes, reads through
`warehouse/monitoring.py`, and calls one library function: the logic lives there.

Steps, in the flow's order: `load_feature_windows` (warehouse/monitoring.py) → `drift_step` →
`prediction_drift_step` → `recsys_step` → `mail_step` per drift summary → `deliver_step`, and
`mail_note` saying what happened to the mail.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from monitoring.checks import Skipped
from monitoring.drift import (
    ALERT_KEY_HEADER,
    DriftSummary,
    alert_key,
    alert_text,
    mail_content,
    run_drift,
    run_prediction_drift,
    user_features_spec,
    without_calendar_columns,
)
from monitoring.history import RecsysHistory, recsys_periods
from monitoring.mail import (
    DeliveryResult,
    build_message,
    flush_outbox,
    mark_digest_sent,
    pending_with,
    plural,
    should_send,
    write_to_outbox,
)
from monitoring.recsys import RecsysSummary, run_recsys_quality
from warehouse.dbtrun import dbt_target_dir, manifest_sha256
from warehouse.monitoring import (
    FeatureWindows,
    ReferencePeriod,
    load_churn_scores,
    load_recommendations,
)
from warehouse.settings import Settings, env_name

log = logging.getLogger(__name__)

#: Where the monitor keeps each set of recommendations it has seen (ml.recommendations holds only
#: the latest), so the next set can be compared with the one it replaced.
RECSYS_HISTORY = ("monitoring", "recsys")
RECSYS_K = 10
RECSYS_TOLERANCE = 0.1
RECSYS_MIN_USERS = 50
#: The champions whose training data is the default drift reference (`drift.reference` =
#: training): the models published from the marts the monitor watches. The segmenter records
#: no start (it is fitted on every user as of the snapshot), so it cannot bound a period.
REFERENCE_MODELS = ("churn", "recommender")
#: The champion whose permutation drivers are key features (`drift.key_drivers`).
DRIVERS_MODEL = "churn"


def _day(text: str | None) -> dt.date | None:
    """The date of an ISO date or timestamp (the registry records both)."""
    return dt.date.fromisoformat(text[:10]) if text else None


def drift_reference(settings: Settings) -> ReferencePeriod:
    """The period the current window is compared with, per `drift.reference`.

    `training`: the data every current champion of `REFERENCE_MODELS` was trained on (the
    intersection of their recorded data windows): the data whose behaviour the models learnt,
    which does not slide along with a drift as the window before the current one does. With no
    champion recording a window, the adjacent window, with a note saying why."""
    kind = settings.drift.reference
    if kind == "adjacent":
        return ReferencePeriod.adjacent("setting drift.reference=adjacent")
    if kind == "pinned":
        start, end = settings.drift.reference_start, settings.drift.reference_end
        if start is None or end is None or start >= end:
            raise ValueError(
                "drift.reference=pinned needs drift.reference_start < drift.reference_end "
                f"({env_name('drift.reference_start')} and {env_name('drift.reference_end')}), "
                f"got {start} and {end}"
            )
        return ReferencePeriod("pinned", start, end, f"pinned [{start}, {end})")
    from ml.registry import ModelNotFoundError, ModelRegistry

    registry = ModelRegistry(settings.artifacts_path)
    starts, ends, refs = [], [], []
    for model in REFERENCE_MODELS:
        try:
            meta = registry.metadata(model)
        except (ModelNotFoundError, FileNotFoundError):
            continue
        start, end = _day(meta.data_window.start), _day(meta.data_window.end)
        if start is None or end is None:
            continue
        starts.append(start)
        ends.append(end)
        refs.append(f"{meta.ref} [{start}, {end})")
    if not refs or max(starts) >= min(ends):
        note = (
            "no champion records a training window: compared with the adjacent window"
            if not refs
            else f"the champions' training windows do not overlap ({'; '.join(refs)}): "
            "compared with the adjacent window"
        )
        return ReferencePeriod.adjacent("no training window", (note,))
    return ReferencePeriod(
        "training", max(starts), min(ends), "training data of " + ", ".join(refs)
    )


def key_features(settings: Settings) -> list[str]:
    """Columns that alert on their own: the churn champion's top `drift.key_drivers`
    permutation drivers (recorded in its evaluation.json), then `drift.key_features`."""
    import json

    from ml.registry import ModelNotFoundError, ModelRegistry

    drivers: list[str] = []
    if settings.drift.key_drivers > 0:
        registry = ModelRegistry(settings.artifacts_path)
        try:
            version = registry.champion_version(DRIVERS_MODEL)
        except ModelNotFoundError:
            version = None
        if version is not None:
            path = registry.version_dir(DRIVERS_MODEL, version) / "evaluation.json"
            if path.is_file():
                recorded = json.loads(path.read_text()).get("drivers") or []
                ranked = sorted(recorded, key=lambda d: -float(d.get("importance") or 0.0))
                drivers = [d["feature"] for d in ranked[: settings.drift.key_drivers]]
    return list(dict.fromkeys([*drivers, *settings.drift.key_features]))


def drift_step(
    settings: Settings,
    windows: FeatureWindows,
    *,
    run_id: str | None = None,
    now: dt.datetime | None = None,
) -> DriftSummary:
    """Evidently report on the two windows, written under `<home>/reports/<date>/`."""
    spec, note = without_calendar_columns(
        user_features_spec(windows.reference.columns, equal_windows=windows.windowed),
        windows.reference_window,
        windows.current_window,
    )
    if note:
        log.info(note)
    summary = run_drift(
        windows.reference,
        windows.current,
        spec,
        settings.drift,
        settings.reports_path,
        reference_window=windows.reference_window,
        current_window=windows.current_window,
        lineage={"run_id": run_id, "manifest_sha256": windows.manifest_sha256},
        now=now,
        key_columns=key_features(settings),
    )
    history = drift_history(settings, summary)
    if history is not None and summary.html_path:
        from monitoring.backfill import embed_history

        embed_history(Path(summary.html_path), history, summary.dataset)
    return summary


def prediction_drift_step(
    settings: Settings,
    *,
    run_id: str | None = None,
    now: dt.datetime | None = None,
    reader: bool = False,
) -> DriftSummary | Skipped:
    """Churn probability distribution: latest snapshot of ml.churn_scores vs the previous one.
    `reader`: wait for a writing run like a read-only command (`tastemaker drift`)."""
    loaded = load_churn_scores(settings, reader=reader)
    if isinstance(loaded, Skipped):
        log.info("prediction drift skipped: %s", loaded.reason)
        return loaded
    ref_window, cur_window = loaded.reference_window, loaded.current_window
    return run_prediction_drift(
        loaded.reference,
        loaded.current,
        settings.drift,
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


def recsys_history(settings: Settings) -> RecsysHistory:
    """The recommendation sets this home's monitor has seen (`<home>/monitoring/recsys/`)."""
    return RecsysHistory(settings.home_dir.joinpath(*RECSYS_HISTORY))


def recsys_step(
    settings: Settings,
    *,
    run_id: str | None = None,
    window_days: int | None = None,
    now: dt.datetime | None = None,
    reader: bool = False,
) -> RecsysSummary | Skipped:
    """Evidently recsys metrics of the current recommendations vs the set they replaced (see
    monitoring/history.py for which periods are compared). `reader`: as in
    `prediction_drift_step`."""
    published = load_recommendations(settings, reader=reader)
    periods = (
        published
        if isinstance(published, Skipped)
        else recsys_periods(
            published.recommendations,
            published.watched,
            recsys_history(settings),
            days=window_days or settings.drift.window_days,
        )
    )
    if isinstance(periods, Skipped):
        log.info("recommendation quality skipped: %s", periods.reason)
        return periods
    reference, current = periods
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


def mailed_checks(summary: DriftSummary, prediction: DriftSummary | Skipped) -> list[DriftSummary]:
    """The drift summaries that may be mailed, user_features first: under daily_digest it is the
    day's digest; churn drift mails whenever it drifts (the digest marker is set by then)."""
    return [summary] + ([] if isinstance(prediction, Skipped) else [prediction])


def mail_step(
    settings: Settings, summary: DriftSummary, *, today: dt.date, impact: Any = None
) -> Path | None:
    """Write the email to the outbox if the policy says so; returns its path (or None).
    `impact` (a `PerformanceEstimate` or `Skipped`) says whether the drift matters."""
    outbox = settings.outbox_path
    policy = settings.mail.policy
    if not should_send(policy, summary.alert, outbox, today):
        log.info("mail policy %s: no mail for status %s", policy, summary.status)
        return None
    key = alert_key(summary)
    waiting = pending_with(outbox, ALERT_KEY_HEADER, key) if key else None
    if waiting is not None:
        # the same alert (windows, rules, columns) is already queued: it goes out with this
        # flush, and one finding makes one mail
        log.info("the same alert is already waiting in the outbox: %s", waiting.name)
        return waiting
    message = build_message(
        mail_content(
            summary,
            reports_base_url=settings.mail.reports_base_url,
            history=drift_history(settings, summary),
            impact=impact_text(impact),
        ),
        settings.smtp,
        max_attachment_bytes=settings.mail.max_attachment_bytes,
    )
    path = write_to_outbox(message, outbox)
    if policy == "daily_digest":
        mark_digest_sent(outbox, today)
    return path


def impact_text(impact: Any) -> str | None:
    """The performance estimate's line for a mail or a report, or why there is none."""
    if impact is None:
        return None
    if isinstance(impact, Skipped):
        return f"no performance estimate: {impact.reason}"
    return impact.text()


def history_text(settings: Settings, summary: DriftSummary) -> str | None:
    """The back-fill's line for a summary's report (None without a back-fill)."""
    from monitoring.backfill import backfill_text

    history = drift_history(settings, summary)
    return None if history is None else backfill_text(history)


def drift_history(settings: Settings, summary: DriftSummary) -> Any:
    """The back-filled days of `monitoring.drift_daily` a user_features summary's mail shows:
    windows of its length, up to its current window's end, the last `drift.backfill_days`;
    None when there is no back-fill (or for another check)."""
    from warehouse.monitoring import load_drift_daily

    days, end = summary.current_window.get("days"), _day(summary.current_window.get("end"))
    if summary.dataset != "user_features" or not days or end is None:
        return None
    history = load_drift_daily(settings, window_days=int(days), last_day=end)
    if history is None:
        return None
    first = end - dt.timedelta(days=settings.drift.backfill_days)
    history = history[history["day"] > first]
    return None if history.empty else history


def mail_note(settings: Settings, summaries: list[DriftSummary], written: list[Path]) -> str:
    """One line saying what happened to the mail, and why when there is none.

    With the default policy (`drift_only`) a run on an undrifted world mails nothing; without
    this line a newcomer following the README waits for a mail that was never meant to come."""
    policy = settings.mail.policy
    setting = f"{env_name('mail.policy')}={policy}"
    if written:
        if settings.smtp.host:
            return f"mail: {len(written)} message(s) for {settings.smtp.host} ({setting})"
        return (
            f"mail: {len(written)} message(s) written to {settings.outbox_path} (no "
            f"{env_name('smtp.host')}, so nothing is sent: open the .eml with a mail client)"
        )
    if policy == "daily_digest":
        return f"no mail: today's digest already went out and nothing new drifted ({setting})"
    drifted = sum(s.drifted_count for s in summaries)
    if drifted == 0:
        return f"no mail: nothing drifted and {setting}"
    return (
        f"no mail: no alert rule fired ({plural(drifted, 'column')} drifted, none both beyond "
        f"chance and large, no key feature, below the {settings.drift.share_threshold:.0%} "
        f"share) and {setting}"
    )


def outcome_line(
    summary: DriftSummary,
    prediction: DriftSummary | Skipped,
    quality: RecsysSummary | Skipped,
    note: str,
) -> str:
    """The run in one log line: each check's status and what happened to the mail."""
    return (
        f"drift {summary.status}: {summary.drifted_count} of {summary.column_count} columns "
        f"({alert_text(summary, max_columns=4)}); "
        f"churn scores {prediction.status if isinstance(prediction, DriftSummary) else 'skipped'}; "
        f"recommendations {quality.status if isinstance(quality, RecsysSummary) else 'skipped'}; "
        f"{note}"
    )


def deliver_step(settings: Settings) -> DeliveryResult:
    """Send everything waiting in the outbox (this run's mail and any left by earlier runs)."""
    return flush_outbox(
        settings.outbox_path,
        settings.smtp,
        retries=settings.mail.retries,
        backoff_s=settings.mail.backoff_s,
    )


def lineage_step(settings: Settings, target: str) -> dict[str, Any]:
    """The chain behind a model version or a report (monitoring.lineage.resolve) with the
    published rows counted by `warehouse.lineage.read_published_runs`, read as a reader: a
    writing run keeps the file closed to other processes, so the wait is short and then names
    the holder (`WarehouseBusyError`)."""
    from monitoring.lineage import resolve
    from warehouse.lineage import read_published_runs

    manifest = dbt_target_dir(settings) / "manifest.json"
    return resolve(
        target,
        reports_root=settings.reports_path,
        artifacts_root=settings.artifacts_path,
        manifest=manifest if manifest.is_file() else None,
        published=read_published_runs(settings, reader=True),
    )


#: Where a back-fill writes its per-day JSON summaries and its chart, under the reports folder.
BACKFILL_REPORTS = "backfill"
BACKFILL_CHART = "drift_daily.png"


def backfill_chart_path(settings: Settings) -> Path:
    """The latest back-fill's chart (`<home>/reports/backfill/drift_daily.png`)."""
    return settings.reports_path / BACKFILL_REPORTS / BACKFILL_CHART


def backfill_step(
    settings: Settings,
    *,
    days: int,
    window_days: int | None = None,
    last_day: dt.date | None = None,
    run_id: str | None = None,
) -> tuple[Any, list[str]]:
    """The daily monitor replayed over `days` days ending at `last_day` (default: the marts'
    snapshot date): windows from one scratch dbt run, `run_drift` per day with the reference
    rule and key features of today's monitor, the rows saved to `monitoring.drift_daily`
    (re-runs replace their days) and the chart written beside the summaries.

    Returns the stored history of those days (the frame of `monitoring.backfill.daily_rows`)
    and the notes; raises `BackfillRangeError` when the data does not reach back far enough."""
    from monitoring.backfill import BackfillInput, daily_rows, history_chart_png, run_backfill
    from warehouse.monitoring import load_backfill_windows, save_drift_daily

    loaded = load_backfill_windows(
        settings,
        days=days,
        window_days=window_days,
        last_day=last_day,
        reference=drift_reference(settings),
    )
    w = loaded.window_days

    def inputs():
        for day in loaded.plan:
            reference, current = loaded.day_frames(day)
            ref_window, cur_window = day.windows(w)
            yield BackfillInput(day.day, reference, current, ref_window, cur_window)

    notes = list(loaded.notes)

    def spec_for(item: BackfillInput):
        spec, note = without_calendar_columns(
            user_features_spec(item.reference.columns, equal_windows=True),
            item.reference_window,
            item.current_window,
        )
        if note and note not in notes:
            notes.append(note)
        return spec

    summaries = run_backfill(
        inputs(),
        spec_for,
        settings.drift,
        settings.reports_path / BACKFILL_REPORTS,
        key_columns=key_features(settings),
        lineage={"run_id": run_id, "manifest_sha256": loaded.manifest_sha256},
    )
    rows = daily_rows(summaries, window_days=w)
    save_drift_daily(settings, rows)
    chart = history_chart_png(rows, f"user_features: drift per day ({w}-day windows)")
    if chart is not None:
        path = backfill_chart_path(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(chart)
    return rows, notes


def performance_step(settings: Settings, *, reader: bool = False) -> Any:
    """Does the drift matter? The churn champion's ROC-AUC on the latest scores estimated from
    its calibrated probabilities (CBPE), realized where labels have arrived, and the change
    against the same model's CBPE on its latest labelled snapshot (recorded with the model in
    evaluation.json), with the holdout AUC beside it. A `PerformanceEstimate`, or `Skipped`
    saying why not. `reader`: as in `prediction_drift_step`."""
    import json

    from ml.registry import EVALUATION_FILE, REFERENCE_SCORES, ModelNotFoundError, ModelRegistry
    from monitoring.performance import estimate_roc_auc
    from warehouse.monitoring import load_scored_window

    scored = load_scored_window(settings, reader=reader)
    if isinstance(scored, Skipped):
        log.info("performance estimate skipped: %s", scored.reason)
        return scored
    ref_p = ref_y = holdout = None
    reference = "no reference (the scoring model is not in the registry)"
    if scored.model_version and ":" in scored.model_version:
        model, version = scored.model_version.split(":", 1)
        registry = ModelRegistry(settings.artifacts_path)
        try:
            meta = registry.metadata(model, version)
        except (ModelNotFoundError, FileNotFoundError, ValueError):
            meta = None
        if meta is not None:
            holdout = meta.metrics.get("roc_auc")
            reference = f"{meta.ref}'s holdout (no reference scores recorded)"
            path = registry.version_dir(model, version) / EVALUATION_FILE
            recorded = json.loads(path.read_text()) if path.is_file() else {}
            if recorded.get(REFERENCE_SCORES):
                ref = recorded[REFERENCE_SCORES]
                ref_p, ref_y = ref["churn_probability"], ref["label"]
                reference = f"its latest labelled snapshot {ref['snapshot_date']}"
    return estimate_roc_auc(
        scored.scores["churn_probability"].to_numpy(),
        current_labels=scored.scores["label"].to_numpy(),
        reference_probabilities=ref_p,
        reference_labels=ref_y,
        reference_realized=None if ref_p is not None else holdout,
        holdout_realized=holdout,
        model_version=scored.model_version,
        current_label=f"ml.churn_scores {scored.snapshot_date}",
        reference_label=reference,
    )
