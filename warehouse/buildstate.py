"""Has anything changed since the last dbt build? (lets the 15-minute refresh skip idle builds)

The marts are a pure function of the raw tables, the dbt project's files, the dbt vars and the
tool versions: no model reads the clock (the snapshot date defaults to the day after the last
view). So a full build whose inputs all match the last successful full build's would rebuild the
same marts, and the refresh deployment, which fires every 15 minutes whether or not a file
landed, would hold the writer lock for a minute and a half for nothing (read commands wait on
that lock). `build_fingerprint` hashes those inputs; a successful full build records it in
`<home>/dbt/last_build.json`; `unchanged_since_last_build` compares.

The raw side is read from `raw.ingested_files` (one sha256 per ingested file) plus the row
count of every raw table, so a row written around the loader still counts as a change. Missing
marts (someone dropped one, or a new mart was added to the project) also force a build.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from warehouse.db import CORE_MARTS, RAW_TABLES, connect, row_counts
from warehouse.settings import Settings

log = logging.getLogger(__name__)

#: Folders of the dbt project that are outputs or caches, not inputs.
_SKIP_DIRS = {"target", "logs", "dbt_packages", "__pycache__", ".pytest_cache"}
_SKIP_FILES = {".user.yml"}


def project_fingerprint(project_dir: Path) -> str:
    """sha256 over every input file of the dbt project (relative path and bytes, sorted)."""
    h = hashlib.sha256()
    for path in sorted(project_dir.rglob("*")):
        rel = path.relative_to(project_dir)
        if not path.is_file() or _SKIP_DIRS & set(rel.parts) or path.name in _SKIP_FILES:
            continue
        h.update(str(rel.as_posix()).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def raw_fingerprint(db_path: Path) -> str | None:
    """sha256 over the ingested files' digests and each raw table's row count (None: no file)."""
    if not db_path.exists():
        return None
    h = hashlib.sha256()
    files = row_counts(db_path, ["ingested_files"], schema="raw")["ingested_files"]
    if files >= 0:
        con = connect(db_path)
        try:
            for digest, rows in con.execute(
                "select sha256, rows_loaded from raw.ingested_files order by sha256, rows_loaded"
            ).fetchall():
                h.update(f"{digest}:{rows}\n".encode())
        finally:
            con.close()
    for table, n in row_counts(db_path, RAW_TABLES, schema="raw").items():
        h.update(f"{table}={n}\n".encode())  # -1: the table does not exist
    return h.hexdigest()


def _missing_marts(db_path: Path) -> list[str]:
    return [m for m, n in row_counts(db_path, CORE_MARTS).items() if n < 0]


def build_fingerprint(settings: Settings, dbt_vars: Mapping[str, Any]) -> str | None:
    """One hash of everything a full dbt build's output depends on (None: no warehouse yet)."""
    raw = raw_fingerprint(settings.warehouse_path)
    if raw is None:
        return None
    versions = {p: metadata.version(p) for p in ("dbt-core", "dbt-duckdb", "duckdb")}
    payload = {
        "raw": raw,
        "project": project_fingerprint(settings.dbt_project_dir),
        "vars": {k: str(v) for k, v in sorted(dbt_vars.items())},
        "versions": versions,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def state_path(settings: Settings) -> Path:
    return settings.home_dir / "dbt" / "last_build.json"


def record_build(settings: Settings, fingerprint: str, manifest_sha256: str | None) -> None:
    """Remember a successful full build (written atomically: a torn file reads as no record)."""
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps(
            {
                "fingerprint": fingerprint,
                "manifest_sha256": manifest_sha256,
                "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
            indent=2,
        )
    )
    tmp.replace(path)


def last_build(settings: Settings) -> dict[str, Any] | None:
    """The last recorded successful full build, or None (none yet, or unreadable)."""
    try:
        return json.loads(state_path(settings).read_text())
    except (OSError, ValueError):
        return None


def unchanged_since_last_build(
    settings: Settings, dbt_vars: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The last build's record when a full build now would change nothing, else None.

    Call it under the warehouse lock, so no ingest lands between this check and the decision.
    """
    before = last_build(settings)
    if not before:
        return None
    now = build_fingerprint(settings, dbt_vars)
    if now is None or now != before.get("fingerprint"):
        return None
    missing = _missing_marts(settings.warehouse_path)
    if missing:
        log.info("marts %s are missing: rebuilding", missing)
        return None
    return before
