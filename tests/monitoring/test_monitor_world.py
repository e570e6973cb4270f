"""Monitoring on built worlds: drifted vs same-distribution, and mail to a loopback SMTP server.

Windows: current = [drift start, end of period), reference = the equal-length window before it
(the truth's drift window). `load_feature_windows` has dbt rebuild the mart `user_feature_windows`
with those windows on a scratch copy (the fixtures' warehouses hold the default 28-day windows).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from flows.artifacts.monitor import summary_markdown
from flows.steps.monitor import deliver_step, drift_step, mail_step
from monitoring.config import MailConfig, SmtpConfig
from monitoring.drift import DriftSummary, recall
from tests.homes import clone_home
from tests.monitoring.conftest import PASSWORD, USER, SmtpServer
from warehouse.monitoring import FeatureWindows, load_feature_windows
from warehouse.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@dataclass(frozen=True)
class Checked:
    settings: Settings
    windows: FeatureWindows
    summary: DriftSummary
    expected: list[str]


def _clone(built, home: Path) -> Settings:
    """A private home holding a copy of the built warehouse and its dbt manifest (lineage)."""
    clone_home(built, home)
    return Settings(home=home)


def _check(built, home: Path) -> Checked:
    truth = json.loads((built.truth_dir / "drift.json").read_text())
    world = json.loads((built.truth_dir / "world.json").read_text())
    settings = _clone(built, home)
    start = dt.date.fromisoformat(truth["window_start_date"])
    end = dt.date.fromisoformat(_period_end(world))
    windows = load_feature_windows(
        settings, window_days=(end - start).days, current_end=end, scratch=home / "scratch"
    )
    summary = drift_step(settings, windows, run_id="test-run")
    return Checked(settings, windows, summary, truth["expected_drifted_features"])


def _period_end(world: dict) -> str:
    """The day after the simulated period: the default snapshot date of the marts."""
    config = world["config"]
    start = dt.date.fromisoformat(config["start_date"])
    return (start + dt.timedelta(days=int(config["days"]))).isoformat()


@pytest.fixture(scope="session")
def drifted(drift_warehouse, tmp_path_factory) -> Checked:
    return _check(drift_warehouse, tmp_path_factory.mktemp("mon-drift") / "home")


@pytest.fixture(scope="session")
def undrifted(default_warehouse, tmp_path_factory) -> Checked:
    return _check(default_warehouse, tmp_path_factory.mktemp("mon-nodrift") / "home")


def test_drifted_world_flags_the_planted_columns(drifted: Checked) -> None:
    assert recall(drifted.summary.drifted_columns, drifted.expected) >= 0.8
    assert drifted.summary.dataset_drift


def test_drifted_world_ranks_the_strongest_shifts_first(drifted: Checked) -> None:
    """The largest planted shifts are the most drifted columns."""
    assert set(drifted.expected) >= {"genre_share_reality", "genre_share_anime"}
    flagged = set(drifted.summary.drifted_columns)
    assert {"genre_share_reality", "genre_share_anime", "genre_share_drama"} <= flagged
    top = [c.column for c in drifted.summary.top_drifted(3)]
    assert "genre_share_reality" in top


def test_same_distribution_world_is_not_dataset_drift(undrifted: Checked) -> None:
    assert not undrifted.summary.dataset_drift
    assert undrifted.summary.status == "ok"
    planted_kind = {"genre_share_reality", "genre_share_anime", "device_share_mobile"}
    assert not planted_kind & set(undrifted.summary.drifted_columns)


def test_report_files_and_lineage(drifted: Checked) -> None:
    summary = drifted.summary
    html, js = Path(summary.html_path), Path(summary.json_path)
    assert html.parent.parent == drifted.settings.reports_path
    assert html.stat().st_size > 500_000
    stored = json.loads(js.read_text())
    assert stored["lineage"]["run_id"] == "test-run"
    assert stored["lineage"]["manifest_sha256"] == drifted.windows.manifest_sha256
    assert len(stored["lineage"]["manifest_sha256"]) == 64
    assert "genre_share_reality" in summary_markdown(summary)


def _smtp_settings(base: Settings, server: SmtpServer, ca: Path, home: Path, **extra) -> Settings:
    """SMTP over STARTTLS with AUTH, and a fresh home so each test has its own outbox."""
    smtp = SmtpConfig(
        host="127.0.0.1",
        port=server.port,
        username=USER,
        password=SecretStr(PASSWORD),
        starttls=True,
        recipients=["ops@example.org"],
        tls_ca_file=ca,
        timeout_s=120.0,
    )
    mail = base.mail.model_copy(update={"backoff_s": 0.0, "retries": 1, **extra})
    return base.model_copy(update={"home": home, "smtp": smtp, "mail": mail})


def _deliver_once(settings: Settings, summary: DriftSummary) -> Path | None:
    path = mail_step(settings, summary, today=dt.date(2026, 6, 30))
    result = deliver_step(settings)
    assert result.ok, result.error
    return path


def test_drifted_world_mails_one_report_over_starttls(
    drifted: Checked, tls_smtp_server: SmtpServer, tls_cert, caplog, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    # aiosmtpd logs every line of DATA at DEBUG: ~30,000 lines for this message, slow enough
    # under load to time the client out after the server accepted (then a retry duplicates it)
    caplog.set_level(logging.INFO, logger="mail.log")
    settings = _smtp_settings(drifted.settings, tls_smtp_server, tls_cert[0], tmp_path)
    assert _deliver_once(settings, drifted.summary) is not None
    _assert_one_drift_mail(tls_smtp_server, drifted, settings, caplog)


def test_digest_mail_names_drifted_columns_and_password_stays_secret(
    drifted: Checked, tls_smtp_server: SmtpServer, tls_cert, caplog, tmp_path: Path
) -> None:
    """The digest mails whatever the verdict; the password never leaks."""
    caplog.set_level(logging.DEBUG)
    # aiosmtpd logs every line of DATA at DEBUG: ~30,000 lines for this message, slow enough
    # under load to time the client out after the server accepted (then a retry duplicates it)
    caplog.set_level(logging.INFO, logger="mail.log")
    settings = _smtp_settings(
        drifted.settings, tls_smtp_server, tls_cert[0], tmp_path, policy="daily_digest"
    )
    assert _deliver_once(settings, drifted.summary) is not None
    _assert_one_drift_mail(tls_smtp_server, drifted, settings, caplog)


def _assert_one_drift_mail(server: SmtpServer, checked: Checked, settings: Settings, caplog):
    (msg,) = server.inbox.messages()
    html = msg.get_body(preferencelist=("html",)).get_content()
    # the table lists the largest drifts (statistic / threshold) first, up to 15 rows
    for column in [c.column for c in checked.summary.top_drifted(10)]:
        assert column in html
    assert {"genre_share_reality", "genre_share_anime", "device_share_mobile"} <= {
        c for c in checked.summary.drifted_columns if c in html
    }
    assert checked.summary.report_id in html and "test-run" in html
    assert checked.windows.manifest_sha256 in html
    (attachment,) = list(msg.iter_attachments())
    # the real report fits the default cap as plain HTML (mail clients preview it; not .gz)
    assert attachment.get_filename() == Path(checked.summary.html_path).name
    assert attachment.get_content_type() == "text/html"
    assert len(attachment.get_content()) > 1000
    assert [p for p in msg.walk() if p.get_content_type() == "image/png"]
    # the SMTP password is nowhere: logs, outbox (incl. sent/), reports, the message itself
    needle = PASSWORD.encode()
    assert PASSWORD not in caplog.text
    assert needle not in server.inbox.envelopes[0].original_content
    for folder in (settings.outbox_path, checked.settings.reports_path):
        for path in folder.rglob("*"):
            if path.is_file():
                assert needle not in path.read_bytes(), path


def test_undrifted_world_mails_nothing_under_drift_only(
    undrifted: Checked, smtp_server: SmtpServer
) -> None:
    smtp = SmtpConfig(
        host="127.0.0.1", port=smtp_server.port, starttls=False, recipients=["ops@example.org"]
    )
    settings = undrifted.settings.model_copy(
        update={"smtp": smtp, "mail": MailConfig(policy="drift_only")}
    )
    assert mail_step(settings, undrifted.summary, today=dt.date(2026, 6, 30)) is None
    assert deliver_step(settings).sent == []
    assert smtp_server.inbox.envelopes == []


def test_cli_drift_json_is_one_object_on_stdout(drifted: Checked) -> None:
    """dbt's progress lines go to stderr; stdout is exactly one JSON object."""
    from typer.testing import CliRunner

    from flows.cli import app

    window = drifted.summary.current_window
    args = ["--home", str(drifted.settings.home_dir), "drift", "--json"]
    args += ["--current-end", window["end"], "--window-days", "45"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["drift"]["dataset"] == "user_features"
    assert data["drift"]["current_window"]["end"] == window["end"]
    assert Path(data["drift"]["json_path"]).is_file()
    # a CLI-made report has a run id of its own (not None), in the ingest batch id's form
    assert re.fullmatch(r"cli-\d{8}T\d{6}Z-[0-9a-f]{8}", data["run_id"]), data["run_id"]
    assert data["drift"]["lineage"]["run_id"] == data["run_id"]
    assert data["mail_note"].startswith("no mail: run `tastemaker drift --email`")


def test_cli_drift_says_why_no_mail_went_out(default_warehouse, tmp_path: Path) -> None:
    """Under the default policy an undrifted world mails nothing, and `drift --email` says so
    on one line (a newcomer following the README otherwise waits for a mail)."""
    from typer.testing import CliRunner

    from flows.cli import app

    home = clone_home(default_warehouse, tmp_path / "home")
    result = CliRunner().invoke(app, ["--home", str(home), "drift", "--email"])
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("no mail:")]
    assert line.endswith("and TASTEMAKER_MAIL__POLICY=drift_only"), line
    assert not list((home / "outbox").glob("*.eml"))
