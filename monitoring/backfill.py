"""Drift over time: the daily monitor replayed over past days, its statistics as one table per
day and column, and a chart of the key columns with the days an alert fired.

Plain Python, like the rest of monitoring/: the caller (flows/steps/monitor.py) reads the
windows through warehouse/monitoring.py and hands each day's two frames in; this module runs
the same `run_drift` the daily monitor runs (same spec, thresholds, noise floors and alert
rules), so a back-filled day says what the monitor would have said on it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pandas as pd

from monitoring.config import DriftThresholds
from monitoring.drift import DriftSpec, DriftSummary, run_drift

#: The columns of `monitoring.drift_daily`, in order (one row per day and monitored column).
DAILY_COLUMNS = (
    "day",
    "window_days",
    "column_name",
    "kind",
    "test",
    "statistic",
    "threshold",
    "noise_floor",
    "effect",
    "effect_unit",
    "drifted",
    "key",
    "alert_rule",
    "alerted",
    "day_status",
    "day_alerts",
    "reference_kind",
    "reference_start",
    "reference_end",
    "current_start",
    "reference_rows",
    "current_rows",
    "run_id",
    "manifest_sha256",
    "report_json",
    "created_at",
)


@dataclass(frozen=True)
class BackfillInput:
    """One day's frames and what they cover (`reference_window`/`current_window` as in
    `DriftSummary`)."""

    day: date
    reference: pd.DataFrame
    current: pd.DataFrame
    reference_window: Mapping[str, Any]
    current_window: Mapping[str, Any]


def run_backfill(
    days: Iterable[BackfillInput],
    spec_for: Callable[[BackfillInput], DriftSpec],
    thresholds: DriftThresholds,
    out_dir: Path,
    *,
    key_columns: Sequence[str] = (),
    lineage: Mapping[str, Any] | None = None,
) -> list[DriftSummary]:
    """`run_drift` on each day, as the daily monitor would have run it that day: the JSON
    summary under `<out_dir>/<day>/` (no HTML: 60 reports of 4 MB say nothing a table does not,
    so no Evidently Report either: the same stattests, called directly, 5 of a day's 6 s less),
    `created_at` = midnight UTC of the day."""
    summaries = []
    for item in days:
        summaries.append(
            run_drift(
                item.reference,
                item.current,
                spec_for(item),
                thresholds,
                out_dir,
                reference_window=item.reference_window,
                current_window=item.current_window,
                lineage={**dict(lineage or {}), "backfill_day": item.day.isoformat()},
                now=datetime.combine(item.day, time(), tzinfo=UTC),
                write_html=False,
                key_columns=key_columns,
                evidently_report=False,
            )
        )
    return summaries


def daily_rows(summaries: Sequence[DriftSummary], *, window_days: int) -> pd.DataFrame:
    """One row per day and column (`DAILY_COLUMNS`): the statistic, its threshold and effect,
    the rule the column fired, whether any alert of that day names it (`alerted`), the day's
    verdict, the reference used, and the lineage."""
    created = datetime.now(UTC).replace(tzinfo=None)
    records = []
    for s in summaries:
        named = {c for a in s.alerts for c in a.columns}
        day_alerts = ",".join(a.rule for a in s.alerts) or None
        for c in s.columns:
            records.append(
                {
                    "day": date.fromisoformat(str(s.current_window["end"])[:10]),
                    "window_days": window_days,
                    "column_name": c.column,
                    "kind": c.kind,
                    "test": c.test,
                    "statistic": c.statistic,
                    "threshold": c.threshold,
                    "noise_floor": c.noise_floor,
                    "effect": c.effect,
                    "effect_unit": c.effect_unit,
                    "drifted": c.drifted,
                    "key": c.key,
                    "alert_rule": c.alert_rule,
                    "alerted": c.column in named,
                    "day_status": s.status,
                    "day_alerts": day_alerts,
                    "reference_kind": s.reference_window.get("kind", "adjacent"),
                    "reference_start": s.reference_window.get("start"),
                    "reference_end": s.reference_window.get("end"),
                    "current_start": s.current_window.get("start"),
                    "reference_rows": s.reference_rows,
                    "current_rows": s.current_rows,
                    "run_id": s.lineage.get("run_id"),
                    "manifest_sha256": s.lineage.get("manifest_sha256"),
                    "report_json": s.json_path,
                    "created_at": created,
                }
            )
    frame = pd.DataFrame.from_records(records, columns=list(DAILY_COLUMNS))
    for col in ("reference_start", "reference_end", "current_start"):
        frame[col] = pd.to_datetime(frame[col]).dt.date
    for col in ("statistic", "threshold", "noise_floor", "effect"):
        frame[col] = frame[col].astype(float)
    # Text columns typed as text even when every value is null (a back-fill with no alert):
    # DuckDB would otherwise create `alert_rule` as type NULL and refuse a later rule.
    for col in _TEXT_COLUMNS:
        frame[col] = frame[col].astype("string")
    return frame


_TEXT_COLUMNS = (
    "column_name",
    "kind",
    "test",
    "effect_unit",
    "alert_rule",
    "day_status",
    "day_alerts",
    "reference_kind",
    "run_id",
    "manifest_sha256",
    "report_json",
)


def chart_columns(history: pd.DataFrame, *, limit: int = 6) -> list[str]:
    """The columns worth a line: the key columns, then those an alert named, most alert days
    first; at most `limit`, so the chart stays readable in a mail."""
    by_col = history.groupby("column_name").agg(
        key=("key", "any"), alerted=("alerted", "sum"), ratio=("statistic", "max")
    )
    by_col = by_col[by_col["key"] | (by_col["alerted"] > 0)]
    ranked = by_col.sort_values(["key", "alerted", "ratio"], ascending=False)
    return [str(c) for c in ranked.index[:limit]]


def history_chart_png(history: pd.DataFrame, title: str, *, limit: int = 6) -> bytes | None:
    """A small line chart: each chosen column's statistic over its threshold per day (1 = the
    threshold, the dashed line), the days an alert fired shaded. None without rows or columns.

    Statistics are drawn relative to their threshold because the threshold differs per column
    (the noise floor) and per day; the same style as `mail.bar_chart_png` (Agg, 6.4 in wide)."""
    columns = chart_columns(history, limit=limit)
    if history.empty or not columns:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.2), dpi=100)
    ax = fig.add_subplot()
    days = pd.to_datetime(history["day"])
    alert_days = sorted(set(days[history["day_alerts"].notna()]))
    for i, day in enumerate(alert_days):
        ax.axvspan(
            day - pd.Timedelta(hours=12),
            day + pd.Timedelta(hours=12),
            color="#fde2e1",
            label="alert day" if i == 0 else None,
        )
    for col in columns:
        rows = history[history["column_name"] == col].sort_values("day")
        ax.plot(
            pd.to_datetime(rows["day"]),
            rows["statistic"] / rows["threshold"],
            marker=".",
            linewidth=1,
            label=col,
        )
    ax.axhline(1.0, color="black", linestyle="--", linewidth=0.8, label="threshold")
    ax.set_ylabel("statistic / threshold", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, loc="upper left", ncol=2)
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def backfill_text(history: pd.DataFrame) -> str:
    """`60 days 2026-04-05 to 2026-06-03: alerts on 12 day(s), first 2026-05-20 (large_drift:
    genre_share_reality, ...)`: the back-fill in one line for a mail or a terminal."""
    if history.empty:
        return "no back-filled days"
    per_day = history.groupby("day").agg(alerts=("day_alerts", "first"))
    first, last = per_day.index.min(), per_day.index.max()
    fired = per_day[per_day["alerts"].notna()]
    text = f"{len(per_day)} days {first} to {last}: alerts on {len(fired)} day(s)"
    if len(fired):
        day = fired.index.min()
        named = history[(history["day"] == day) & history["alerted"]]["column_name"]
        rules = str(fired.loc[day, "alerts"]).replace(",", ", ")
        text += f", first {day} ({rules}: {', '.join(named[:4])}"
        text += f" and {len(named) - 4} more)" if len(named) > 4 else ")"
    return text


def embed_history(html_path: Path, history: pd.DataFrame, dataset: str) -> bool:
    """Put the drift over time (its line and chart, inline as a data URI) at the top of a drift
    report's HTML, under the verdict banner: the report then shows when the drift began, as the
    mail does. Returns False when there is nothing to draw."""
    import base64
    import html as html_lib

    days = int(history["window_days"].iloc[0])
    png = history_chart_png(history, f"{dataset}: drift per day ({days}-day windows)")
    if png is None:
        return False
    block = (
        "<div style='font-family:sans-serif;padding:8px 12px;border-bottom:1px solid #ddd'>"
        f"<b>Drift over time</b>: {html_lib.escape(backfill_text(history))}<br>"
        f"<img alt='drift statistic per day, alert days shaded' width='640' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode()}'></div>"
    )
    text = html_path.read_text(encoding="utf-8")
    at = text.find("<body")
    close = text.find(">", at) if at >= 0 else -1
    banner_end = text.find("</div>", close) if close >= 0 else -1
    cut = banner_end + len("</div>") if banner_end >= 0 else (close + 1 if close >= 0 else 0)
    html_path.write_text(text[:cut] + block + text[cut:], encoding="utf-8")
    return True
