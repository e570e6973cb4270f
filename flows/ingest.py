"""Ingest flow: land contract files from the landing folder into the `raw` schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.retry import IO_RETRY
from warehouse.db import Warehouse
from warehouse.ingest import ingest_path
from warehouse.settings import Settings, get_settings


@task(cache_policy=NO_CACHE, **IO_RETRY)
def ingest_files(landing: Path, settings: Settings, retry_quarantine: bool = False) -> dict:
    """Load every new landing file (idempotent and transactional per file, so retries are safe)."""
    logger = get_run_logger()
    with Warehouse(settings).locked():
        report = ingest_path(
            settings.warehouse_path,
            landing,
            rules=settings.ingest,
            retry_quarantine=retry_quarantine,
        )
    result = report.to_dict()
    for entity, counts in result["tables"].items():
        logger.info("%s: %s", entity, counts)
    for entity, counts in result["readmitted"].items():
        logger.info("%s re-admitted from quarantine: %s", entity, counts)
    for rejected in result["rejected"]:
        logger.error("rejected %s", rejected)
    return result


def _ingest_table(result: dict) -> list[dict[str, Any]]:
    return [{"table": entity, **counts} for entity, counts in result["tables"].items()]


@flow(name="ingest", log_prints=True)
def ingest_flow(landing: str | None = None, retry_quarantine: bool = False) -> dict:
    """Ingest the landing folder (default: the settings' landing folder) into DuckDB `raw`;
    with `retry_quarantine`, retry rows waiting for a user or title even if none landed."""
    settings = get_settings()
    path = Path(landing).expanduser().resolve() if landing else settings.landing_path
    if not path.exists():
        raise FileNotFoundError(f"landing path {path} does not exist")
    result = ingest_files(path, settings, retry_quarantine)
    create_table_artifact(
        key="tastemaker-ingest",
        table=_ingest_table(result) or [{"table": "-", "note": "no new files"}],
        description=f"Ingest of {path}: rejected files: {len(result['rejected'])}",
    )
    return result
