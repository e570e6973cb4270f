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
the configured `column_threshold` (0.1 by default). We fix the methods rather than let Evidently
pick by sample size, because its default switches from distances to p-value tests (KS, chi²) below
1,000 rows, and a p-value threshold means something else than a distance threshold: the same
setting would silently change meaning with the data size.

**Small samples do not raise false alarms** for three reasons:

1. *Per-column noise floor.* A distance between two finite samples from the *same* distribution is
   not zero; it shrinks like 1/sqrt(n). For each column we pool reference and current, split them
   at random into the two sizes `permutations` times, compute the same Evidently statistic on each
   split, and take the `null_quantile` (99%) of those values as the column's noise floor. The
   threshold used is `max(column_threshold, noise floor)`: with thousands of rows the configured
   threshold governs; with a few hundred the floor rises above it, so chance differences cannot
   pass. The effective threshold is passed to Evidently per column, so the HTML report shows
   exactly the decision the summary records.
2. *Dataset drift needs a share of columns* (`share_threshold`, 0.3 by default), not one
   column: with ~40 monitored columns a few chance flags cannot reach it.
3. *Minimum rows.* With fewer than `min_rows` rows in either window the status is
   `insufficient_data` and dataset drift is never declared (the report is still written).

**Alert rules** (`ALERT_RULES`; any one firing makes the status `drift` and the mail go out):

- `large_drift`: a column whose statistic is beyond its noise floor (significant) *and* whose
  effect is large in units a reader can check: for share columns (and each category of a
  categorical) the change of the mean in percentage points (`alert_share_points`), for other
  numerical columns the change of the mean in reference standard deviations
  (`alert_mean_shift_sd`). A distance alone says "different" without saying by how much a user
  would notice; the effect alone, on a few hundred rows, can be chance.
