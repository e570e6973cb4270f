"""Who published what: the lineage stamped on every `ml.*` row, counted per table and run.

`warehouse.publish` stamps `run_id, model_version, dbt_manifest_sha256` on every published row.
`tastemaker lineage` follows a model version to the tables and runs that published it; the
read is here (the data layer), the matching of a version to its rows is
`monitoring.lineage.published_rows`, which takes this frame.
"""

from __future__ import annotations

import logging

import duckdb
import pandas as pd

from warehouse.db import ML_SCHEMA, Warehouse
from warehouse.settings import Settings

log = logging.getLogger(__name__)

#: The columns of `read_published_runs`: one row per table, model version, run and dbt build.
PUBLISHED_RUNS_COLUMNS = ("table", "model_version", "run_id", "dbt_manifest_sha256", "rows")
#: The lineage a table must carry to be listed (a manifest hash is optional: older tables lack it).
_KEYS = {"model_version", "run_id"}


def read_published_runs(settings: Settings, *, reader: bool = False) -> pd.DataFrame:
    """Rows per (`ml.<table>`, model version, run, dbt build) of every `ml.*` table that carries
    lineage, ordered by table, model version and run.

    Best effort, since the lineage chain is still printed from the registry or the report: a
    missing warehouse gives no rows, and so does one DuckDB will not open (another process holds
    it without the Tastemaker lock), with a warning. A run holding the lock is still
    `WarehouseBusyError` after the wait (`reader`: a read-only command's short wait)."""
    empty = pd.DataFrame(columns=list(PUBLISHED_RUNS_COLUMNS))
    if not settings.warehouse_path.is_file():
        return empty
    frames: list[pd.DataFrame] = []
    try:
        with Warehouse(settings, reader=reader).session() as db:
            for name in db.tables(ML_SCHEMA):
                columns = set(db.columns(name, ML_SCHEMA))
                if not columns >= _KEYS:
                    continue
                manifest = (
                    "dbt_manifest_sha256" if "dbt_manifest_sha256" in columns else "null::varchar"
                )
                frames.append(
                    db.con.execute(
                        'select ? as "table", model_version, run_id, '
                        f'{manifest} as dbt_manifest_sha256, count(*) as "rows" '
                        f"from {db.find(name, ML_SCHEMA)} group by all order by all",
                        [f"{ML_SCHEMA}.{name}"],
                    ).df()
                )
    except duckdb.Error as exc:
        log.warning(
            "lineage: cannot read %s (%s); published rows not shown", settings.warehouse_path, exc
        )
        return empty
    return pd.concat(frames, ignore_index=True) if frames else empty
