"""The Warehouse object: one lookup rule, fixed row order, lock and connection held together."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from warehouse.db import ML_SCHEMA, MissingTable, Warehouse
from warehouse.lock import WarehouseBusyError, warehouse_lock
from warehouse.publish import PublishLineage
from warehouse.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(home=tmp_path / "home", read_lock_timeout_s=0.5, warehouse_lock_timeout_s=0.5)
    s.home_dir.mkdir(parents=True)
    con = duckdb.connect(str(s.warehouse_path))
    con.execute("create schema raw; create schema ml; create schema staging")
    con.execute("create table raw.users as select 'raw' as src")
    con.execute("create table ml.users as select 'ml' as src")
    con.execute("create table staging.users as select 'staging' as src")
    con.execute("create table main.users as select 'main' as src")
    con.execute("create table staging.only_here as select 1 as x")
    con.execute(
        "create table main.scores as select * from (values (3, 'c'), (1, 'a'), (2, 'b')) t(n, s)"
    )
    con.close()
    return s


def test_one_lookup_rule(settings: Settings) -> None:
    with Warehouse(settings).session() as db:
        assert db.find("users") == '"main"."users"'  # main first; never raw or ml
        assert db.find("only_here") == '"staging"."only_here"'  # then any other schema
        assert db.find("users", schema=ML_SCHEMA) == '"ml"."users"'
        assert db.find("users", schema="raw") == '"raw"."users"'
        assert db.find("nowhere") is None
        with pytest.raises(ValueError, match="invalid table name"):
            db.find("users; drop table x")


def test_reads_come_in_a_fixed_order(settings: Settings) -> None:
    with Warehouse(settings).session() as db:
        assert db.read("scores")["n"].tolist() == [1, 2, 3]
        assert db.read("scores", columns=["s"], where="n >= ?", params=[2])["s"].tolist() == [
            "b",
            "c",
        ]
        assert db.read("missing") is None
        assert db.columns("scores") == ["n", "s"]
        with pytest.raises(MissingTable, match=r"mart missing is not in .*tastemaker transform"):
            db.require("missing")


def test_a_missing_file_says_what_to_run_and_creates_nothing(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "nothing")
    with pytest.raises(MissingTable, match="run `tastemaker run`"), Warehouse(settings).session():
        pass
    assert not settings.warehouse_path.exists()


def test_publish_through_a_session_is_atomic(settings: Settings) -> None:
    lineage = PublishLineage("run-1", "m:1", "abc")
    with Warehouse(settings).session() as db:
        assert (
            db.publish("picks", pd.DataFrame({"user_id": ["u1", "u2"], "n": [1, 2]}), lineage) == 2
        )
    with pytest.raises(Exception, match="columns"), Warehouse(settings).session() as db:
        # a keyed replace with other columns is refused, and the table keeps its rows
        db.publish(
            "picks", pd.DataFrame({"user_id": ["u3"]}), lineage, replace_where={"user_id": "u3"}
        )
    with Warehouse(settings).session() as db:
        picks = db.read("picks", schema=ML_SCHEMA)
    assert picks["user_id"].tolist() == ["u1", "u2"]
    assert set(picks["run_id"]) == {"run-1"}


def test_copy_is_consistent(settings: Settings, tmp_path: Path) -> None:
    with Warehouse(settings).session() as db:
        db.con.execute(
            "create table main.fresh as select 42 as x"
        )  # sits in the WAL until a checkpoint
        copy = db.copy_to(tmp_path / "scratch" / "copy.duckdb")
    con = duckdb.connect(str(copy), read_only=True)
    assert con.execute("select x from main.fresh").fetchone() == (42,)
    con.close()


def _hold(lock_path: str, taken, release) -> None:
    with warehouse_lock(Path(lock_path), timeout_s=30):
        taken.set()
        release.wait(60)


def test_readers_give_up_while_a_writer_holds_the_lock(settings: Settings) -> None:
    ctx = multiprocessing.get_context("fork")
    taken, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(settings.lock_path), taken, release))
    holder.start()
    try:
        assert taken.wait(60), "the holder never took the lock"
        with pytest.raises(WarehouseBusyError) as busy, Warehouse(settings, reader=True).session():
            pass
        assert busy.value.holder is not None and busy.value.holder.pid == holder.pid
    finally:
        release.set()
        holder.join()
    with Warehouse(settings, reader=True).session() as db:  # free again
        assert db.find("users")
