"""Data drift between a reference and a current window, with Evidently 0.7, as a typed summary.

`run_drift(reference, current, spec, thresholds, out_dir)` runs
`Report([DataDriftPreset(...)]).run(current, reference)` on two DataFrames whose column types are
declared with `DataDefinition`, and writes two files under `<out_dir>/<date>/`: the Evidently HTML
report and a JSON summary (`DriftSummary`). It knows nothing of flows or the warehouse: the caller
reads the marts and passes DataFrames in. The same call serves every drift check:

- data drift on `user_features` (`user_features_spec`),
- prediction drift on churn scores (`run_prediction_drift`): the churn probability of two score
  sets (e.g. two snapshot dates of `ml.churn_scores`) and the risk band it puts each user in,
- recommendation quality over time lives in `monitoring/recsys.py` (Evidently's recsys metrics).

**Tests and thresholds.** Every numerical column uses the normalised Wasserstein distance
(W1 / std of the reference) and every categorical column the Jensen-Shannon distance, both with
the configured `column` threshold (0.1 by default). We fix the methods rather than let Evidently
pick by sample size, because its default switches from distances to p-value tests (KS, chi²) below
1,000 rows, and a p-value threshold means something else than a distance threshold: the same
setting would silently change meaning with the data size.

**Small samples do not raise false alarms** for three reasons:

1. *Per-column noise floor.* A distance between two finite samples from the *same* distribution is
   not zero; it shrinks like 1/sqrt(n). For each column we pool reference and current, split them
   at random into the two sizes `permutations` times, compute the same Evidently statistic on each
   split, and take the `null_quantile` (99%) of those values as the column's noise floor. The
   threshold used is `max(column threshold, noise floor)`: with thousands of rows the configured
   threshold governs; with a few hundred the floor rises above it, so chance differences cannot
   pass. The effective threshold is passed to Evidently per column, so the HTML report shows
   exactly the decision the summary records.
2. *Dataset drift needs a share of columns* (`share`, 0.3 by default), not one column: with ~40
   monitored columns a few chance flags cannot reach it.
3. *Minimum rows.* With fewer than `min_rows` rows in either window the status is
   `insufficient_data` and dataset drift is never declared (the report is still written).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

Status = Literal["ok", "drift", "insufficient_data"]

NUMERICAL_TEST = "wasserstein"
CATEGORICAL_TEST = "jensenshannon"

#: user_features columns that are not features of behaviour: keys, dates, and tenure (which moves
#: with the as-of date by construction, whatever the windows).
_ID_COLUMNS = {
    "user_id",
    "snapshot_date",
    "signup_date",
    "tenure_days",
    "window_name",
    "window_start",
    "window_end",
}
#: Intensive columns (shares, rates, means, fixed 28-day windows, recency) are comparable between
#: any two as-of dates. Everything else numeric is a counter since signup (views, hours, titles,
#: ratings: whatever dbt names them) and only comparable between windows of equal length.
_INTENSIVE = re.compile(r"(_share_|_share$|_ratio$|_rate$|^mean_|_28d$|^days_since_)")
_CATEGORICAL_COLUMNS = ("plan", "country", "age_band", "is_active")
#: `_28d` columns of `user_feature_windows` and the whole-window column each one duplicates. In
#: that mart every activity column already covers only its window, and a `_28d` column covers the
#: last 28 days of it: with windows of 28 days or less (the default) the two are equal row for row
#: (checked on built warehouses: tests/monitoring/test_drift_windowed_spec.py), and with longer
#: windows the `_28d` one is a sub-window of the same facts. Comparing both would count the same
#: evidence twice toward the drifted share, so the windowed spec keeps only the whole-window one.
#: The marts keep both (the cumulative `user_features` needs the 28-day ones).
_WINDOWED_DUPLICATES = {
    "watch_hours_28d": "watch_hours",
    "sessions_28d": "views_total",
    "active_days_28d": "active_days_total",
}


@dataclass(frozen=True)
class DriftSpec:
    """Which columns to compare, and how each is typed (declared to Evidently's DataDefinition)."""

    name: str
    numerical: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return self.numerical + self.categorical


def user_features_spec(columns: Iterable[str], *, equal_windows: bool = False) -> DriftSpec:
    """The monitored columns of the `user_features` mart.

    Plan, country, age band and the active flag are categorical; the other columns except keys
    and dates are numerical. Counters since signup (`views_total`, `watch_hours`, ...) are left
    out unless both windows have the same length (`equal_windows`), because between two as-of
    dates they grow by construction and would always look drifted.

    Between equal windows (the mart `user_feature_windows`), a `_28d` column whose whole-window
    twin is present (`watch_hours_28d` and `watch_hours`, ...) is left out: inside a window of
    28 days it is the same column (see `_WINDOWED_DUPLICATES`).
    """
    cols = [c for c in columns if c not in _ID_COLUMNS]
    if equal_windows:
        cols = [c for c in cols if _WINDOWED_DUPLICATES.get(c) not in cols]
    categorical = tuple(c for c in _CATEGORICAL_COLUMNS if c in cols)
    numerical = tuple(
        c for c in cols if c not in categorical and (equal_windows or _INTENSIVE.search(c))
    )
    return DriftSpec(name="user_features", numerical=numerical, categorical=categorical)


@dataclass(frozen=True)
class DriftThresholds:
    """Decision thresholds (from Settings: `drift_*`)."""

    column: float = 0.1
    share: float = 0.3
    min_rows: int = 100
    permutations: int = 100
    null_quantile: float = 0.99
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.share <= 1:
            raise ValueError(f"share threshold must be in (0, 1], got {self.share}")
        if self.column <= 0:
            raise ValueError(f"column threshold must be > 0, got {self.column}")
        if not 0 < self.null_quantile < 1:
            raise ValueError(f"null_quantile must be in (0, 1), got {self.null_quantile}")
        if self.permutations < 0 or self.min_rows < 1:
            raise ValueError("permutations must be >= 0 and min_rows >= 1")


@dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict: the test, its statistic, and the threshold actually applied."""

    column: str
    kind: Literal["numerical", "categorical"]
    test: str
    statistic: float | None
    threshold: float
    configured_threshold: float
    noise_floor: float | None
    drifted: bool
    reference_mean: float | None = None
    current_mean: float | None = None


@dataclass(frozen=True)
class DriftSummary:
    """What a person needs from a drift check, in a form tests and emails can read directly."""

    dataset: str
    report_id: str
    created_at: str
    status: Status
    dataset_drift: bool
    drifted_count: int
    column_count: int
    share: float
    share_threshold: float
    reference_rows: int
    current_rows: int
    reference_window: dict[str, Any]
    current_window: dict[str, Any]
    columns: list[ColumnDrift]
    lineage: dict[str, Any] = field(default_factory=dict)
    html_path: str | None = None
    json_path: str | None = None

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    def top_drifted(self, n: int = 5) -> list[ColumnDrift]:
        """Drifted columns, largest statistic relative to its threshold first."""
        drifted = [c for c in self.columns if c.drifted and c.statistic is not None]
        return sorted(drifted, key=lambda c: -(c.statistic or 0.0) / c.threshold)[:n]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["drifted_columns"] = self.drifted_columns
        data["top_drifted"] = [c.column for c in self.top_drifted()]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftSummary:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["columns"] = [ColumnDrift(**c) for c in data.get("columns", [])]
        return cls(**fields)

    @classmethod
    def load(cls, path: Path) -> DriftSummary:
        return cls.from_dict(json.loads(Path(path).read_text()))


# --- computation -----------------------------------------------------------------------------


def _stattest(kind: str):
    from evidently.legacy.calculations.stattests import (
        jensenshannon_stat_test,
        wasserstein_stat_test,
    )

    return wasserstein_stat_test if kind == "numerical" else jensenshannon_stat_test


def _clean(series: pd.Series) -> pd.Series:
    """What Evidently compares: the column without nulls and infinities."""
    return series.replace([-np.inf, np.inf], np.nan).dropna()


def noise_floor(
    reference: pd.Series,
    current: pd.Series,
    kind: Literal["numerical", "categorical"],
    *,
    permutations: int,
    quantile: float,
    rng: np.random.Generator,
) -> float | None:
    """The `quantile` of the drift statistic between random splits of the pooled data.

    Under "no drift" reference and current are exchangeable, so these splits show how large the
    statistic gets by chance alone at these sample sizes (it shrinks like 1/sqrt(n)).
    """
    ref, cur = _clean(reference), _clean(current)
    if permutations == 0 or len(ref) < 2 or len(cur) < 1:
        return None
    from evidently.legacy.core import ColumnType

    test = _stattest(kind)
    col_type = ColumnType.Numerical if kind == "numerical" else ColumnType.Categorical
    pooled = pd.concat([ref, cur], ignore_index=True)
    values = pooled.to_numpy()
    n_ref = len(ref)
    stats: list[float] = []
    for _ in range(permutations):
        order = rng.permutation(len(values))
        a = pd.Series(values[order[:n_ref]])
        b = pd.Series(values[order[n_ref:]])
        score = test(a, b, col_type, None).drift_score
        if score is not None and math.isfinite(score):
            stats.append(float(score))
    return float(np.quantile(stats, quantile)) if stats else None


def _prepare(df: pd.DataFrame, spec: DriftSpec) -> pd.DataFrame:
    """Only the monitored columns; categoricals as strings so Evidently bins them as labels."""
    missing = [c for c in spec.columns if c not in df.columns]
    if missing:
        raise KeyError(f"{spec.name}: columns missing from the data: {missing}")
    out = df.loc[:, list(spec.columns)].copy()
    for col in spec.categorical:
        out[col] = out[col].astype("string").fillna("<null>").astype(str)
    for col in spec.numerical:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return out


def _mean(series: pd.Series) -> float | None:
    clean = _clean(series)
    return float(clean.mean()) if len(clean) and pd.api.types.is_numeric_dtype(clean) else None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "drift"


def run_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    spec: DriftSpec,
    thresholds: DriftThresholds,
    out_dir: Path,
    *,
    reference_window: Mapping[str, Any] | None = None,
    current_window: Mapping[str, Any] | None = None,
    lineage: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    write_html: bool = True,
) -> DriftSummary:
    """Compare `current` with `reference`; write HTML + JSON under `<out_dir>/<date>/`.

    Args:
        reference, current: one row per entity (e.g. user) in each window.
        spec: monitored columns and their types.
        thresholds: column/share thresholds and the small-sample guards (see module docstring).
        out_dir: the reports folder (`Settings.reports_path`).
        reference_window, current_window: what each frame covers (dates, vars), for the record.
        lineage: run id, dbt manifest hash, model version, ... copied into the summary.
        write_html: False skips the 4 MB HTML (benchmarks); the JSON is always written.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    created = (now or datetime.now(UTC)).astimezone(UTC)
    ref, cur = _prepare(reference, spec), _prepare(current, spec)
    for name, frame, window in (
        ("reference", ref, reference_window),
        ("current", cur, current_window),
    ):
        if frame.empty:
            raise ValueError(
                f"the {name} window {dict(window or {})} has no rows: nothing to compare; "
                "choose windows inside the data"
            )
    rng = np.random.default_rng(thresholds.seed)
    floors: dict[str, float | None] = {}
    effective: dict[str, float] = {}
    for col in spec.columns:
        kind: Literal["numerical", "categorical"] = (
            "numerical" if col in spec.numerical else "categorical"
        )
        floors[col] = noise_floor(
            ref[col],
            cur[col],
            kind,
            permutations=thresholds.permutations,
            quantile=thresholds.null_quantile,
            rng=rng,
        )
        effective[col] = max(thresholds.column, floors[col] or 0.0)

    definition = DataDefinition(
        numerical_columns=list(spec.numerical), categorical_columns=list(spec.categorical)
    )
    preset = DataDriftPreset(
        columns=list(spec.columns),
        drift_share=thresholds.share,
        num_method=NUMERICAL_TEST,
        cat_method=CATEGORICAL_TEST,
        threshold=thresholds.column,
        per_column_threshold=effective,
    )
    snapshot = Report([preset]).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    # Read results by metric name, never by position.
    values: dict[str, float | None] = {}
    for metric in json.loads(snapshot.json())["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith(":ValueDrift"):
            value = metric.get("value")
            values[config["column"]] = (
                float(value) if isinstance(value, int | float) and math.isfinite(value) else None
            )

    columns: list[ColumnDrift] = []
    for col in spec.columns:
        kind = "numerical" if col in spec.numerical else "categorical"
        stat = values.get(col)
        columns.append(
            ColumnDrift(
                column=col,
                kind=kind,
                test=NUMERICAL_TEST if kind == "numerical" else CATEGORICAL_TEST,
                statistic=stat,
                threshold=effective[col],
                configured_threshold=thresholds.column,
                noise_floor=floors[col],
                drifted=stat is not None and stat >= effective[col],
                reference_mean=_mean(ref[col]) if kind == "numerical" else None,
                current_mean=_mean(cur[col]) if kind == "numerical" else None,
            )
        )
    drifted = sum(c.drifted for c in columns)
    share = drifted / len(columns) if columns else 0.0
    enough = len(ref) >= thresholds.min_rows and len(cur) >= thresholds.min_rows
    dataset_drift = enough and share >= thresholds.share
    status: Status = "insufficient_data" if not enough else ("drift" if dataset_drift else "ok")

    day_dir = Path(out_dir) / created.strftime("%Y-%m-%d")
    day_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{_slug(spec.name)}_drift_{created.strftime('%H%M%S%fZ')}"
    html_path = day_dir / f"{stem}.html" if write_html else None
    json_path = day_dir / f"{stem}.json"
    summary = DriftSummary(
        dataset=spec.name,
        report_id=f"{day_dir.name}/{stem}",
        created_at=created.isoformat(),
        status=status,
        dataset_drift=dataset_drift,
        drifted_count=drifted,
        column_count=len(columns),
        share=share,
        share_threshold=thresholds.share,
        reference_rows=len(ref),
        current_rows=len(cur),
        reference_window=dict(reference_window or {}),
        current_window=dict(current_window or {}),
        columns=columns,
        lineage={**dict(lineage or {}), "report_id": f"{day_dir.name}/{stem}"},
        html_path=str(html_path) if html_path else None,
        json_path=str(json_path),
    )
    if html_path is not None:
        snapshot.save_html(str(html_path))
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary.to_dict(), indent=2, default=str) + "\n")
    tmp.replace(json_path)
    log.info(
        "%s drift: %s (%d of %d columns, share %.2f vs %.2f; %d reference / %d current rows)",
        spec.name,
        status,
        drifted,
        len(columns),
        share,
        thresholds.share,
        len(ref),
        len(cur),
    )
    return summary


