"""warehouse.publish: atomic, lineage-stamped writes to the ml schema."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from tests.homes import publish_to as publish_table
from tests.homes import read_ml as read_table
from warehouse.publish import PublishError, PublishLineage

LINEAGE = PublishLineage(run_id="run-1", model_version="m:1", dbt_manifest_sha256="abc")


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    return path


def scores(day: str, n: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "snapshot_date": pd.Timestamp(day).date(),
            "p": [0.1 * i for i in range(n)],
        }
    )


def test_full_replace_stamps_lineage(db):
    assert publish_table(db, "scores", scores("2026-01-01"), LINEAGE) == 3
    assert publish_table(db, "scores", scores("2026-01-15", 2), LINEAGE) == 2
    out = read_table(db, "scores")
    assert len(out) == 2
    assert set(out.run_id) == {"run-1"} and set(out.model_version) == {"m:1"}
    assert set(out.dbt_manifest_sha256) == {"abc"}
    assert out.published_at.notna().all()


def test_partial_replace_keeps_history(db):
    publish_table(
        db,
        "scores",
        scores("2026-01-01"),
        LINEAGE,
        {"snapshot_date": pd.Timestamp("2026-01-01").date()},
    )
    publish_table(
        db,
        "scores",
        scores("2026-01-15"),
        LINEAGE,
        {"snapshot_date": pd.Timestamp("2026-01-15").date()},
    )
    again = PublishLineage(run_id="run-2", model_version="m:2", dbt_manifest_sha256="def")
    publish_table(
        db,
        "scores",
        scores("2026-01-15", 1),
        again,
        {"snapshot_date": pd.Timestamp("2026-01-15").date()},
    )
    out = read_table(db, "scores")
    assert len(out) == 4
    assert out.groupby("run_id").size().to_dict() == {"run-1": 3, "run-2": 1}


def test_model_version_column_in_frame_is_kept(db):
    frame = scores("2026-01-01").assign(model_version=["a:1", "a:1", "b:2"])
    publish_table(db, "scores", frame, LINEAGE)
    assert sorted(read_table(db, "scores").model_version) == ["a:1", "a:1", "b:2"]


def test_schema_mismatch_on_partial_replace_names_columns_and_keeps_rows(db):
    publish_table(db, "scores", scores("2026-01-01"), LINEAGE)
    wider = scores("2026-01-01").assign(extra=1)
    with pytest.raises(PublishError, match="extra"):
        publish_table(
            db, "scores", wider, LINEAGE, {"snapshot_date": pd.Timestamp("2026-01-01").date()}
        )
    assert len(read_table(db, "scores")) == 3


def test_failed_write_rolls_back(db):
    publish_table(db, "scores", scores("2026-01-01"), LINEAGE)
    bad = scores("2026-01-01").assign(p=["x", "y", "z"])  # text into a double column
    with pytest.raises(duckdb.Error):
        publish_table(
            db, "scores", bad, LINEAGE, {"snapshot_date": pd.Timestamp("2026-01-01").date()}
        )
    out = read_table(db, "scores")
    assert len(out) == 3 and out.p.dtype.kind == "f"


@pytest.mark.parametrize("name", ["Scores", "x;drop", "1abc", ""])
def test_bad_table_names_are_refused(db, name):
    with pytest.raises(PublishError, match="invalid table name"):
        publish_table(db, name, scores("2026-01-01"), LINEAGE)


def test_reserved_lineage_column_is_refused(db):
    with pytest.raises(PublishError, match="run_id"):
        publish_table(db, "scores", scores("2026-01-01").assign(run_id="x"), LINEAGE)


def test_read_missing_table_is_none(db):
    assert read_table(db, "nothing") is None