- `key_feature`: a key column (the published models' top drivers, plus a configured list)
  alerts on its own at a lower bar: beyond its noise floor and with an effect of at least
  `key_effect_fraction` of the large one (half by default). A distance alone is not enough: on
  the undrifted default world `days_since_last_view` sits at 0.16 against the 0.10 column threshold
  between any training window and the latest 28 days (+0.16 SD), drifted or not.
- `dataset_share`: the share of drifted columns reaches `share_threshold` (the rule that was
  the only one).
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

from monitoring.config import DriftThresholds

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


#: Columns whose value follows the calendar: a window with more weekend days has a larger
#: weekend share with no change in behaviour.
CALENDAR_COLUMNS = ("weekend_share",)


def weekend_fraction(start: str | None, end: str | None) -> float | None:
    """The share of Saturdays and Sundays among the days of `[start, end)` (ISO dates)."""
    if not start or not end:
        return None
    first, last = (datetime.fromisoformat(d).date() for d in (start, end))
    days = (last - first).days
    if days <= 0:
        return None
    weekends = sum((first.toordinal() + i) % 7 in (6, 0) for i in range(days))
    return weekends / days


def without_calendar_columns(
    spec: DriftSpec, reference_window: Mapping[str, Any], current_window: Mapping[str, Any]
) -> tuple[DriftSpec, str | None]:
    """`spec` without `CALENDAR_COLUMNS` when the two windows hold different shares of weekend
    days (windows of 45 days: 12 against 14), and the note saying so; else `spec` unchanged.
    On the undrifted test world such windows moved weekend_share by +4.2 points: the calendar,
    not the viewers. Windows of whole weeks (the default 28 days) keep it."""
    ref = weekend_fraction(reference_window.get("start"), reference_window.get("end"))
    cur = weekend_fraction(current_window.get("start"), current_window.get("end"))
    if ref is None or cur is None or abs(ref - cur) < 1e-9:
        return spec, None
    dropped = [c for c in CALENDAR_COLUMNS if c in spec.columns]
    if not dropped:
        return spec, None
    note = (
        f"{', '.join(dropped)} not compared: the windows hold {ref:.1%} and {cur:.1%} weekend "
        "days (use windows of whole weeks)"
    )
    return DriftSpec(
        spec.name,
        tuple(c for c in spec.numerical if c not in dropped),
        tuple(c for c in spec.categorical if c not in dropped),
    ), note


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
    #: The readable size of the change: percentage points (`effect_unit` "points") for share
    #: columns and categoricals (the category that moved most), reference SDs ("sd") otherwise.
    effect: float | None = None
    effect_unit: str | None = None
    significant: bool = False
    large: bool = False
    key: bool = False
    #: The alert rule this column fired (`large_drift`, `key_feature`), or None.
    alert_rule: str | None = None

    def effect_text(self) -> str:
        """`+21.3 points`, `-0.62 SD`, or `` when unknown."""
        if self.effect is None:
            return ""
        if self.effect_unit == "points":
            return f"{self.effect:+.1f} points"
        return f"{self.effect:+.2f} SD"


@dataclass(frozen=True)
class Alert:
    """One rule that fired and the columns it fired for (all drifted ones for dataset_share)."""

    rule: str
    columns: list[str]


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
    alerts: list[Alert] = field(default_factory=list)

    @property
    def alert(self) -> bool:
        """Did any alert rule fire? (What the mail policy acts on.)"""
        return bool(self.alerts)

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
        fields["alerts"] = [Alert(**a) for a in data.get("alerts", [])]
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

    The statistic is Evidently's own (`_stattest`: normed Wasserstein, Jensen-Shannon), computed
    for all splits at once by `permutation_statistics`: calling Evidently once per split cost
    3.4 s of a back-filled day's 3.6 s (41 columns x 50 splits); the vectorised form gives the
    same values (tests/monitoring/test_noise_floor.py compares them split by split).
    """
    ref, cur = _clean(reference), _clean(current)
    if permutations == 0 or len(ref) < 2 or len(cur) < 1:
        return None
    pooled = pd.concat([ref, cur], ignore_index=True).to_numpy()
    orders = np.stack([rng.permutation(len(pooled)) for _ in range(permutations)])
    stats = permutation_statistics(pooled, orders, len(ref), kind)
    stats = stats[np.isfinite(stats)]
    return float(np.quantile(stats, quantile)) if stats.size else None


def permutation_statistics(
    pooled: np.ndarray,
    orders: np.ndarray,
    n_ref: int,
    kind: Literal["numerical", "categorical"],
    *,
    chunk: int = 16,
) -> np.ndarray:
    """The drift statistic of each split `pooled[order[:n_ref]]` against `pooled[order[n_ref:]]`.

    Numerical: Evidently's `wasserstein_distance_norm`, i.e. scipy's first Wasserstein distance
    (the area between the two empirical CDFs, read off the pooled sorted values) over
    `max(std(reference), 0.001)`. Categorical: Evidently's `jensenshannon` on the categories'
    shares (the pooled categories are every split's categories, so no zero filling). Splits
    are processed `chunk` at a time to bound memory at large windows.
    """
    n = len(pooled)
    n_cur = n - n_ref
    out = np.empty(len(orders))
    if kind == "numerical":
        values = pooled.astype(float)
        by_value = np.argsort(values, kind="stable")
        deltas = np.diff(values[by_value])
        position = np.empty(n, dtype=np.intp)
        position[by_value] = np.arange(n)
        for start in range(0, len(orders), chunk):
            block = orders[start : start + chunk]
            in_ref = np.zeros((len(block), n), dtype=bool)
            np.put_along_axis(in_ref, position[block[:, :n_ref]], True, axis=1)
            ref_cdf = np.cumsum(in_ref, axis=1)[:, :-1] / n_ref
            cur_cdf = np.cumsum(~in_ref, axis=1)[:, :-1] / n_cur
            distance = np.abs(ref_cdf - cur_cdf) @ deltas
            ref_values = values[block[:, :n_ref]]
            norm = np.maximum(ref_values.std(axis=1), 0.001)
            out[start : start + chunk] = distance / norm
        return out
    from scipy.spatial import distance as scipy_distance

    codes, categories = pd.factorize(pooled)
    k = len(categories)
    for start in range(0, len(orders), chunk):
        block = orders[start : start + chunk]
        rows = np.arange(len(block))[:, None] * k
        ref_counts = np.bincount((rows + codes[block[:, :n_ref]]).ravel(), minlength=len(block) * k)
        cur_counts = np.bincount((rows + codes[block[:, n_ref:]]).ravel(), minlength=len(block) * k)
        out[start : start + chunk] = scipy_distance.jensenshannon(
            ref_counts.reshape(len(block), k) / n_ref,
            cur_counts.reshape(len(block), k) / n_cur,
            axis=1,
        )
    return out


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


def effect_size(
    reference: pd.Series, current: pd.Series, kind: str, column: str
) -> tuple[float | None, str]:
    """The change a reader can check: points for shares and categoricals, SDs otherwise.

    Categoricals: the signed change, in points, of the category whose share moved most."""
    ref, cur = _clean(reference), _clean(current)
    if len(ref) == 0 or len(cur) == 0:
        return None, "points" if kind == "categorical" or _SHARE.search(column) else "sd"
    if kind == "categorical":
        p_ref = ref.astype(str).value_counts(normalize=True)
        p_cur = cur.astype(str).value_counts(normalize=True)
        diff = p_cur.reindex(p_ref.index.union(p_cur.index), fill_value=0.0) - p_ref.reindex(
            p_ref.index.union(p_cur.index), fill_value=0.0
        )
        return float(diff.loc[diff.abs().idxmax()] * 100), "points"
    delta = float(cur.mean() - ref.mean())
    if _SHARE.search(column):
        return delta * 100, "points"
    sd = float(ref.std(ddof=1)) if len(ref) > 1 else 0.0
    return (delta / sd if sd > 0 else None), "sd"


def _add_banner(html_path: Path, summary: DriftSummary) -> None:
    """Put the verdict, its rules and the reference at the top of Evidently's HTML: the report
    itself knows only per-column tests, not our alert rules or which reference was chosen."""
    import html as html_lib

    text = html_path.read_text(encoding="utf-8")
    banner = (
        "<div style='font-family:sans-serif;padding:8px 12px;background:#fff4d6;"
        "border-bottom:1px solid #d9c58b'>"
        f"<b>{html_lib.escape(_VERDICT[summary.status])}</b> — "
        f"{html_lib.escape(alert_text(summary))}<br>Reference: "
        f"{html_lib.escape(reference_text(summary))}; current: {summary.current_rows} rows "
        f"{html_lib.escape(_window_text(summary.current_window))}</div>"
    )
    at = text.find("<body")
    close = text.find(">", at) if at >= 0 else -1
    text = text[: close + 1] + banner + text[close + 1 :] if close >= 0 else banner + text
    html_path.write_text(text, encoding="utf-8")


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
    key_columns: Iterable[str] = (),
    evidently_report: bool = True,
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
        key_columns: columns that alert on their own when they drift (`key_feature` rule);
            names not monitored are ignored, `_28d` ones count as their windowed twin.
        evidently_report: False computes each column's statistic with the stattest functions
            the report itself calls (`_stattest`, as the noise floor does) instead of building
            an Evidently Report (~5 s of a day's 6 s at load 6 on the tiny world); no HTML then.
            For the back-fill's 60 days; the statistics are the report's
            (tests/monitoring/test_backfill.py compares them).
    """
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
        effective[col] = max(thresholds.column_threshold, floors[col] or 0.0)

    values = (
        _report_values(ref, cur, spec, thresholds, effective)
        if evidently_report
        else _direct_values(ref, cur, spec)
    )
    snapshot = values.pop(_SNAPSHOT, None)
    if snapshot is None:
        write_html = False

    keys = {windowed_twin(c) for c in key_columns} | set(key_columns)
    columns: list[ColumnDrift] = []
    for col in spec.columns:
        kind = "numerical" if col in spec.numerical else "categorical"
        stat = values.get(col)
        drifted_col = stat is not None and stat >= effective[col]
        # Beyond chance: above the permutation floor; without a floor (permutations = 0) the
        # per-column test is all there is.
        floor = floors[col]
        significant = stat is not None and (stat > floor if floor is not None else drifted_col)
        effect, unit = effect_size(ref[col], cur[col], kind, col)
        limit = (
            thresholds.alert_share_points if unit == "points" else thresholds.alert_mean_shift_sd
        )
        large = effect is not None and abs(effect) >= limit
        key = col in keys
        key_large = effect is not None and abs(effect) >= thresholds.key_effect_fraction * limit
        rule = (
            "large_drift"
            if significant and large
            else ("key_feature" if key and significant and key_large else None)
        )
        columns.append(
            ColumnDrift(
                column=col,
                kind=kind,
                test=NUMERICAL_TEST if kind == "numerical" else CATEGORICAL_TEST,
                statistic=stat,
                threshold=effective[col],
                configured_threshold=thresholds.column_threshold,
                noise_floor=floor,
                drifted=drifted_col,
                reference_mean=_mean(ref[col]) if kind == "numerical" else None,
                current_mean=_mean(cur[col]) if kind == "numerical" else None,
                effect=effect,
                effect_unit=unit,
                significant=significant,
                large=large,
                key=key,
                alert_rule=rule,
            )
        )
    drifted = sum(c.drifted for c in columns)
    share = drifted / len(columns) if columns else 0.0
    enough = len(ref) >= thresholds.min_rows and len(cur) >= thresholds.min_rows
    dataset_drift = enough and share >= thresholds.share_threshold
    alerts = alerts_of(columns, dataset_drift) if enough else []
    status: Status = "insufficient_data" if not enough else ("drift" if alerts else "ok")

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
        share_threshold=thresholds.share_threshold,
        reference_rows=len(ref),
        current_rows=len(cur),
        reference_window=dict(reference_window or {}),
        current_window=dict(current_window or {}),
        columns=columns,
        lineage={**dict(lineage or {}), "report_id": f"{day_dir.name}/{stem}"},
        html_path=str(html_path) if html_path else None,
        json_path=str(json_path),
        alerts=alerts,
    )
    if html_path is not None:
        snapshot.save_html(str(html_path))
        _add_banner(html_path, summary)
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
        thresholds.share_threshold,
        len(ref),
        len(cur),
    )
    return summary