#: What each status means in a mail's subject and headline.
_VERDICT: dict[str, str] = {
    "drift": "DATASET DRIFT",
    "ok": "no dataset drift",
    "insufficient_data": "not enough data to judge",
}


def mail_content(summary: DriftSummary, *, max_rows: int = 15, reports_base_url: str | None = None):
    """The email for a drift summary: headline, table of the largest statistics, chart, lineage.

    With `reports_base_url` (where the reports folder is served) the mail links the report and
    its JSON summary; without, it names their paths and the host they are on: a local path is
    all there is, and a `file://` link would not open from a mail or web page anyway."""
    from monitoring.lineage import report_location, report_url
    from monitoring.mail import MailContent, SummaryRow, bar_chart_png, plural

    ranked = sorted(
        [c for c in summary.columns if c.statistic is not None],
        key=lambda c: (not c.drifted, -(c.statistic or 0.0) / c.threshold),
    )[:max_rows]
    rows = [
        SummaryRow(c.column, c.kind, c.test, c.statistic, c.threshold, c.drifted) for c in ranked
    ]
    verdict = _VERDICT[summary.status]
    top = ", ".join(c.column for c in summary.top_drifted()) or "none"
    headline = (
        f"{summary.dataset}: {verdict}. {summary.drifted_count} of "
        f"{plural(summary.column_count, 'column')} drifted (share {summary.share:.2f}, "
        f"threshold {summary.share_threshold:.2f}); "
        f"top drifted: {top}. Reference {summary.reference_rows} rows "
        f"{_window_text(summary.reference_window)}, current {summary.current_rows} rows "
        f"{_window_text(summary.current_window)}."
    )
    chart = bar_chart_png(
        [r.name for r in rows],
        [r.statistic or 0.0 for r in rows],
        [r.threshold or 0.0 for r in rows],
        f"{summary.dataset}: drift statistic vs threshold",
    )
    lineage = {
        "report_id": summary.report_id,
        **{k: v for k, v in summary.lineage.items() if k != "report_id"},
        "report_html": report_location(reports_base_url, summary.html_path),
        "report_json": report_location(reports_base_url, summary.json_path),
    }
    return MailContent(
        subject=mail_subject(summary),
        title=f"Drift report: {summary.dataset}",
        headline=headline,
        rows=rows,
        lineage={k: (None if v is None else str(v)) for k, v in lineage.items()},
        chart_png=chart,
        report_path=Path(summary.html_path) if summary.html_path else None,
        column_count=summary.column_count,
        drifted_count=summary.drifted_count,
        report_url=report_url(reports_base_url, summary.html_path),
        report_location=report_location(reports_base_url, summary.html_path),
    )


