"""The world's size is declared once (ml.world.WorldConfig), set per installation through the
settings (`TASTEMAKER_WORLD__USERS`, a `[world]` table) and per run through options or flow
parameters, in that order of precedence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.params import WorldParams
from ml.world.config import WorldConfig

runner = CliRunner()


def test_empty_parameters_take_the_settings_world() -> None:
    base = WorldConfig(users=321, titles=50, days=40, seed=7, drift=True)
    assert WorldParams().config(base) == base
    given = WorldParams(users=99, drift=False).config(base)
    assert (given.users, given.titles, given.seed, given.drift) == (99, 50, 7, False)


def test_parameters_are_checked_like_any_world() -> None:
    with pytest.raises(ValueError, match="titles must be >= 14"):
        WorldParams(titles=5).config(WorldConfig())


def test_the_environment_sets_the_generated_world(
    tm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASTEMAKER_WORLD__USERS", "150")
    monkeypatch.setenv("TASTEMAKER_WORLD__TITLES", "40")
    monkeypatch.setenv("TASTEMAKER_WORLD__DAYS", "20")
    result = runner.invoke(app, ["generate", "--json", "--no-progress"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["config"]["users"], summary["rows"]["titles"]) == (150, 40)
    assert summary["rows"]["users"] == 150

    # an option beats the setting for this one run
    result = runner.invoke(
        app, ["generate", "--json", "--no-progress", "--users", "60", "--overwrite"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["rows"]["users"], summary["rows"]["titles"]) == (60, 40)


def test_an_impossible_option_fails_in_one_line(tm_home: Path) -> None:
    result = runner.invoke(app, ["run", "--titles", "3"])
    assert result.exit_code == 2
    assert "titles must be >= 14" in result.stderr and "Traceback" not in result.output
    assert not tm_home.exists() or not any(tm_home.iterdir())
