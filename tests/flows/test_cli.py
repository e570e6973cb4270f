"""The command line: help everywhere, JSON on stdout, one-line errors instead of tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()

COMMANDS = ["run", "generate", "ingest", "transform", "config", "up", "down"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_top_level_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


def test_config_json_masks_password(tm_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASTEMAKER_SMTP__PASSWORD", "s3cr3t-value")
    result = runner.invoke(app, ["config", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["settings"]["warehouse_path"] == str(tm_home.resolve() / "warehouse.duckdb")
    assert data["sources"]["smtp.password"] == "env TASTEMAKER_SMTP__PASSWORD"
    assert "s3cr3t-value" not in result.output


def test_home_option_overrides_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASTEMAKER_HOME", str(tmp_path / "h1"))  # restored after: --home sets it
    result = runner.invoke(app, ["--home", str(tmp_path / "h2"), "config", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["settings"]["landing_path"] == str(tmp_path.resolve() / "h2" / "landing")
    assert data["sources"]["home"] == "option --home"


def test_invalid_configuration_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASTEMAKER_SMTP__PORT", "nope")
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 2
    assert "invalid configuration" in result.output
    assert "Traceback" not in result.output


def test_ingest_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "no such file or folder" in result.output
    assert "Traceback" not in result.output


def test_transform_rejects_bad_snapshot_date() -> None:
    result = runner.invoke(app, ["transform", "--snapshot-date", "yesterday-ish"])
    assert result.exit_code == 2
    assert "--snapshot-date" in result.output


def test_generate_rejects_nonsense_sizes(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", "--users", "0", "--out", str(tmp_path / "w")])
    assert result.exit_code == 2
    assert "error:" in result.output
    assert "Traceback" not in result.output
