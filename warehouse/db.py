"""Small, read-mostly helpers over the DuckDB warehouse used by flows and the CLI.

Python reads marts; it never rebuilds them (dbt owns every transformation).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb

#: The marts the backbone publishes and later issues read. Order is the order they are reported.
CORE_MARTS = (
    "user_features",
    "title_features",
    "title_catalog",
    "user_title_interactions",
    "churn_training_set",
    "churn_scoring_set",
    "nudge_outcomes",
    "user_contact_history",
    "user_hour_profile",
)

RAW_TABLES = (
    "titles",
    "users",
    "subscriptions",
    "ratings",
    "views",
    "exposures",
    "nudges",
    "opt_outs",
    "quarantine",
)


def connect(db_path: Path) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-write.

    Read-write on purpose: inside one process DuckDB refuses a read-only connection to a file that
    is already open read-write (which dbt-duckdb may have done), so every connection in Tastemaker
    uses the same configuration.
    """
    if not db_path.is_file():
        raise FileNotFoundError(
            f"no warehouse at {db_path}: run `tastemaker run` or `tastemaker ingest` first"
        )
    return duckdb.connect(str(db_path))


def row_counts(db_path: Path, tables: Iterable[str], schema: str | None = None) -> dict[str, int]:
    """Row count per table name; a table that does not exist is reported as -1 rather than raising.

    Without `schema`, a table is looked up by name in any schema except `raw` (dbt decides the
    marts schema), which keeps callers independent of that choice.
    """
    names = list(tables)
    counts: dict[str, int] = {}
    con = connect(db_path)
    try:
        found = con.execute(
            """
            select table_name, table_schema from information_schema.tables
            where table_name in (select unnest(?::varchar[]))
              and (? is null and table_schema <> 'raw' or table_schema = ?)
            """,
            [names, schema, schema],
        ).fetchall()
        where = dict(found)
        for name in names:
            if name not in where:
                counts[name] = -1
                continue
            counts[name] = con.execute(f'select count(*) from "{where[name]}"."{name}"').fetchone()[
                0
            ]
    finally:
        con.close()
    return counts
