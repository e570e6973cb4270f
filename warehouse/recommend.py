"""What the recommender reads and publishes: four marts in, `ml.recommendations` out.

Python reads the marts and never rebuilds one (a missing mart says what to run); the flow, the
CLI (`tastemaker evaluate recommender --dataset synthetic`) and the tests read them here, so
they all see the same frames in the same order (`Session.read`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from warehouse.db import Warehouse
from warehouse.dbtrun import dbt_target_dir, manifest_sha256
from warehouse.homepage import TABLE, MissingMarts
from warehouse.publish import PublishLineage
from warehouse.settings import Settings

MARTS = ("user_title_interactions", "title_features", "user_features", "title_catalog")
#: title_catalog's column names → the names ml.recommend.content.ContentModel reads
#: (`cast` is a reserved word in SQL, so the mart says `cast_names`).
CATALOG_RENAMES = {"title_name": "title", "cast_names": "cast"}


@dataclass(frozen=True)
class Marts:
    """What the recommender reads, plus the lineage of the dbt build it came from."""

    interactions: pd.DataFrame
    title_features: pd.DataFrame
    user_features: pd.DataFrame
    #: title_catalog, renamed per CATALOG_RENAMES (`title`, `cast`) for the content model.
    catalog: pd.DataFrame
    manifest_sha256: str | None

    def row_counts(self) -> dict[str, int]:
        return {
            "user_title_interactions": len(self.interactions),
            "title_features": len(self.title_features),
            "user_features": len(self.user_features),
            "title_catalog": len(self.catalog),
        }

    def snapshot_date(self) -> str | None:
        """The marts' as-of date (ISO), from `title_features`; None when the mart has none.
        The registry records it as the model's data window snapshot."""
        col = self.title_features.get("snapshot_date")
        if col is None or col.dropna().empty:
            return None
        return pd.Timestamp(col.max()).date().isoformat()


def read_marts(settings: Settings, *, reader: bool = False) -> Marts:
    """Read the four marts under the lock: interactions, title and user features, and
    `title_catalog` (the title text the content model fits on, as `catalog`, with the columns
    renamed per CATALOG_RENAMES). A missing mart says what to run: Python never rebuilds one.
    `reader`: wait for a writer like a read-only command (`tastemaker evaluate`), not like the
    flow, which would rather wait out a build than fail."""
    if not settings.warehouse_path.is_file():
        raise MissingMarts(f"no warehouse at {settings.warehouse_path}: run `tastemaker run` first")
    frames: dict[str, pd.DataFrame | None] = {}
    with Warehouse(settings, reader=reader).session() as db:
        for mart in MARTS:
            frames[mart] = db.read(mart)
            if frames[mart] is None:
                raise MissingMarts(
                    f"mart {mart} is missing from {settings.warehouse_path}: run "
                    "`tastemaker run` (or `tastemaker transform`) first"
                )
    return Marts(
        interactions=frames["user_title_interactions"],
        title_features=frames["title_features"],
        user_features=frames["user_features"],
        catalog=frames["title_catalog"].rename(columns=CATALOG_RENAMES),
        manifest_sha256=manifest_sha256(dbt_target_dir(settings)),
    )


def publish_recommendations(
    settings: Settings, frame: pd.DataFrame, run_id: str | None, manifest: str | None
) -> int:
    """Replace `ml.recommendations` atomically: it holds only the champion's latest homepages."""
    lineage = PublishLineage(
        run_id, str(frame["model_version"].iloc[0]) if len(frame) else None, manifest
    )
    with Warehouse(settings).session() as db:
        return db.publish(TABLE, frame, lineage)
