"""The recommender reads its title text from the `title_catalog` mart, never a staging view.

Uses the session's tiny warehouse (generate → ingest → dbt build); a test that changes the
warehouse works on a private copy (tests/homes.py).
"""

from __future__ import annotations

import duckdb
import pytest

from ml.recommend.content import ContentModel
from tests.homes import clone_home
from warehouse.db import CORE_MARTS, row_counts
from warehouse.homepage import MissingMarts
from warehouse.recommend import CATALOG_RENAMES, read_marts
from warehouse.settings import Settings

pytestmark = pytest.mark.slow  # the session's tiny warehouse (dbt build)


@pytest.fixture(scope="module")
def marts(tiny_warehouse):
    return read_marts(tiny_warehouse.settings)


def _raw_title_ids(db_path) -> set[str]:
    con = duckdb.connect(str(db_path))
    try:
        return {r[0] for r in con.execute("select title_id from raw.titles").fetchall()}
    finally:
        con.close()


def test_catalog_is_the_mart_one_row_per_title_with_text(marts, tiny_warehouse) -> None:
    catalog = marts.catalog
    assert set(catalog["title_id"]) == _raw_title_ids(tiny_warehouse.db_path)
    assert catalog["title_id"].is_unique
    # renamed for the content model; the behavioural figures stay in title_features
    assert {"title", "cast", "synopsis", "director", "genres", "kind"} <= set(catalog.columns)
    assert not set(CATALOG_RENAMES) & set(catalog.columns)
    assert not {"viewers", "views", "snapshot_date"} & set(catalog.columns)
    for column in ("title", "cast", "synopsis", "director", "genres"):
        assert catalog[column].notna().all() and (catalog[column].str.strip() != "").all(), column
    assert marts.row_counts()["title_catalog"] == len(catalog)


def test_content_model_fits_every_text_block_of_the_catalog(marts) -> None:
    model = ContentModel().fit(marts.catalog)
    assert set(model.vectorizers_) == {"synopsis", "genres", "cast", "director"}
    # a title is most like itself; "More like this" excludes it and ranks the rest
    first = marts.catalog["title_id"].iloc[0]
    similar = model.similar(first, n=5)
    assert first not in set(similar["title_id"]) and len(similar) == 5
    assert similar["score"].is_monotonic_decreasing


def test_core_marts_count_the_catalog(tiny_warehouse) -> None:
    assert "title_catalog" in CORE_MARTS
    counts = row_counts(tiny_warehouse.db_path, CORE_MARTS)
    assert counts["title_catalog"] == len(_raw_title_ids(tiny_warehouse.db_path))


def test_missing_catalog_mart_says_what_to_run(tiny_warehouse, tmp_path) -> None:
    home = clone_home(tiny_warehouse, tmp_path / "home")
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    try:
        con.execute("drop table main.title_catalog")
        # the staging view is still there: reading it instead would hide the missing mart
        assert con.execute(
            "select count(*) from information_schema.tables where table_name = 'stg_raw__titles'"
        ).fetchone()[0]
    finally:
        con.close()
    with pytest.raises(MissingMarts, match=r"mart title_catalog is missing .*`tastemaker run`"):
        read_marts(Settings(home=home))