#: The key under which `_report_values` hands back the Evidently snapshot (for the HTML).
_SNAPSHOT = "\x00snapshot"


def _report_values(
    ref: pd.DataFrame,
    cur: pd.DataFrame,
    spec: DriftSpec,
    thresholds: DriftThresholds,
    effective: Mapping[str, float],
) -> dict[str, Any]:
    """Each column's statistic from an Evidently Report (and the snapshot, under `_SNAPSHOT`)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=list(spec.numerical), categorical_columns=list(spec.categorical)
    )
    preset = DataDriftPreset(
        columns=list(spec.columns),
        drift_share=thresholds.share_threshold,
        num_method=NUMERICAL_TEST,
        cat_method=CATEGORICAL_TEST,
        threshold=thresholds.column_threshold,
        per_column_threshold=effective,
    )
    snapshot = Report([preset]).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    # Read results by metric name, never by position.
    values: dict[str, Any] = {}
    for metric in json.loads(snapshot.json())["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith(":ValueDrift"):
            value = metric.get("value")
            values[config["column"]] = (
                float(value) if isinstance(value, int | float) and math.isfinite(value) else None
            )
    values[_SNAPSHOT] = snapshot
    return values


def _direct_values(ref: pd.DataFrame, cur: pd.DataFrame, spec: DriftSpec) -> dict[str, Any]:
    """Each column's statistic from the stattest function the report applies to it."""
    from evidently.legacy.core import ColumnType

    values: dict[str, Any] = {}
    for col in spec.columns:
        numerical = col in spec.numerical
        a, b = _clean(ref[col]), _clean(cur[col])
        if len(a) == 0 or len(b) == 0:
            values[col] = None
            continue
        kind = ColumnType.Numerical if numerical else ColumnType.Categorical
        score = _stattest("numerical" if numerical else "categorical")(a, b, kind, None)
        value = score.drift_score
        values[col] = float(value) if value is not None and math.isfinite(value) else None
    return values


