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
