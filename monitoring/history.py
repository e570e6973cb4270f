"""The sets of recommendations the monitor has seen, and which two periods to compare.

`ml.recommendations` holds only the latest set, so recommendation quality over time needs the
monitor to keep each set it sees: `RecsysHistory` stores them as
`<folder>/<made_on>__<model_version>.parquet` and finds the set made before a given day.
`recsys_periods` then judges each set by what users first watched while it was live:

current = the latest set (made on C) against first watches in [C, C + w);
reference = the set before it (made on R) against first watches in [R, C).
Training interactions = first watches before each set was made.

Frames in, frames out: the caller reads the warehouse and says where the history lives.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from monitoring.checks import Skipped
from monitoring.lineage import published_lineage
from monitoring.recsys import RecsysPeriod

CHECK = "recommendations"


def made_on(frame: pd.DataFrame) -> dt.date | None:
    """The date a set of recommendations was made: its as-of column if it has one, else the day
    it was published."""
    for column in ("snapshot_date", "as_of", "published_at"):
        if column in frame.columns and frame[column].notna().any():
            return pd.Timestamp(frame[column].dropna().min()).date()
    return None


def tracked_row(recs: pd.DataFrame) -> pd.DataFrame:
    """The homepage row most users get (e.g. top picks): the one whose quality is tracked, so
    two sets are compared row for row even when a release adds or drops other rows."""
    if "row_name" not in recs.columns or recs["row_name"].nunique() <= 1:
        return recs
    row = recs.groupby("row_name")["user_id"].nunique().sort_values(ascending=False).index[0]
    return recs[recs["row_name"] == row]


class RecsysHistory:
    """The recommendation sets kept in `folder`, one parquet file per (day made, model version).

    Args:
        folder: where the sets are kept (created on the first `remember`).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def remember(self, recs: pd.DataFrame, cutoff: dt.date) -> Path:
        """Keep this set of recommendations (once per cut-off and model version)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        version = str(published_lineage(recs)["model_version"] or "unknown").replace("/", "_")
        path = self.folder / f"{cutoff.isoformat()}__{version.replace(':', '_')}.parquet"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            recs.to_parquet(tmp, index=False)
            tmp.replace(path)
        return path

    def previous(self, cutoff: dt.date) -> tuple[pd.DataFrame, dt.date] | None:
        """The latest remembered set made before `cutoff`, and the day it was made."""
        best: tuple[dt.date, Path] | None = None
        for path in self.folder.glob("*.parquet"):
            try:
                made = dt.date.fromisoformat(path.name.split("__", 1)[0])
            except ValueError:
                continue
            if made < cutoff and (best is None or made > best[0]):
                best = (made, path)
        return (pd.read_parquet(best[1]), best[0]) if best else None


def recsys_periods(
    recs: pd.DataFrame,
    watched: pd.DataFrame,
    history: RecsysHistory,
    *,
    days: int,
    source: str = "ml.recommendations",
) -> tuple[RecsysPeriod, RecsysPeriod] | Skipped:
    """Remember `recs` and pair it with the set it replaced, each with its holdout and training
    interactions (see the module docstring).

    Args:
        recs: the latest recommendations (user_id, title_id, rank, a made-on column, lineage).
        watched: first watches (user_id, title_id, first_watched_at).
        history: the sets seen by earlier runs; `recs` is added to it.
        days: length of the current holdout window.
        source: what `recs` is, as the skip reasons name it.

    Returns:
        (reference, current), or why they cannot be compared yet: no made-on date, no earlier
        set remembered, or nobody has started a title since the current set was made.
    """
    recs = tracked_row(recs)
    cutoff = made_on(recs)
    if cutoff is None:
        return Skipped(CHECK, f"{source} has no snapshot_date or published_at")
    history.remember(recs, cutoff)
    previous = history.previous(cutoff)
    if previous is None:
        return Skipped(
            CHECK,
            f"no earlier recommendations remembered before {cutoff}: this set is kept in "
            f"{history.folder} as the reference for the next one",
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
            CHECK,
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