def alerts_of(columns: Sequence[ColumnDrift], dataset_drift: bool) -> list[Alert]:
    """The rules that fired, in `ALERT_RULES` order, largest effect first within a rule."""
    alerts = []
    for rule in ("large_drift", "key_feature"):
        fired = [c for c in columns if c.alert_rule == rule]
        fired.sort(key=lambda c: -_scaled_effect(c))
        if fired:
            alerts.append(Alert(rule, [c.column for c in fired]))
    if dataset_drift:
        alerts.append(Alert("dataset_share", [c.column for c in columns if c.drifted]))
    return alerts


def _scaled_effect(column: ColumnDrift) -> float:
    """The effect over its rule's scale, so points and SDs can be ranked together."""
    if column.effect is None:
        return 0.0
    return abs(column.effect) / (10.0 if column.effect_unit == "points" else 1.0)


#: The alert rules, in the order a mail names them (see the module docstring).
ALERT_RULES = ("large_drift", "key_feature", "dataset_share")
#: Share columns: their effect is the change of the mean in percentage points.
_SHARE = re.compile(r"(_share_|_share$)")


def windowed_twin(column: str) -> str:
    """The column that stands for `column` in the windowed spec (`active_days_28d` is compared
    as `active_days_total`): a model's driver named after its 28-day feature is still key."""
    return _WINDOWED_DUPLICATES.get(column, column)


