from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from warehouse.settings import Settings, get_settings


def test_defaults_derive_every_path_from_home(tm_home: Path) -> None:
    s = get_settings()
    assert s.home_dir == tm_home.resolve()
    assert s.warehouse_path == tm_home.resolve() / "warehouse.duckdb"
    assert s.landing_path == tm_home.resolve() / "landing"
    assert s.artifacts_path.parent == s.outbox_path.parent == s.reports_path.parent == s.home_dir
    assert s.dbt_env() == {"TASTEMAKER_DUCKDB_PATH": str(s.warehouse_path)}


def test_environment_overrides_and_recipient_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASTEMAKER_SMTP_HOST", "mail.example.org")
    monkeypatch.setenv("TASTEMAKER_SMTP_PORT", "2525")
    monkeypatch.setenv("TASTEMAKER_SMTP_RECIPIENTS", "a@example.org, b@example.org")
    monkeypatch.setenv("TASTEMAKER_DUCKDB_PATH", "/tmp/elsewhere.duckdb")
    s = get_settings()
    assert s.smtp_host == "mail.example.org"
    assert s.smtp_port == 2525
    assert s.smtp_recipients == ["a@example.org", "b@example.org"]
    assert s.warehouse_path == Path("/tmp/elsewhere.duckdb")


def test_toml_config_file_is_read_and_env_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "tm.toml"
    config.write_text('smtp_host = "from-file"\nsmtp_port = 465\n[world]\nusers = 50\n')
    monkeypatch.setenv("TASTEMAKER_CONFIG", str(config))
    monkeypatch.setenv("TASTEMAKER_SMTP_PORT", "26")
    s = get_settings()
    assert (s.smtp_host, s.smtp_port, s.world.users) == ("from-file", 26, 50)


def test_missing_config_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASTEMAKER_CONFIG", "/nonexistent/tm.toml")
    with pytest.raises(FileNotFoundError, match=r"/nonexistent/tm\.toml"):
        get_settings()


def test_password_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASTEMAKER_SMTP_PASSWORD", "hunter2-secret")
    s = get_settings()
    assert s.smtp_password is not None
    assert s.smtp_password.get_secret_value() == "hunter2-secret"
    for text in (repr(s), str(s), str(s.public_dict())):
        assert "hunter2-secret" not in text


def test_bad_values_name_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASTEMAKER_SMTP_PORT", "not-a-port")
    with pytest.raises(ValidationError, match="smtp_port"):
        Settings()


def test_reengagement_settings_map_onto_policy_defaults() -> None:
    """Each `reengage_<field>` setting names a PolicyConfig field and defaults to its value."""
    from dataclasses import fields

    from ml.audience.policy import PolicyConfig
    from warehouse.settings import Settings, policy_config

    defaults = {f.name: f.default for f in fields(PolicyConfig)}
    mapped = {
        name.removeprefix("reengage_"): info.default
        for name, info in Settings.model_fields.items()
        if name.startswith("reengage_")
    }
    assert mapped, "no reengage_ settings"
    for field, value in mapped.items():
        assert field in defaults, f"reengage_{field} is not a PolicyConfig field"
        assert value == defaults[field], f"reengage_{field}: {value} != {defaults[field]}"
    assert policy_config(Settings()) == PolicyConfig()


def test_reengagement_setting_from_env_reaches_policy(monkeypatch) -> None:
    from warehouse.settings import get_settings, policy_config

    monkeypatch.setenv("TASTEMAKER_REENGAGE_MAX_CONTACTS_7D", "1")
    config = policy_config(get_settings())
    assert config.max_contacts_7d == 1


def test_reports_base_url_is_an_http_url_without_trailing_slash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert get_settings().reports_base_url is None
    monkeypatch.setenv("TASTEMAKER_REPORTS_BASE_URL", "https://reports.example.org/tm/")
    assert get_settings().reports_base_url == "https://reports.example.org/tm"
    monkeypatch.setenv("TASTEMAKER_REPORTS_BASE_URL", "")
    assert get_settings().reports_base_url is None
    monkeypatch.setenv("TASTEMAKER_REPORTS_BASE_URL", "file:///srv/reports")
    with pytest.raises(ValidationError, match="reports_base_url"):
        get_settings()
