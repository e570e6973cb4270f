"""The backbone without Prefect: generate → ingest → dbt build, for tests, benchmarks and notebooks.

The flows do the same steps as tasks (with the UI, retries and artifacts); this is the plain
function form, so a test fixture or a benchmark can build a warehouse in one call.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from warehouse.db import Warehouse
from warehouse.dbtrun import DbtSummary, run_dbt
from warehouse.settings import Settings


class BuildError(RuntimeError):
    """The warehouse could not be built cleanly (rejected files or dbt failures)."""


@dataclass(frozen=True)
class BuiltWarehouse:
    settings: Settings
    world: dict
    ingest: dict
    dbt: DbtSummary

    @property
    def db_path(self) -> Path:
        return self.settings.warehouse_path

    @property
    def truth_dir(self) -> Path:
        return self.settings.truth_path


def build_warehouse(
    home: Path, world_config: object, dbt_vars: dict | None = None
) -> BuiltWarehouse:
    """Generate `world_config` (an `ml.world.WorldConfig`) into `home`, ingest it and build dbt.

    Raises `BuildError` if any file is rejected, any row quarantined or any dbt node fails: a
    generated world is clean by construction, so any of these is a bug worth stopping for.
    """
    from ml.world import generate_world
    from warehouse.ingest import ingest_path
    from warehouse.validate import TimeRules

    settings = Settings(home=home)
    world = generate_world(world_config, out=settings.home_dir, progress=False).to_dict()
    with Warehouse(settings).locked():
        report = ingest_path(
            settings.warehouse_path,
            settings.landing_path,
            rules=TimeRules.from_settings(settings),
        )
        ingest = report.to_dict()
        quarantined = sum(t["quarantined"] for t in ingest["tables"].values())
        if ingest["rejected"] or quarantined:
            raise BuildError(f"generated world did not ingest cleanly: {ingest}")
        dbt = run_dbt(settings, "build", dbt_vars=dbt_vars)
    if dbt.failed or not dbt.success:
        raise BuildError(f"dbt build failed: {[(n.unique_id, n.message) for n in dbt.failures]}")
    return BuiltWarehouse(settings=settings, world=world, ingest=ingest, dbt=dbt)
