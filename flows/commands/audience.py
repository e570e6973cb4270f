"""Audience commands: `segments [--json]` and `churn [--json] [--top N]`.

Both read what the audience flows published (`ml.segment_profiles`, `ml.churn_scores`) through
`warehouse.audience` as readers; they never fit anything, so they answer in a second.
Module-level imports stay light (typer only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from flows.cli_support import JsonOpt
from flows.cli_support import emit_json as _emit_json
from flows.cli_support import fail as _fail
from flows.cli_support import fail_busy as _fail_busy
from flows.cli_support import load_settings as _settings

NOT_PUBLISHED = "{table} has not been published yet: run `tastemaker run` first"
#: Why a run can leave churn unpublished on purpose (see flows.churn.churn_flow).
YOUNG_SERVICE = (
    " (a service whose churn snapshots do not yet span the 30-day label window plus a "
    "validation period has its churn stage skipped: the run's log says how much more history "
    "it needs)"
)


def _read(reading: Callable[..., Any], table: str, hint: str = "") -> Any:
    """What `reading` (a reader of warehouse.audience) returns, or a one-line error (ending with
    `hint`) when there is no warehouse or no `ml.<table>`, or when a run is writing the
    warehouse for longer than the short `read_lock_timeout_s`."""
    from warehouse.db import MissingTable
    from warehouse.lock import WarehouseBusyError

    try:
        frame = reading(_settings(), reader=True)
    except MissingTable as exc:
        _fail(str(exc))
    except WarehouseBusyError as exc:
        _fail_busy(exc)
    if frame is None:
        _fail(NOT_PUBLISHED.format(table=f"ml.{table}") + hint)
    return frame


def _records(frame: Any) -> list[dict[str, Any]]:
    """JSON-able rows (NaN → null, dates and timestamps → ISO text)."""
    import json

    frame = frame.copy()
    if "snapshot_date" in frame.columns:  # a DATE in DuckDB: no time of day to print
        frame["snapshot_date"] = frame["snapshot_date"].astype(str).str[:10]
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def segments(as_json: JsonOpt = False) -> None:
    """The viewer segments: name, size, share and what sets each apart (ml.segment_profiles)."""
    import json

    from warehouse.audience import SEGMENT_PROFILES, read_segment_profiles

    frame = _read(read_segment_profiles, SEGMENT_PROFILES)  # noise segment (-1) last
    if as_json:
        rows = _records(frame)
        for row in rows:
            raw = row.pop("top_features_json", None)
            row["top_features"] = json.loads(raw) if raw else []
        _emit_json(
            {
                "model_version": frame["model_version"].iloc[0] if len(frame) else None,
                "snapshot_date": str(frame["snapshot_date"].iloc[0])[:10] if len(frame) else None,
                "segments": rows,
            }
        )
        return
    if frame.empty:
        typer.echo("no segments published")
        return
    first = frame.iloc[0]
    typer.echo(
        f"segments by {first['model_version']} (snapshot {first['snapshot_date']:%Y-%m-%d}, "
        f"{int(frame['size'].sum()):,} users)"
    )
    typer.echo(f"{'id':>3}  {'users':>6} {'share':>6}  segment")
    for r in frame.itertuples():
        typer.echo(f"{r.segment_id:>3}  {r.size:>6,} {r.share:>6.1%}  {r.segment_name}")
        if r.top_features:
            typer.echo(f"{'':>19}{r.top_features}")


def churn(
    top: Annotated[int, typer.Option("--top", min=1, help="How many users to list.")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """The highest-risk users of the latest churn scores, with the reasons (ml.churn_scores)."""
    from warehouse.audience import CHURN_SCORES, read_churn_scores

    frame = _read(read_churn_scores, CHURN_SCORES, hint=YOUNG_SERVICE)
    if frame.empty:
        _fail(NOT_PUBLISHED.format(table="ml.churn_scores (no rows)"))
    latest = frame["snapshot_date"].max()
    now = frame[frame["snapshot_date"] == latest]
    ranked = now.sort_values(["churn_probability", "user_id"], ascending=[False, True]).head(top)
    cols = ["user_id", "churn_probability", "top_reasons", "model_version"]
    summary = {
        "snapshot_date": str(latest)[:10],
        "users_scored": len(now),
        "mean_probability": float(now["churn_probability"].mean()),
        "snapshots_kept": int(frame["snapshot_date"].nunique()),
    }
    if as_json:
        _emit_json({**summary, "top": _records(ranked[cols])})
        return
    typer.echo(
        f"churn risk on {summary['snapshot_date']}: {summary['users_scored']:,} users scored, "
        f"mean {summary['mean_probability']:.1%} ({summary['snapshots_kept']} snapshot(s) kept)"
    )
    typer.echo(f"{'user':<12} {'risk':>6}  reasons")
    for r in ranked.itertuples():
        typer.echo(f"{r.user_id!s:<12} {r.churn_probability:>6.1%}  {r.top_reasons or '-'}")


def register(app: typer.Typer) -> None:
    """Add `segments` and `churn` to the main CLI."""
    app.command("segments")(segments)
    app.command("churn")(churn)
