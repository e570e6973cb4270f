"""`tastemaker config` says where each value came from; a `TASTEMAKER_*` variable that is no
setting is named on stderr with the closest setting, for every command, without failing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from ml.world.config import WorldConfig
from warehouse.settings import Settings, setting_sources, unknown_setting_warnings

runner = CliRunner()
WIDE = {"COLUMNS": "250"}


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "tm.toml"
    path.write_text('[smtp]\nhost = "mail.from-file"\n\n[world]\nusers = 50\n')
    monkeypatch.setenv("TASTEMAKER_CONFIG", str(path))
    return path


def test_json_names_the_source_of_every_value(
    tm_home: Path, config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASTEMAKER_SMTP__PORT", "2525")
    monkeypatch.setenv("TASTEMAKER_SMTP__PASSWORD", "hunter2-secret")
    result = runner.invoke(app, ["config", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    values, sources = data["settings"], data["sources"]
    assert set(values) == set(sources)
    assert sources["smtp.port"] == "env TASTEMAKER_SMTP__PORT" and values["smtp.port"] == 2525
    assert sources["smtp.host"] == f"file {config_file}"
    assert values["smtp.host"] == "mail.from-file"
    assert sources["world.users"] == f"file {config_file}" and values["world.users"] == 50
    assert sources["world.titles"] == "default"
    assert sources["home"] == "env TASTEMAKER_HOME"
    assert sources["mail.policy"] == "default"
    assert sources["warehouse_path"] == "home (env TASTEMAKER_HOME)"
    assert sources["smtp.password"] == "env TASTEMAKER_SMTP__PASSWORD"
    assert "hunter2-secret" not in result.output and values["smtp.password"] == "**********"


def test_text_output_has_a_source_column(
    tm_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASTEMAKER_DUCKDB_PATH", str(tmp_path / "elsewhere.duckdb"))
    monkeypatch.setenv("TASTEMAKER_SMTP__PASSWORD", "hunter2-secret")
    result = runner.invoke(app, ["--home", str(tm_home), "config"], env=WIDE)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = next(line for line in lines if "name" in line and "value" in line)
    assert "source" in header

    def row(name: str) -> str:
        return next(line for line in lines if f" {name} " in line)

    assert "option --home" in row("home")
    assert "env TASTEMAKER_DUCKDB_PATH" in row("duckdb_path")
    assert "duckdb_path (env TASTEMAKER_DUCKDB_PATH)" in row("warehouse_path")
    assert "home (option --home)" in row("landing_path")
    assert "default" in row("drift.window_days")
    assert "True" in row("smtp.starttls")  # a bool, not the integer 1
    assert "**********" in row("smtp.password") and "env TASTEMAKER_SMTP__PASSWORD" in row(
        "smtp.password"
    )
    assert "hunter2-secret" not in result.output


def test_unknown_environment_variable_warns_with_the_closest_setting(
    tm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASTEMAKER_SMTP__HOTS", "mail.example.org")
    monkeypatch.setenv("TASTEMAKER_SMTP__PASWORD", "hunter2-secret")
    for command in (["config", "--json"], ["datasets", "list"], ["segments"]):
        result = runner.invoke(app, command, env=WIDE)
        warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 2, (command, result.stderr)
        hots = next(w for w in warnings if "TASTEMAKER_SMTP__HOTS" in w)
        assert "TASTEMAKER_SMTP__HOST" in hots.replace("TASTEMAKER_SMTP__HOTS", "")
        assert any("TASTEMAKER_SMTP__PASSWORD?" in w for w in warnings)
        assert "hunter2-secret" not in result.output
        assert "mail.example.org" not in result.stderr
    # a warning, not a failure: config still succeeds and its JSON stays clean on stdout
    result = runner.invoke(app, ["config", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["settings"]["smtp.host"] is None


def test_known_names_do_not_warn(tm_home: Path, config_file: Path) -> None:
    environ = {
        "TASTEMAKER_HOME": str(tm_home),
        "TASTEMAKER_CONFIG": str(config_file),
        "tastemaker_smtp__port": "25",  # pydantic-settings reads names case-blind
        "OTHER_VAR": "x",
    }
    assert unknown_setting_warnings(environ) == []
    result = runner.invoke(app, ["config", "--json"])
    assert "warning:" not in result.stderr


def test_unknown_config_file_key_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "tm.toml"
    path.write_text("[smtp]\nprot = 25\n")
    monkeypatch.setenv("TASTEMAKER_CONFIG", str(path))
    (message,) = unknown_setting_warnings({})
    assert str(path) in message and "'smtp.prot'" in message and "'smtp.port'" in message


def test_sources_follow_the_settings_precedence(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Environment beats the file beats the default, as Settings itself applies them."""
    monkeypatch.setenv("TASTEMAKER_SMTP__HOST", "mail.from-env")
    settings = Settings()
    sources = setting_sources(settings)
    assert settings.smtp.host == "mail.from-env"
    assert sources["smtp.host"] == "env TASTEMAKER_SMTP__HOST"
    assert settings.world.users == 50 and sources["world.users"] == f"file {config_file}"
    monkeypatch.setenv("TASTEMAKER_WORLD__USERS", "70")
    assert Settings().world.users == 70
    assert setting_sources(Settings())["world.users"] == "env TASTEMAKER_WORLD__USERS"
    monkeypatch.delenv("TASTEMAKER_WORLD__USERS")
    monkeypatch.delenv("TASTEMAKER_CONFIG")
    explicit = Settings(world=WorldConfig(titles=70))
    assert setting_sources(explicit)["world.titles"] == "argument"


def test_a_flat_name_for_a_nested_setting_names_the_right_one() -> None:
    """`TASTEMAKER_WORLD_USERS` (one underscore) is not a setting: the warning names the real
    variable instead of letting the world silently keep its default size."""
    (message,) = unknown_setting_warnings({"TASTEMAKER_WORLD_USERS": "500"})
    assert message.startswith("TASTEMAKER_WORLD_USERS matches no setting")
    assert message.endswith("did you mean TASTEMAKER_WORLD__USERS?")


def test_an_impossible_world_setting_is_refused_with_the_generator_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASTEMAKER_WORLD__TITLES", "3")
    with pytest.raises(ValueError, match="titles must be >= 14"):
        Settings()


@pytest.mark.parametrize("columns", [None, "80"])
def test_piped_config_never_cuts_a_value(tmp_path: Path, columns: str | None) -> None:
    """`tastemaker config | grep ...` (stdout a pipe, no terminal to fit) prints every value
    whole, however long: rich laid the table out for 80 columns and cut paths with `…`."""
    import os
    import subprocess
    import sys

    home = tmp_path / ("a-rather-long-folder-name-" * 6) / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASTEMAKER_")}
    env.pop("COLUMNS", None)
    env |= {"TASTEMAKER_HOME": str(home)} | ({"COLUMNS": columns} if columns else {})
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "config"],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,  # stdout is a pipe, as in `tastemaker config | grep home`
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("│ home ")]
    assert str(home) in line and "env TASTEMAKER_HOME" in line
    assert any(str(home / "warehouse.duckdb") in x for x in proc.stdout.splitlines())
