"""`title_catalog`: the descriptive mart the recommender reads instead of the staging view.

On the tiny world built once per session (tests/dbt/conftest.py `built_project`): one row per
title of raw.titles with its text filled, the contract's column types, and nothing behavioural
(audience figures and the snapshot stay in title_features).
"""

from __future__ import annotations

import pytest
from dbtkit import query, scalar

pytestmark = pytest.mark.slow

TEXT_COLUMNS = ("title_name", "kind", "genres", "synopsis", "cast_names", "director")


def test_catalog_nodes_built_and_passed(built_project) -> None:
    statuses = built_project.run.statuses
    ours = {uid: s for uid, s in statuses.items() if "title_catalog" in uid}
    assert ours.get("model.tastemaker.title_catalog") == "success", built_project.run.explain()
    assert (
        ours.get("unit_test.tastemaker.title_catalog.title_catalog_keeps_every_title_with_its_text")
        == "pass"
    )
    data_tests = [uid for uid in ours if uid.startswith("test.")]
    assert len(data_tests) >= 6, ours
    assert all(s in ("pass", "success") for s in ours.values()), ours


def test_one_row_per_raw_title_with_text_filled(built_project) -> None:
    db = built_project.db_path
    raw_ids = {r[0] for r in query(db, "select title_id from raw.titles")}
    rows, distinct = query(db, "select count(*), count(distinct title_id) from title_catalog")[0]
    assert rows == distinct == len(raw_ids) > 0
    assert {r[0] for r in query(db, "select title_id from title_catalog")} == raw_ids
    # the generated world lands every text field for every title: none may be lost on the way
    nulls = query(
        db,
        "select "
        + ", ".join(f"count(*) filter (where {c} is null or trim({c}) = '')" for c in TEXT_COLUMNS)
        + " from title_catalog",
    )[0]
    assert dict(zip(TEXT_COLUMNS, nulls, strict=True)) == dict.fromkeys(TEXT_COLUMNS, 0)


def test_text_matches_what_landed(built_project) -> None:
    db = built_project.db_path
    mismatched = scalar(
        db,
        """
        select count(*) from raw.titles r join title_catalog c using (title_id)
        where c.title_name is distinct from trim(r.title)
           or c.synopsis is distinct from r.synopsis
           or c.cast_names is distinct from nullif(trim(r."cast"), '')
           or c.director is distinct from nullif(trim(r.director), '')
           or c.kind is distinct from lower(trim(r.kind))
           or c.release_date is distinct from r.release_date
           or c.runtime_minutes is distinct from r.runtime_minutes
        """,
    )
    assert mismatched == 0


def test_contract_columns_and_types_are_descriptive_only(built_project) -> None:
    columns = dict(
        query(
            built_project.db_path,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'main' and table_name = 'title_catalog' "
            "order by ordinal_position",
        )
    )
    assert columns == {
        "title_id": "VARCHAR",
        "title_name": "VARCHAR",
        "kind": "VARCHAR",
        "genres": "VARCHAR",
        "synopsis": "VARCHAR",
        "cast_names": "VARCHAR",
        "director": "VARCHAR",
        "release_date": "DATE",
        "runtime_minutes": "INTEGER",
        "seasons": "INTEGER",
        "maturity_rating": "VARCHAR",
        "country": "VARCHAR",
        "language": "VARCHAR",
    }
    features = {
        r[0]
        for r in query(
            built_project.db_path,
            "select column_name from information_schema.columns "
            "where table_schema = 'main' and table_name = 'title_features'",
        )
    }
    behavioural = features - set(columns)
    assert {"viewers", "views", "watch_hours", "trend", "snapshot_date"} <= behavioural
