from __future__ import annotations

from datetime import date
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
    monkeypatch.setenv("TASTEMAKER_SMTP__HOST", "mail.example.org")
    monkeypatch.setenv("TASTEMAKER_SMTP__PORT", "2525")
    monkeypatch.setenv("TASTEMAKER_SMTP__RECIPIENTS", "a@example.org, b@example.org")
    monkeypatch.setenv("TASTEMAKER_DRIFT__KEY_FEATURES", "plan,active_days_28d")
    monkeypatch.setenv("TASTEMAKER_DUCKDB_PATH", "/tmp/elsewhere.duckdb")
    s = get_settings()
    assert s.smtp.host == "mail.example.org"
    assert s.smtp.port == 2525
    assert s.smtp.recipients == ("a@example.org", "b@example.org")
    assert s.drift.key_features == ("plan", "active_days_28d")
    assert s.warehouse_path == Path("/tmp/elsewhere.duckdb")


def test_toml_config_file_is_read_and_env_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "tm.toml"
    config.write_text(
        '[smtp]\nhost = "from-file"\nport = 465\nrecipients = ["a@x.org"]\n'
        "[world]\nusers = 50\n[drift]\nwindow_days = 14\n"
    )
    monkeypatch.setenv("TASTEMAKER_CONFIG", str(config))
    monkeypatch.setenv("TASTEMAKER_SMTP__PORT", "26")
    s = get_settings()
    assert (s.smtp.host, s.smtp.port, s.smtp.recipients) == ("from-file", 26, ("a@x.org",))
    assert (s.world.users, s.drift.window_days) == (50, 14)
    assert s.dbt_vars()["drift_window_days"] == 14


def test_missing_config_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASTEMAKER_CONFIG", "/nonexistent/tm.toml")
    with pytest.raises(FileNotFoundError, match=r"/nonexistent/tm\.toml"):
        get_settings()


def test_password_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASTEMAKER_SMTP__PASSWORD", "hunter2-secret")
    s = get_settings()
    assert s.smtp.password is not None
    assert s.smtp.password.get_secret_value() == "hunter2-secret"
    for text in (repr(s), str(s), str(s.public_dict()), repr(s.smtp)):
        assert "hunter2-secret" not in text
    assert s.public_dict()["smtp.password"] == "**********"


def test_bad_values_name_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASTEMAKER_SMTP__PORT", "not-a-port")
    with pytest.raises(ValidationError, match=r"smtp\.port"):
        Settings()
    monkeypatch.delenv("TASTEMAKER_SMTP__PORT")
    monkeypatch.setenv("TASTEMAKER_REENGAGE__RISK_THRESHOLD", "2")  # PolicyConfig's bound
    with pytest.raises(ValidationError, match=r"reengage\.risk_threshold"):
        Settings()


def test_reengagement_setting_from_env_reaches_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    from ml.audience.policy_config import PolicyConfig

    monkeypatch.setenv("TASTEMAKER_REENGAGE__MAX_CONTACTS_7D", "1")
    config = get_settings().reengage
    assert isinstance(config, PolicyConfig)  # the policy's own type, not a copy of its fields
    assert config.max_contacts_7d == 1
    assert config.max_contacts_30d == PolicyConfig().max_contacts_30d


