"""A tiny synthetic world lands with nothing quarantined; re-ingesting it changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_helpers import count

import ml.world as world
from warehouse import spec
from warehouse.ingest import ingest_path

TABLES = (
    "titles", "users", "subscriptions", "ratings", "views", "exposures", "nudges", "opt_outs",
)  # fmt: skip


@pytest.fixture(scope="module")
def world_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("world")
    world.generate_world(
        world.WorldConfig(users=150, titles=30, days=35, seed=11), out=home, progress=False
    )
    return home


def test_generated_world_ingests_with_nothing_quarantined(world_home: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    report = ingest_path(db, world_home / "landing")

    assert report.ok, report.rejected
    assert set(report.tables) == set(TABLES)
    assert {e: c.quarantined for e, c in report.tables.items()} == dict.fromkeys(TABLES, 0)
    assert {e: c.duplicate for e, c in report.tables.items()} == dict.fromkeys(TABLES, 0)
    assert all(c.loaded > 0 for c in report.tables.values())
    assert {t: count(db, t) for t in TABLES} == {e: c.loaded for e, c in report.tables.items()}
    files = sum(1 for p in (world_home / "landing").rglob("*") if p.is_file())
    assert count(db, "ingested_files") == files

    before = {t: count(db, t) for t in (*TABLES, "quarantine", "ingested_files")}
    again = ingest_path(db, world_home / "landing")
    assert again.ok and again.tables == {}
    assert len(again.skipped_files) == files
    assert {t: count(db, t) for t in before} == before


def test_contract_vocabularies_match_the_generator() -> None:
    from ml.world import vocab

    assert spec.DEVICES == vocab.DEVICES
    assert spec.KINDS == vocab.KINDS
    assert spec.PLANS == vocab.PLANS
    assert spec.SUBSCRIPTION_EVENTS == vocab.SUBSCRIPTION_EVENTS
    from ml.world import nudges

    assert spec.NUDGE_ACTIONS == nudges.ACTIONS
    assert spec.OPT_OUT_CHANNELS == nudges.OPT_OUT_CHANNELS
