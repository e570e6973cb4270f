"""The backbone without Prefect: generate → ingest → dbt build, for tests, benchmarks and notebooks.

The flows do the same steps as tasks (with the UI, retries and artifacts); this is the plain
function form, so a test fixture or a benchmark can build a warehouse in one call.
"""

from __future__ import annotations

import shutil
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
    #: A copy of the warehouse as ingested, before dbt (when asked for): the raw layer alone, to
    #: build a modified dbt project on without generating the world again.
    raw_path: Path | None = None

    @property
    def db_path(self) -> Path:
        return self.settings.warehouse_path

    @property
    def truth_dir(self) -> Path:
        return self.settings.truth_path


def build_warehouse(
    home: Path,
    world_config: object,
    dbt_vars: dict | None = None,
    raw_copy: Path | None = None,
) -> BuiltWarehouse:
    """Generate `world_config` (an `ml.world.WorldConfig`) into `home`, ingest it and build dbt;
    with `raw_copy`, the ingested warehouse is also copied there before dbt runs.

    Raises `BuildError` if any file is rejected, any row quarantined or any dbt node fails: a
    generated world is clean by construction, so any of these is a bug worth stopping for.
    """
    from ml.world import generate_world
    from warehouse.ingest import ingest_path

    settings = Settings(home=home)
    world = generate_world(world_config, out=settings.home_dir, progress=False).to_dict()
    with Warehouse(settings).locked():
        report = ingest_path(
            settings.warehouse_path,
            settings.landing_path,
            rules=settings.ingest,
        )
        ingest = report.to_dict()
        quarantined = sum(t["quarantined"] for t in ingest["tables"].values())
        if ingest["rejected"] or quarantined:
            raise BuildError(f"generated world did not ingest cleanly: {ingest}")
        if raw_copy is not None:
            raw_copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(settings.warehouse_path, raw_copy)
        dbt = run_dbt(settings, "build", dbt_vars=dbt_vars)
    if dbt.failed or not dbt.success:
        raise BuildError(f"dbt build failed: {[(n.unique_id, n.message) for n in dbt.failures]}")
    return BuiltWarehouse(settings=settings, world=world, ingest=ingest, dbt=dbt, raw_path=raw_copy)