def test_reports_base_url_is_an_http_url_without_trailing_slash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert get_settings().mail.reports_base_url is None
    monkeypatch.setenv("TASTEMAKER_MAIL__REPORTS_BASE_URL", "https://reports.example.org/tm/")
    assert get_settings().mail.reports_base_url == "https://reports.example.org/tm"
    monkeypatch.setenv("TASTEMAKER_MAIL__REPORTS_BASE_URL", "")
    assert get_settings().mail.reports_base_url is None
    monkeypatch.setenv("TASTEMAKER_MAIL__REPORTS_BASE_URL", "file:///srv/reports")
    with pytest.raises(ValidationError, match=r"mail\.reports_base_url"):
        get_settings()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("TASTEMAKER_SMTP_HOST", "TASTEMAKER_SMTP__HOST"),
        ("TASTEMAKER_SMTP_RECIPIENTS", "TASTEMAKER_SMTP__RECIPIENTS"),
        ("TASTEMAKER_MAIL_TLS_CA_FILE", "TASTEMAKER_SMTP__TLS_CA_FILE"),
        ("TASTEMAKER_MAIL_POLICY", "TASTEMAKER_MAIL__POLICY"),
        ("TASTEMAKER_REPORTS_BASE_URL", "TASTEMAKER_MAIL__REPORTS_BASE_URL"),
        ("TASTEMAKER_DRIFT_WINDOW_DAYS", "TASTEMAKER_DRIFT__WINDOW_DAYS"),
        ("TASTEMAKER_DRIFT_ALERT_SHARE_POINTS", "TASTEMAKER_DRIFT__ALERT_SHARE_POINTS"),
        ("TASTEMAKER_REENGAGE_RISK_THRESHOLD", "TASTEMAKER_REENGAGE__RISK_THRESHOLD"),
    ],
)
def test_a_flat_name_from_before_the_groups_names_its_new_variable(
    old: str, new: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old variable is ignored (the default stays), and the warning names the exact new
    variable, not a near miss: `TASTEMAKER_MAIL_TLS_CA_FILE` moved to another group."""
    from warehouse.settings import unknown_setting_warnings

    (message,) = unknown_setting_warnings({old: "x"})
    assert message.startswith(f"{old} matches no setting and is ignored")
    assert message.endswith(f"did you mean {new}?")
    monkeypatch.setenv("TASTEMAKER_DRIFT_WINDOW_DAYS", "7")
    assert get_settings().drift.window_days == 28


def test_a_flat_key_in_the_config_file_names_its_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from warehouse.settings import unknown_setting_warnings

    config = tmp_path / "tm.toml"
    config.write_text('smtp_host = "mail.example.org"\nreports_base_url = "https://r.x.org"\n')
    monkeypatch.setenv("TASTEMAKER_CONFIG", str(config))
    assert get_settings().smtp.host is None
    reports, host = unknown_setting_warnings({})
    assert "key 'smtp_host'" in host and "'smtp.host'" in host and "[smtp] host = ..." in host
    assert "'mail.reports_base_url'" in reports and "[mail] reports_base_url = ..." in reports


def test_a_misspelt_field_of_a_group_warns_and_does_not_fail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As with a flat name: a stray variable must not stop every command."""
    from warehouse.settings import unknown_setting_warnings

    monkeypatch.setenv("TASTEMAKER_DRIFT__WINDOW_DAY", "7")
    assert get_settings().drift.window_days == 28
    (message,) = unknown_setting_warnings()
    assert message.endswith("did you mean TASTEMAKER_DRIFT__WINDOW_DAYS?")


def test_code_passing_a_name_that_is_no_setting_fails() -> None:
    """The environment ignores unknown names with a warning; code must not, or a test setting
    `drift_permutations=10` would silently run with the default."""
    from monitoring.config import DriftConfig

    with pytest.raises(TypeError, match=r"'drift_permutations'.*now drift\.permutations"):
        Settings(drift_permutations=10)
    with pytest.raises(TypeError, match=r"drift\.permutation\b"):
        Settings(drift={"permutation": 10})
    with pytest.raises(TypeError, match=r"'smtp_host'.*now smtp\.host"):
        Settings().model_copy(update={"smtp_host": "x"})
    with pytest.raises(ValidationError, match="permutation"):
        DriftConfig(permutation=10)  # the config type itself refuses unknown fields
    assert Settings(drift={"permutations": 10}).drift.permutations == 10


def test_the_smtp_ca_file_is_read_when_mail_is_sent(tmp_path: Path) -> None:
    """The TLS context is built from `smtp.tls_ca_file` where STARTTLS needs it, not stored: a
    bundle that is not there fails the send, and no setting holds an SSLContext."""
    import ssl

    from monitoring.config import SmtpConfig
    from monitoring.mail import _tls_context

    assert isinstance(_tls_context(SmtpConfig()), ssl.SSLContext)
    with pytest.raises(FileNotFoundError):
        _tls_context(SmtpConfig(tls_ca_file=tmp_path / "missing.pem"))


def test_ingest_time_rules_are_a_group_that_reaches_dbt(monkeypatch: pytest.MonkeyPatch) -> None:
    from warehouse.ingest_config import TimeRules

    monkeypatch.setenv("TASTEMAKER_INGEST__FUTURE_TOLERANCE_HOURS", "6")
    monkeypatch.setenv("TASTEMAKER_INGEST__EARLIEST_EVENT_DATE", "2010-01-01")
    settings = get_settings()
    assert settings.ingest == TimeRules(6.0, date(2010, 1, 1), 300)
    assert settings.dbt_vars()["future_tolerance_hours"] == 6.0
    assert settings.public_dict()["ingest.session_overlap_tolerance_s"] == 300
    monkeypatch.setenv("TASTEMAKER_INGEST__SESSION_OVERLAP_TOLERANCE_S", "-1")
    with pytest.raises(ValidationError, match="session_overlap_tolerance_s"):
        get_settings()


def test_a_former_ingest_name_still_sets_its_rule_and_names_the_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unlike the other former names (ignored), these decide what is quarantined: a deployment
    that set one keeps its rule, and is told the new name; the new name wins over the old."""
    from warehouse.settings import setting_sources, unknown_setting_warnings

    monkeypatch.setenv("TASTEMAKER_FUTURE_TOLERANCE_HOURS", "48")
    settings = get_settings()
    assert settings.ingest.future_tolerance_hours == 48.0
    assert settings.dbt_vars()["future_tolerance_hours"] == 48.0
    assert settings.ingest.earliest_event_date == date(2000, 1, 1)  # the others keep defaults
    (message,) = unknown_setting_warnings()
    assert message == (
        "TASTEMAKER_FUTURE_TOLERANCE_HOURS is the former name of ingest.future_tolerance_hours "
        "and still sets it for now; use TASTEMAKER_INGEST__FUTURE_TOLERANCE_HOURS"
    )
    sources = setting_sources(settings)
    assert sources["ingest.future_tolerance_hours"] == (
        "env TASTEMAKER_FUTURE_TOLERANCE_HOURS (former name)"
    )
    assert sources["ingest.earliest_event_date"] == "default"
    monkeypatch.setenv("TASTEMAKER_INGEST__FUTURE_TOLERANCE_HOURS", "12")
    assert get_settings().ingest.future_tolerance_hours == 12.0

    monkeypatch.delenv("TASTEMAKER_FUTURE_TOLERANCE_HOURS")
    monkeypatch.delenv("TASTEMAKER_INGEST__FUTURE_TOLERANCE_HOURS")
    config = tmp_path / "tm.toml"
    config.write_text("session_overlap_tolerance_s = 30\n[ingest]\nfuture_tolerance_hours = 2\n")
    monkeypatch.setenv("TASTEMAKER_CONFIG", str(config))
    from_file = get_settings().ingest
    assert (from_file.session_overlap_tolerance_s, from_file.future_tolerance_hours) == (30, 2.0)
    (message,) = unknown_setting_warnings()
    assert "key 'session_overlap_tolerance_s' is the former name" in message
    assert "[ingest] session_overlap_tolerance_s = ..." in message
    with pytest.raises(TypeError, match=r"now ingest\.future_tolerance_hours"):
        Settings(future_tolerance_hours=1)