def mail_subject(summary: DriftSummary) -> str:
    """`Tastemaker drift, user_features: 1 of 41 columns drifted, no dataset drift (2026-06-03)`.

    The dataset names which check it is (user_features and churn_scores can both mail on one
    day); the count is of all compared columns, the same as the headline's; the date is the
    report's, so a day's mails can be told apart in a list of subjects."""
    from monitoring.mail import plural

    return (
        f"Tastemaker drift, {summary.dataset}: {summary.drifted_count} of "
        f"{plural(summary.column_count, 'column')} drifted, {_VERDICT[summary.status]} "
        f"({summary.created_at[:10]})"
    )


def _window_text(window: Mapping[str, Any]) -> str:
    """`2026-04-01 to 2026-05-16` (end exclusive), or `all history before 2026-05-16`."""
    if window.get("start") and window.get("end"):
        return f"({window['start']} to {window['end']}, end exclusive)"
    if window.get("end"):
        return f"(all history before {window['end']})"
    if window.get("window_name"):
        return f"({window['window_name']} window of {window.get('mart', 'the mart')})"
    return ""


#: Risk bands of a churn probability: [0, 0.2) low, [0.2, 0.5) medium, [0.5, 1] high. A shift of
#: users between bands is what a retention team acts on, so it is compared next to the raw score.
RISK_BANDS = (0.2, 0.5)
PREDICTION_COLUMN = "churn_probability"


