"""A writable private home holding a copy of a session-built warehouse.

Session fixtures (`tiny_warehouse`, `default_warehouse`, ...) are built once and must stay
untouched; a test that writes (publishes, rebuilds a mart, trains) works on a copy. The dbt
manifest is copied too, because lineage reads its hash.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def clone_home(built, home: Path) -> Path:
    """Copy `built`'s warehouse and dbt manifest into `home`; returns `home`."""
    (home / "dbt" / "target").mkdir(parents=True)
    shutil.copyfile(built.db_path, home / "warehouse.duckdb")
    shutil.copyfile(
        built.settings.home_dir / "dbt" / "target" / "manifest.json",
        home / "dbt" / "target" / "manifest.json",
    )
    return home


def publish_recommendations(built, home: Path, model: str, run_id: str) -> dict:
    """`clone_home`, then publish `ml.recommendations` with the step functions the recommender
    flow's tasks call (read marts → evaluate → train and register → homepages → publish),
    without Prefect.

    Returns the home, the homepage frame, the model reference and the registered version.
    """
    from flows.recommend import RecommendParams
    from ml.recommend.gates import champion_homepages, evaluate_recommender, train_recommender
    from ml.registry import ModelRegistry
    from warehouse.recommend import publish_recommendations as publish
    from warehouse.recommend import read_marts
    from warehouse.settings import Settings

    clone_home(built, home)
    settings = Settings(home=home)
    registry = ModelRegistry(settings.artifacts_path)
    params = RecommendParams(model=model)
    marts = read_marts(settings)
    evaluation = evaluate_recommender(marts, params)
    meta, _ = train_recommender(registry, marts, params, evaluation, run_id=run_id)
    frame, ref = champion_homepages(registry, marts, params)
    rows = publish(settings, frame, run_id, marts.manifest_sha256)
    return {"home": home, "frame": frame, "ref": ref, "version": meta.version, "rows": rows}


def publish_to(db_path: Path, table: str, frame, lineage, replace_where=None) -> int:
    """Publish `frame` to `ml.<table>` of the warehouse file `db_path` the way every step does:
    through `Warehouse(...).session()` (lock, one connection, `Session.publish`)."""
    from warehouse.db import Warehouse
    from warehouse.settings import Settings

    settings = Settings(home=db_path.parent, duckdb_path=db_path)
    with Warehouse(settings).session(create=True) as session:
        return session.publish(table, frame, lineage, replace_where)


def read_ml(db_path: Path, table: str):
    """`ml.<table>` of the warehouse file `db_path` in stored order, or None when unpublished."""
    from warehouse.db import ML_SCHEMA, Warehouse
    from warehouse.settings import Settings

    settings = Settings(home=db_path.parent, duckdb_path=db_path)
    with Warehouse(settings, reader=True).session() as session:
        return session.read(table, schema=ML_SCHEMA, order_by=None)
