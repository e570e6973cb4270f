"""`tastemaker experiments list | readout [ID] [--json]` on the session's tiny warehouse, and the
one-line errors (no warehouse, marts not built, an unknown id) with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.cli_support import EXIT_BAD_INPUT

runner = CliRunner()
WORLD = ("artwork_title_font", "artwork_warm_tones")


def _run(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), "experiments", *args])


def test_list_names_the_worlds_experiments(tiny_warehouse) -> None:
    home = tiny_warehouse.settings.home
    result = _run(home, "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["experiments"]
    assert [r["experiment_id"] for r in rows] == list(WORLD)
    assert all(r["variants"] == ["control", "treatment"] and r["days"] > 30 for r in rows)
    text = _run(home, "list")
    assert text.exit_code == 0 and all(e in text.stdout for e in WORLD)


def test_readout_prints_the_table_and_decision(tiny_warehouse) -> None:
    home = tiny_warehouse.settings.home
    result = _run(home, "readout", "artwork_warm_tones", "--json")
    assert result.exit_code == 0, result.output
    (out,) = json.loads(result.stdout)["readouts"]
    assert out["experiment_id"] == "artwork_warm_tones"
    assert out["decision"]["verdict"] in ("ship", "don't ship", "keep running", "investigate")
    assert {m["metric"] for m in out["metrics"]} == {"ctr", "plays", "watch_minutes", "abandonment"}
    ctr = next(m for m in out["metrics"] if m["metric"] == "ctr")
    assert ctr["role"] == "primary" and ctr["ci_low"] <= ctr["lift"] <= ctr["ci_high"]
    assert ctr["sequential_p"] is not None and 0 <= ctr["p_adjusted"] <= 1
    assert out["sample_ratio"]["p_value"] > 0.001  # the world's hash split is 50/50

    text = _run(home, "readout")  # every experiment
    assert text.exit_code == 0, text.output
    assert all(f"{e}: " in text.stdout for e in WORLD)
    assert "95% CI" in text.stdout and "abandonment" in text.stdout


def test_an_unknown_experiment_is_one_error_line(tiny_warehouse) -> None:
    result = _run(tiny_warehouse.settings.home, "readout", "nope")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "error: unknown experiment 'nope'" in result.stderr
    assert "artwork_warm_tones" in result.stderr and "Traceback" not in result.output


def test_no_warehouse_or_no_marts_is_one_error_line(tm_home: Path) -> None:
    result = _run(tm_home, "list")
    assert result.exit_code == EXIT_BAD_INPUT
    assert result.stderr.startswith("error: no warehouse at")
    tm_home.mkdir(parents=True)
    duckdb.connect(str(tm_home / "warehouse.duckdb")).close()
    result = _run(tm_home, "readout", "artwork_warm_tones")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "error: mart experiment_user_metrics is not in" in result.stderr


@pytest.mark.parametrize("args", [("list", "--help"), ("readout", "--help")])
def test_help(args: tuple[str, ...], tmp_path: Path) -> None:
    assert _run(tmp_path, *args).exit_code == 0
