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
    """`clone_home`, then publish `ml.recommendations` with the recommender flow's own steps
    (read marts → evaluate → train and register → homepages → publish), without Prefect.

    Returns the home, the homepage frame, the model reference and the registered version.
    """
    from flows.recommend import (
        RecommendParams,
        evaluate_step,
        homepage_step,
        publish_step,
        read_marts,
        train_step,
    )
    from warehouse.settings import Settings

    clone_home(built, home)
    settings = Settings(home=home)
    params = RecommendParams(model=model)
    marts = read_marts(settings)
    evaluation = evaluate_step(marts, params)
    meta, _ = train_step(settings, marts, params, evaluation, run_id=run_id)
    frame, ref = homepage_step(settings, marts, params)
    rows = publish_step(settings, frame, run_id, marts.manifest_sha256)
    return {"home": home, "frame": frame, "ref": ref, "version": meta.version, "rows": rows}
