"""Publish model outputs to the warehouse's `ml` schema, every row stamped with its lineage.

Why one helper: every published row must carry the flow run id, the model version and the dbt
manifest hash that produced it (so a figure in an email or a dashboard traces back to the Prefect
run and the dbt build), and a publish must never leave a table half-written. Every step publishes
through `Session.publish` (warehouse/db.py), which calls `publish_frame` on the session's one
connection, instead of writing SQL of its own.

Semantics:
- the frame is written in one DuckDB transaction: either every row lands or none does;
- `replace_where=None` replaces the whole table (a table holding only the latest model's output,
  e.g. `ml.recommendations`); `replace_where={"snapshot_date": d}` replaces only the rows matching
  those keys and keeps the rest (history, e.g. `ml.churn_scores` per snapshot, which prediction
  drift compares across snapshots);
- lineage columns `run_id, model_version, dbt_manifest_sha256, published_at` are appended;
  a frame that already has a `model_version` column keeps its own values (one per row);
- a full replace may change the table's columns (the table is recreated); a partial replace must
  match the existing columns exactly, else `PublishError` names the difference.

The session holds the warehouse lock: DuckDB has one writer.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

log = logging.getLogger(__name__)

SCHEMA = "ml"
LINEAGE_COLUMNS = ("run_id", "model_version", "dbt_manifest_sha256", "published_at")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


class PublishError(ValueError):
    """A frame cannot be published as asked (bad name, empty key, column mismatch)."""


@dataclass(frozen=True)
class PublishLineage:
    """What every published row carries."""

    run_id: str | None
    model_version: str | None
    dbt_manifest_sha256: str | None


def _check_ident(name: str, what: str) -> str:
    if not _IDENT.match(name):
        raise PublishError(f"invalid {what} name {name!r}: use lower-case letters, digits and _")
    return name


def _existing_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str] | None:
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [SCHEMA, table],
    ).fetchall()
    return [r[0] for r in rows] or None


def stamp(
    frame: pd.DataFrame, lineage: PublishLineage, now: dt.datetime | None = None
) -> pd.DataFrame:
    """A copy of `frame` with the lineage columns appended (existing `model_version` kept)."""
    out = frame.copy()
    for col in ("run_id", "dbt_manifest_sha256", "published_at"):
        if col in out.columns:
            raise PublishError(f"column {col!r} is reserved for lineage; rename it in the frame")
    out["run_id"] = lineage.run_id
    if "model_version" not in out.columns:
        out["model_version"] = lineage.model_version
    out["dbt_manifest_sha256"] = lineage.dbt_manifest_sha256
    out["published_at"] = pd.Timestamp(now or dt.datetime.now(dt.UTC)).tz_convert("UTC")
    return out


def publish_frame(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame,
    lineage: PublishLineage,
    replace_where: Mapping[str, Any] | None = None,
) -> int:
    """Write `frame` to `ml.<table>` atomically, stamped with `lineage`; returns rows written."""
    _check_ident(table, "table")
    for col in frame.columns:
        _check_ident(str(col), "column")
    if replace_where is not None:
        if not replace_where:
            raise PublishError("replace_where must name at least one key column, or be None")
        missing = [k for k in replace_where if k not in frame.columns]
        if missing:
            raise PublishError(f"replace_where keys {missing} are not columns of the frame")
    data = stamp(frame, lineage)
    qualified = f"{SCHEMA}.{table}"
    con.execute(f"create schema if not exists {SCHEMA}")
    con.register("_publish_frame", data)
    con.execute("begin transaction")
    try:
        existing = _existing_columns(con, table)
        if replace_where is None:
            con.execute(f"create or replace table {qualified} as select * from _publish_frame")
        elif existing is None:
            con.execute(f"create table {qualified} as select * from _publish_frame")
        else:
            if existing != list(data.columns):
                raise PublishError(
                    f"{qualified} has columns {existing}; the frame has "
                    f"{list(data.columns)}: publish a full replace to change the schema"
                )
            where = " and ".join(f"{k} = ?" for k in replace_where)
            con.execute(f"delete from {qualified} where {where}", list(replace_where.values()))
            con.execute(f"insert into {qualified} select * from _publish_frame")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.unregister("_publish_frame")
    log.info("published %d rows to %s (%s)", len(data), qualified, lineage.model_version)
    return len(data)