def churn_scores_spec(column: str = PREDICTION_COLUMN) -> DriftSpec:
    """Prediction drift: the probability (Wasserstein) and its risk band (Jensen-Shannon).

    With two columns and the share threshold (0.3), either one drifting is dataset drift."""
    return DriftSpec(name="churn_scores", numerical=(column,), categorical=("risk_band",))


def _checked_scores(frame: pd.DataFrame, column: str, which: str) -> pd.DataFrame:
    """The scores with a risk band; a clear error naming the row and value when one is bad."""
    if column not in frame.columns:
        raise KeyError(
            f"churn scores ({which}): column {column!r} missing; has {list(frame.columns)}"
        )
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() | (values < 0) | (values > 1)
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        who = f" (user_id {frame['user_id'].iloc[pos]!r})" if "user_id" in frame.columns else ""
        raise ValueError(
            f"churn scores ({which}): row {pos}{who}: {column}={frame[column].iloc[pos]} is not "
            f"a probability in [0, 1] ({int(bad.sum())} bad row(s))"
        )
    low, high = RISK_BANDS
    band = np.where(values < low, "low", np.where(values < high, "medium", "high"))
    return pd.DataFrame({column: values.astype(float), "risk_band": band})


def run_prediction_drift(
    reference_scores: pd.DataFrame,
    current_scores: pd.DataFrame,
    thresholds: DriftThresholds,
    out_dir: Path,
    *,
    column: str = PREDICTION_COLUMN,
    reference_window: Mapping[str, Any] | None = None,
    current_window: Mapping[str, Any] | None = None,
    lineage: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    write_html: bool = True,
) -> DriftSummary:
    """Prediction drift between two sets of churn scores (one row per user each).

    Same tests, noise floors and files as `run_drift` (the summary's `dataset` is
    `churn_scores`); `reference_mean`/`current_mean` of the probability column say by how much
    the average predicted risk moved. Raises ValueError naming the first row whose score is not
    a probability.
    """
    ref = _checked_scores(reference_scores, column, "reference")
    cur = _checked_scores(current_scores, column, "current")
    return run_drift(
        ref,
        cur,
        churn_scores_spec(column),
        thresholds,
        out_dir,
        reference_window=reference_window,
        current_window=current_window,
        lineage=lineage,
        now=now,
        write_html=write_html,
    )


def recall(flagged: Sequence[str], expected: Sequence[str]) -> float:
    """Share of `expected` columns that were flagged (1.0 when nothing was expected)."""
    if not expected:
        return 1.0
    return len(set(flagged) & set(expected)) / len(set(expected))
