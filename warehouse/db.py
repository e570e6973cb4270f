"""The DuckDB warehouse of one Tastemaker home: its lock and its connection, held together.

`Warehouse(settings).session()` is how flows and commands reach the file: it takes the writer
lock (waiting like a writer, or like a read-only command with `reader=True`), opens the one
connection, and gives a `Session` whose `find` is the one rule for locating a table and whose
`read` returns rows in a fixed order. `Warehouse.locked()` is the lock alone, for steps that open
the file themselves (dbt, ingest).

Python reads marts; it never rebuilds them (dbt owns every transformation).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from warehouse.lock import warehouse_lock

if TYPE_CHECKING:
    import pandas as pd

    from warehouse.publish import PublishLineage
    from warehouse.settings import Settings

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

#: Schemas that hold what Tastemaker itself loads or publishes: never searched for a mart.
RAW_SCHEMA = "raw"
ML_SCHEMA = "ml"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")

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


class MissingTable(FileNotFoundError):
    """A table a step needs is not in the warehouse (the message says what to run)."""


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"invalid table name {name!r}")
    return name


class Session:
    """One open connection under the warehouse lock (see `Warehouse.session`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.con = con
        self.path = path

    def find(self, name: str, schema: str | None = None) -> str | None:
        """`"schema"."name"` of a table, or None when it does not exist.

        The one lookup rule: with `schema`, only that schema; without, a mart in any schema but
        `raw` and `ml` (dbt decides the marts' schema), `main` first, then alphabetical."""
        _ident(name)
        if schema is not None:
            row = self.con.execute(
                "select table_schema from information_schema.tables "
                "where table_schema = ? and table_name = ?",
                [schema, name],
            ).fetchone()
        else:
            row = self.con.execute(
                "select table_schema from information_schema.tables where table_name = ? "
                "and table_schema not in (?, ?) "
                "order by table_schema <> 'main', table_schema limit 1",
                [name, RAW_SCHEMA, ML_SCHEMA],
            ).fetchone()
        return f'"{row[0]}"."{name}"' if row else None

    def tables(self, schema: str) -> list[str]:
        """Names of the tables in `schema`, alphabetical (e.g. everything published to `ml`)."""
        rows = self.con.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "order by table_name",
            [_ident(schema)],
        ).fetchall()
        return [r[0] for r in rows]

    def columns(self, name: str, schema: str | None = None) -> list[str]:
        """Column names of a table in order ([] when it does not exist)."""
        table = self.find(name, schema)
        if table is None:
            return []
        return [r[0] for r in self.con.execute(f"describe {table}").fetchall()]

    def read(
        self,
        name: str,
        *,
        schema: str | None = None,
        columns: Iterable[str] | None = None,
        where: str | None = None,
        params: list | None = None,
        order_by: str | None = "all",
    ) -> pd.DataFrame | None:
        """A table's rows as a frame, or None when the table does not exist.

        Rows come in a fixed order (`order by all` unless told otherwise), so a fit that depends
        on row order (folds, K-Means init, tie-breaking) repeats on unchanged data. `where` is a
        SQL condition with `?` placeholders bound from `params`."""
        table = self.find(name, schema)
        if table is None:
            return None
        select = ", ".join(f'"{_ident(c)}"' for c in columns) if columns else "*"
        sql = f"select {select} from {table}"
        if where:
            sql += f" where {where}"
        if order_by:
            sql += f" order by {order_by}"
        return self.con.execute(sql, params or []).df()

    def copy_to(self, dest: Path) -> Path:
        """A consistent copy of the warehouse file at `dest` (for scratch dbt runs that must not
        touch the shared marts). Checkpoints first, so nothing waits in the write-ahead log."""
        import shutil

        self.con.execute("checkpoint")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.path, dest)
        return dest

    def publish(
        self,
        table: str,
        frame: pd.DataFrame,
        lineage: PublishLineage,
        replace_where: Mapping[str, Any] | None = None,
    ) -> int:
        """Write `frame` to `ml.<table>` in one transaction, stamped with `lineage`
        (see warehouse.publish for full versus keyed replaces)."""
        from warehouse.publish import publish_frame

        return publish_frame(self.con, table, frame, lineage, replace_where)

    def require(self, name: str, *, schema: str | None = None, **kwargs) -> pd.DataFrame:
        """Like `read`, but a missing table raises `MissingTable` saying what to run."""
        frame = self.read(name, schema=schema, **kwargs)
        if frame is None:
            where = f"{schema}.{name}" if schema else f"mart {name}"
            hint = (
                "run `tastemaker run` first"
                if schema == ML_SCHEMA
                else "run `tastemaker run` (or `tastemaker transform`) first"
            )
            raise MissingTable(f"{where} is not in {self.path}: {hint}")
        return frame


class Warehouse:
    """The DuckDB file of one home and its writer lock: the only way steps reach the file.

    Args:
        settings: where the file and the lock are, and how long to wait for the lock.
        reader: wait like a read-only command (`read_lock_timeout_s`, seconds) rather than like
            a writer (`warehouse_lock_timeout_s`, up to half an hour). DuckDB lets no other
            process open the file while a writer has it, so readers take the lock too.
    """

    def __init__(self, settings: Settings, *, reader: bool = False) -> None:
        self.settings = settings
        self.path = settings.warehouse_path
        self.timeout_s = (
            settings.read_lock_timeout_s if reader else settings.warehouse_lock_timeout_s
        )

    def exists(self) -> bool:
        return self.path.is_file()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """The lock alone, for steps that open the file themselves (dbt, ingest)."""
        with warehouse_lock(self.settings.lock_path, self.timeout_s):
            yield

    @contextmanager
    def session(self, *, create: bool = False) -> Iterator[Session]:
        """Lock, connect, and close both at the end of the block.

        Without `create`, a missing file is `MissingTable` naming what to run, instead of
        DuckDB quietly creating an empty database."""
        if not create and not self.exists():
            raise MissingTable(
                f"no warehouse at {self.path}: run `tastemaker run` or `tastemaker ingest` first"
            )
        with self.locked():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(str(self.path))
            try:
                yield Session(con, self.path)
            finally:
                con.close()
