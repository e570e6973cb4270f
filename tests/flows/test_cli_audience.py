"""`tastemaker segments` and `tastemaker churn`: read the published ml tables, text and --json,
one-line errors before anything is published."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.audience.helpers import planted_users

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
LINEAGE_ARGS = ("run-1", "segmenter:v1", "abc123")


@pytest.fixture
def warehouse(tm_home: Path) -> Path:
    """An empty warehouse file in a fresh home."""
    tm_home.mkdir(parents=True)
    db = tm_home / "warehouse.duckdb"
    duckdb.connect(str(db)).close()
    return db


def _publish_segments(db: Path) -> pd.DataFrame:
    from flows.segments import SegmentsParams
    from ml.audience.gates import fit_segmenter
    from ml.audience.tables import segment_tables
    from warehouse.audience import publish_segments
    from warehouse.publish import PublishLineage
    from warehouse.settings import Settings

    users, _ = planted_users(n_per=25)
    users.loc[:2, "views_total"] = 0  # three users too new to tell
    seg = fit_segmenter(users, SegmentsParams(k_min=4, k_max=4, n_init=2))
    tables = segment_tables(seg, users, dt.date(2026, 5, 1))
    publish_segments(Settings(home=db.parent), tables, None, PublishLineage(*LINEAGE_ARGS))
    return tables.profiles


def _publish_scores(db: Path) -> None:
    from warehouse.audience import publish_churn_scores
    from warehouse.publish import PublishLineage
    from warehouse.settings import Settings

    for day, probs in (
        (dt.date(2026, 3, 1), [0.9, 0.1, 0.2]),
        (dt.date(2026, 4, 1), [0.3, 0.8, 0.05]),
    ):
        frame = pd.DataFrame(
            {
                "user_id": ["u1", "u2", "u3"],
                "snapshot_date": day,
                "churn_probability": probs,
                "top_reasons": ["days_since_last_view = 30 (typical 2; +0.20)", "", "x = 1"],
                "model_version": "churn:v1",
            }
        )
        publish_churn_scores(Settings(home=db.parent), frame, PublishLineage("r", "churn:v1", None))


@pytest.mark.parametrize("command", ["segments", "churn"])
def test_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "--json" in result.output


@pytest.mark.parametrize("command", ["segments", "churn"])
def test_no_warehouse_is_one_line(tm_home: Path, command: str) -> None:
    result = runner.invoke(app, [command])
    assert result.exit_code == 2
    assert "no warehouse" in result.output and "tastemaker run" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("command", "table"), [("segments", "segment_profiles"), ("churn", "churn_scores")]
)
def test_not_published_yet_is_one_line(warehouse: Path, command: str, table: str) -> None:
    result = runner.invoke(app, [command, "--json"])
    assert result.exit_code == 2, result.output
    assert f"ml.{table} has not been published yet: run `tastemaker run` first" in result.output
    # churn scores may be missing on purpose: a young service's run skips the churn stage
    assert ("churn stage skipped" in result.output) == (command == "churn")
    assert len(result.output.strip().splitlines()) == 1
    assert result.stdout.strip() == ""  # nothing half-printed on stdout


def test_segments_text_and_json(warehouse: Path) -> None:
    profiles = _publish_segments(warehouse)
    result = runner.invoke(app, ["segments"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "segmenter:v1" in lines[0] and "100 users" in lines[0]
    names = [n for n in profiles["segment_name"]]
    positions = [result.stdout.index(n) for n in names]
    assert positions == sorted(positions)  # ids in order, "Too new to tell" (-1) last
    assert names[-1] == "Too new to tell"

    result = runner.invoke(app, ["segments", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["model_version"] == "segmenter:v1" and data["snapshot_date"] == "2026-05-01"
    assert {s["snapshot_date"] for s in data["segments"]} == {"2026-05-01"}
    segs = {s["segment_id"]: s for s in data["segments"]}
    assert set(segs) == {0, 1, 2, 3, -1}
    assert segs[-1]["size"] == 3 and segs[-1]["top_features"] == []
    assert sum(s["size"] for s in segs.values()) == 100
    top = segs[0]["top_features"][0]
    assert {"feature", "lift", "z", "segment_mean", "population_mean"} <= set(top)
    assert data["segments"][0]["run_id"] == "run-1"


def test_churn_lists_latest_snapshot_highest_risk_first(warehouse: Path) -> None:
    _publish_scores(warehouse)
    result = runner.invoke(app, ["churn", "--top", "2"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "2026-04-01" in out and "2 snapshot(s) kept" in out
    assert out.index("u2") < out.index("u1") and "u3" not in out.split("reasons", 1)[1]
    assert "80.0%" in out

    result = runner.invoke(app, ["churn", "--json", "--top", "5"])
    data = json.loads(result.stdout)
    assert data["snapshot_date"] == "2026-04-01" and data["users_scored"] == 3
    assert [r["user_id"] for r in data["top"]] == ["u2", "u1", "u3"]
    assert data["top"][1]["top_reasons"].startswith("days_since_last_view")


def test_churn_top_must_be_positive(warehouse: Path) -> None:
    result = runner.invoke(app, ["churn", "--top", "0"])
    assert result.exit_code == 2


def test_reading_churn_imports_no_model_library(warehouse: Path) -> None:
    """`tastemaker churn` and `segments` read through warehouse.audience, whose flows' readers
    use ml.audience (scikit-learn, SciPy: seconds to import); the commands answer in a second
    only if reading the published tables loads neither."""
    _publish_scores(warehouse)
    probe = (
        "import runpy, sys\n"
        f"sys.argv = ['tastemaker', '--home', {str(warehouse.parent)!r}, 'churn', '--json']\n"
        "try:\n    runpy.run_module('flows.cli', run_name='__main__')\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(sorted(m for m in ('prefect', 'sklearn', 'scipy') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert '"users_scored": 3' in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout
