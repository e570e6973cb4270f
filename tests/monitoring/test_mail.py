"""Monitoring mail against a real loopback SMTP server: content, escaping, outbox, retries, auth."""

from __future__ import annotations

import base64
import gzip
import logging
from datetime import date
from pathlib import Path

import pytest
from pydantic import SecretStr

from monitoring.mail import (
    MailContent,
    SmtpConfig,
    SummaryRow,
    bar_chart_png,
    build_message,
    flush_outbox,
    mark_digest_sent,
    pending,
    should_send,
    write_to_outbox,
)
from tests.monitoring.conftest import PASSWORD, USER, SmtpServer, free_port

LINEAGE = {"run_id": "run-42", "manifest_sha256": "ab" * 32, "model_version": None}


def _content(tmp_path: Path, *, title: str = "Drift report", report_bytes: int = 5000):
    report = tmp_path / "report.html"
    report.write_text("<html>" + "x" * report_bytes + "</html>")
    rows = [
        SummaryRow("device_share_mobile", "numerical", "wasserstein", 0.31, 0.1, True),
        SummaryRow("plan", "categorical", "jensenshannon", 0.01, 0.1, False),
    ]
    chart = bar_chart_png(["device_share_mobile", "plan"], [0.31, 0.01], [0.1, 0.1], "drift")
    return MailContent(
        subject=f"[tastemaker] {title}",
        title=title,
        headline="1 of 2 columns drifted",
        rows=rows,
        lineage=LINEAGE,
        chart_png=chart,
        report_path=report,
    )


def _plain(server: SmtpServer) -> SmtpConfig:
    return SmtpConfig(
        host="127.0.0.1", port=server.port, starttls=False, recipients=("ops@example.org",)
    )


def _html(msg) -> str:
    return msg.get_body(preferencelist=("html",)).get_content()