#: What each status means in a mail's subject and headline.
_VERDICT: dict[str, str] = {
    "drift": "ALERT",
    "ok": "no alert",
    "insufficient_data": "not enough data to judge",
}
#: How a mail names each rule.
_RULE_TEXT = {
    "large_drift": "large drift",
    "key_feature": "key feature drifted",
    "dataset_share": "dataset share",
}


def alert_text(summary: DriftSummary, *, max_columns: int | None = None) -> str:
    """Which rules fired for which columns, e.g. `large drift: genre_share_reality +10.8
    points, device_share_mobile +9.0 points; dataset share: 17 of 41 columns drifted (0.41 >=
    0.30)`; the counts and why nothing fired when none did. `max_columns` shortens long lists
    (subjects)."""
    by_name = {c.column: c for c in summary.columns}

    def names(columns: list[str], *, effects: bool) -> str:
        shown = columns if max_columns is None else columns[:max_columns]
        text = ", ".join(f"{c} {by_name[c].effect_text()}".strip() if effects else c for c in shown)
        return text + (
            f" and {len(columns) - len(shown)} more" if len(shown) < len(columns) else ""
        )

    parts = []
    for alert in summary.alerts:
        if alert.rule == "dataset_share":
            parts.append(
                f"{_RULE_TEXT[alert.rule]}: {summary.drifted_count} of "
                f"{summary.column_count} columns drifted ({summary.share:.2f} >= "
                f"{summary.share_threshold:.2f})"
            )
        else:
            parts.append(
                f"{_RULE_TEXT[alert.rule]}: {names(alert.columns, effects=max_columns is None)}"
            )
    if parts:
        return "; ".join(parts)
    if summary.status == "insufficient_data":
        return "not enough rows to judge"
    return (
        f"{summary.drifted_count} of {summary.column_count} columns drifted "
        f"(share {summary.share:.2f} < {summary.share_threshold:.2f}), none both beyond "
        "chance and large, no key feature"
    )


#: The mail header naming what an alert is about (`alert_key`).
ALERT_KEY_HEADER = "X-Tastemaker-AlertKey"


def alert_key(summary: DriftSummary) -> str | None:
    """What an alert is about: the check, its two windows and the rules with their columns
    (not the run or the time). Two reports with the same key say the same thing, so a mail
    still waiting in the outbox need not be joined by a second copy (`tastemaker run` without
    SMTP queues one; `tastemaker drift --email` then sends that one). None without an alert."""
    import hashlib

    if not summary.alerts:
        return None
    about = {
        "dataset": summary.dataset,
        "reference": [summary.reference_window.get(k) for k in ("kind", "start", "end")],
        "current": [summary.current_window.get(k) for k in ("start", "end")],
        "alerts": [[a.rule, sorted(a.columns)] for a in summary.alerts],
    }
    return hashlib.sha256(json.dumps(about, sort_keys=True).encode()).hexdigest()[:16]