def test_message_has_text_html_inline_chart_and_attachment(tmp_path: Path) -> None:
    msg = build_message(_content(tmp_path), SmtpConfig(host=None, recipients=("a@b.c",)))
    text = msg.get_body(preferencelist=("plain",)).get_content()
    html_part = _html(msg)
    assert "device_share_mobile" in text and "device_share_mobile" in html_part
    assert "run-42" in text and "run-42" in html_part and "ab" * 32 in html_part
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1
    cid = images[0]["Content-ID"].strip("<>")
    assert f"cid:{cid}" in html_part
    assert images[0].get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    attachments = list(msg.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["report.html"]
    assert msg["X-Tastemaker-RunId"] == "run-42"


def test_script_in_title_and_values_is_escaped(tmp_path: Path) -> None:
    evil = "<script>alert('x')</script>"
    content = _content(tmp_path, title=f"Weekly {evil}")
    content = MailContent(
        **{
            **content.__dict__,
            "rows": [SummaryRow(f"col{evil}", "numerical", "wasserstein", 0.5, 0.1, True)],
            "lineage": {"run_id": evil},
        }
    )
    html_part = _html(build_message(content, SmtpConfig(host=None)))
    assert "<script>" not in html_part
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html_part


def test_header_injection_is_neutralised(tmp_path: Path) -> None:
    content = _content(tmp_path, title="x\r\nBcc: victim@example.org")
    msg = build_message(content, SmtpConfig(host=None))
    assert msg["Bcc"] is None
    assert "\n" not in msg["Subject"]


def test_attachment_is_gzipped_then_left_out_with_a_note(tmp_path: Path) -> None:
    content = _content(tmp_path, report_bytes=200_000)
    gz = build_message(content, SmtpConfig(host=None), max_attachment_bytes=50_000)
    (att,) = list(gz.iter_attachments())
    assert att.get_filename() == "report.html.gz"
    assert gzip.decompress(att.get_content()) == content.report_path.read_bytes()
    assert "gzip-compressed" in _html(gz)

    # the cap counts the attachment as it travels: 200 kB of HTML is ~270 kB in base64
    raw_fits = build_message(content, SmtpConfig(host=None), max_attachment_bytes=210_000)
    assert [a.get_filename() for a in raw_fits.iter_attachments()] == ["report.html.gz"]
    as_is = build_message(content, SmtpConfig(host=None), max_attachment_bytes=280_000)
    assert [a.get_filename() for a in as_is.iter_attachments()] == ["report.html"]

    none = build_message(content, SmtpConfig(host=None), max_attachment_bytes=100)
    assert list(none.iter_attachments()) == []
    note = "not attached. It is at"
    assert note in _html(none)
    assert note in none.get_body(preferencelist=("plain",)).get_content()


def test_a_report_of_the_default_worlds_size_is_attached_as_plain_html(tmp_path: Path) -> None:
    """Under the default cap the ~6.3 MB Evidently report (8.7 MB in base64) travels as .html,
    which mail clients preview; .html.gz is for reports that only fit compressed."""
    from monitoring.config import MailConfig

    content = _content(tmp_path, report_bytes=6_330_000)
    msg = build_message(
        content,
        SmtpConfig(host=None),
        max_attachment_bytes=MailConfig().max_attachment_bytes,
    )
    (att,) = list(msg.iter_attachments())
    assert att.get_filename() == "report.html"
    assert att.get_content_type() == "text/html"
    assert "gzip" not in _html(msg)


def test_a_served_report_is_linked_and_an_unserved_one_named_by_path(tmp_path: Path) -> None:
    """With a base URL the mail links the report (and says so when it is too large to
    attach); without one it names the path and host, never a file:// link."""
    import socket
    from dataclasses import replace

    from monitoring.lineage import report_location, report_url

    report = tmp_path / "reports" / "2026-06-03" / "user_features_drift_0400Z.html"
    base = "https://reports.example.org/tm"
    url = report_url(base, report)
    assert url == f"{base}/2026-06-03/user_features_drift_0400Z.html"
    assert report_location(base, report) == url
    assert report_location(None, report) == f"{report} on host {socket.gethostname()}"
    assert report_url(None, report) is None

    content = _content(tmp_path, report_bytes=200_000)
    served = replace(content, report_url=url, report_location=url)
    msg = build_message(served, SmtpConfig(host=None), max_attachment_bytes=100)
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert f"Full report: {url}" in text
    assert f'<a href="{url}">' in _html(msg)
    assert f"not attached. It is at {url}." in text

    local = replace(content, report_location=report_location(None, content.report_path))
    msg = build_message(local, SmtpConfig(host=None), max_attachment_bytes=100)
    for part in (_html(msg), msg.get_body(preferencelist=("plain",)).get_content()):
        assert "file://" not in part and "<a href" not in part
        assert f"It is at {content.report_path} on host {socket.gethostname()}." in part


def test_without_smtp_host_mail_goes_to_outbox(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    path = write_to_outbox(build_message(_content(tmp_path), SmtpConfig(host=None)), outbox)
    assert path.suffix == ".eml" and path.parent == outbox
    result = flush_outbox(outbox, SmtpConfig(host=None))
    assert result.sent == [] and result.queued == [path.name]
    assert pending(outbox) == [path]


def test_delivers_to_loopback_server(tmp_path: Path, smtp_server: SmtpServer) -> None:
    outbox = tmp_path / "outbox"
    config = _plain(smtp_server)
    path = write_to_outbox(build_message(_content(tmp_path), config), outbox)
    result = flush_outbox(outbox, config)
    assert result.ok and result.sent == [path.name]
    (received,) = smtp_server.inbox.messages()
    assert smtp_server.inbox.envelopes[0].rcpt_tos == ["ops@example.org"]
    assert "device_share_mobile" in _html(received)
    assert [a.get_filename() for a in received.iter_attachments()] == ["report.html"]
    assert pending(outbox) == [] and (outbox / "sent" / path.name).is_file()


def test_server_down_then_up_loses_nothing(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    port = free_port()
    config = SmtpConfig(host="127.0.0.1", port=port, starttls=False, recipients=("o@x.org",))
    first = write_to_outbox(build_message(_content(tmp_path, title="first"), config), outbox)
    second = write_to_outbox(build_message(_content(tmp_path, title="second"), config), outbox)

    sleeps: list[float] = []
    down = flush_outbox(outbox, config, retries=3, backoff_s=0.5, sleep=sleeps.append)
    assert not down.ok and down.sent == []
    assert down.queued == [first.name, second.name]
    assert sleeps == [0.5, 1.0, 2.0]  # exponential backoff, then give up for this run
    assert "Connection refused" in (down.error or "") or "Errno" in (down.error or "")
    assert pending(outbox) == [first, second]

    server = SmtpServer(port).start()  # the next run: the server is back
    try:
        up = flush_outbox(outbox, config, retries=3, backoff_s=0.5, sleep=sleeps.append)
    finally:
        server.stop()
    assert up.ok and up.sent == [first.name, second.name]
    assert [m["Subject"] for m in server.inbox.messages()] == [
        "[tastemaker] first",
        "[tastemaker] second",
    ]
    assert pending(outbox) == []


def test_starttls_auth_and_the_password_never_leaks(
    tmp_path: Path,
    tls_smtp_server: SmtpServer,
    tls_cert: tuple[Path, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    outbox = tmp_path / "outbox"
    config = SmtpConfig(
        host="127.0.0.1",
        port=tls_smtp_server.port,
        username=USER,
        password=SecretStr(PASSWORD),
        starttls=True,
        recipients=("ops@example.org",),
        tls_ca_file=tls_cert[0],  # the server's certificate is its own CA
    )
    assert PASSWORD not in repr(config) and PASSWORD not in str(config)
    write_to_outbox(build_message(_content(tmp_path), config), outbox)

    # a wrong password first: refused, queued, and the error text does not carry the password
    wrong = SmtpConfig(**{**config.__dict__, "password": SecretStr(PASSWORD + "-wrong")})
    failed = flush_outbox(outbox, wrong, retries=1, backoff_s=0, sleep=lambda _s: None)
    assert not failed.ok and "535" in (failed.error or "")

    result = flush_outbox(outbox, config)
    assert result.ok and tls_smtp_server.inbox.auth_logins == [USER]
    assert len(tls_smtp_server.inbox.envelopes) == 1

    secrets = [PASSWORD, PASSWORD + "-wrong"]
    encoded = [base64.b64encode(s.encode()).decode() for s in secrets]
    for needle in secrets + encoded:
        assert needle not in caplog.text
        assert needle not in (failed.error or "")
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert needle.encode() not in path.read_bytes(), path
        for env in tls_smtp_server.inbox.envelopes:
            assert needle.encode() not in env.original_content


def test_policy_drift_only_and_daily_digest(tmp_path: Path) -> None:
    day = date(2026, 6, 30)
    assert should_send("drift_only", True, tmp_path, day)
    assert not should_send("drift_only", False, tmp_path, day)
    assert should_send("daily_digest", False, tmp_path, day)
    mark_digest_sent(tmp_path, day)
    assert not should_send("daily_digest", False, tmp_path, day)
    assert should_send("daily_digest", True, tmp_path, day)
    assert should_send("daily_digest", False, tmp_path, date(2026, 7, 1))
    with pytest.raises(ValueError):
        should_send("weekly", True, tmp_path, day)  # type: ignore[arg-type]


def test_a_refused_message_is_set_aside_and_does_not_block_the_queue(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    smtp_server.inbox.refuse.add("gone@example.org")
    outbox = tmp_path / "outbox"
    base = _plain(smtp_server)
    bad = SmtpConfig(**{**base.__dict__, "recipients": ("gone@example.org",)})
    first = write_to_outbox(build_message(_content(tmp_path, title="bounce"), bad), outbox)
    second = write_to_outbox(build_message(_content(tmp_path, title="fine"), base), outbox)
    sleeps: list[float] = []
    result = flush_outbox(outbox, base, retries=3, sleep=sleeps.append)
    assert result.rejected == [first.name] and result.sent == [second.name]
    assert result.ok and sleeps == []  # a 550 is final: no retries
    assert (outbox / "rejected" / first.name).is_file()  # kept, not lost
    assert [m["Subject"] for m in smtp_server.inbox.messages()] == ["[tastemaker] fine"]