def reference_text(summary: DriftSummary) -> str:
    """`training data of churn:... (2026-02-11 to 2026-06-03, end exclusive, 4 windows of 28
    days, 6843 rows)`: which reference the check used, as every report states it."""
    window = summary.reference_window
    kind = window.get("kind", "adjacent")
    label = {
        "training": window.get("source") or "the champions' training data",
        "pinned": "the pinned reference period",
        "adjacent": "the window before the current one",
    }.get(kind, kind)
    extent = _window_text(window).strip("()")
    if window.get("windows", 1) > 1:
        extent += f", {window['windows']} windows of {window.get('days')} days"
    return f"{label} ({extent}; {summary.reference_rows} rows)"


def mail_content(
    summary: DriftSummary,
    *,
    max_rows: int = 15,
    reports_base_url: str | None = None,
    history: pd.DataFrame | None = None,
    impact: str | None = None,
):
    """The email for a drift summary: the alert line (rule and columns), the reference used, a
    table of the largest statistics with their readable change, chart, lineage; with `history`
    (the back-filled rows of `monitoring.drift_daily`), the drift over time as a line and a
    chart of the key columns per day with the alert days shaded; with `impact`, whether it
    matters: the churn model's estimated ROC-AUC change (`PerformanceEstimate.text`).

    With `reports_base_url` (where the reports folder is served) the mail links the report and
    its JSON summary; without, it names their paths and the host they are on: a local path is
    all there is, and a `file://` link would not open from a mail or web page anyway."""
    from monitoring.lineage import report_location, report_url
    from monitoring.mail import MailContent, SummaryRow, bar_chart_png

    ranked = sorted(
        [c for c in summary.columns if c.statistic is not None],
        key=lambda c: (c.alert_rule is None, not c.drifted, -(c.statistic or 0.0) / c.threshold),
    )[:max_rows]
    rows = [
        SummaryRow(
            c.column,
            c.kind,
            c.test,
            c.statistic,
            c.threshold,
            c.drifted,
            effect=c.effect_text(),
            alert_rule=c.alert_rule,
        )
        for c in ranked
    ]
    verdict = _VERDICT[summary.status]
    headline = (
        f"{verdict}: {alert_text(summary)}. Reference: {reference_text(summary)}; current: "
        f"{summary.current_rows} rows {_window_text(summary.current_window)}."
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
        "alert_key": alert_key(summary),
    }
    history_text = history_png = None
    if history is not None and not history.empty:
        from monitoring.backfill import backfill_text, history_chart_png

        days = int(history["window_days"].iloc[0])
        history_text = backfill_text(history)
        history_png = history_chart_png(
            history, f"{summary.dataset}: drift per day ({days}-day windows)"
        )
    return MailContent(
        subject=mail_subject(summary),
        title=f"Drift {verdict}, {summary.dataset}: {alert_text(summary, max_columns=6)}",
        headline=headline,
        rows=rows,
        lineage={k: (None if v is None else str(v)) for k, v in lineage.items()},
        chart_png=chart,
        report_path=Path(summary.html_path) if summary.html_path else None,
        column_count=summary.column_count,
        drifted_count=summary.drifted_count,
        report_url=report_url(reports_base_url, summary.html_path),
        report_location=report_location(reports_base_url, summary.html_path),
        history_text=history_text,
        history_png=history_png,
        impact_text=impact,
    )


def mail_subject(summary: DriftSummary) -> str:
    """`Tastemaker drift ALERT, user_features: large drift: genre_share_reality,
    device_share_mobile; dataset share: 17 of 41 columns drifted (0.41 >= 0.30) (2026-06-03)`.

    The rule and its columns come first: that is what a reader of a list of subjects acts on.
    The dataset names which check it is (user_features and churn_scores can both mail on one
    day); the date is the report's, so a day's mails can be told apart."""
    return (
        f"Tastemaker drift {_VERDICT[summary.status]}, {summary.dataset}: "
        f"{alert_text(summary, max_columns=4)} ({summary.created_at[:10]})"
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
