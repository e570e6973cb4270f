"""Monitoring mail: build an HTML + plain-text message, keep it in an outbox, deliver over SMTP.

Why it works this way:

- **Nothing is lost.** Every message is first written to `<outbox>/*.eml` (atomically), and only
  then sent. A delivered message moves to `<outbox>/sent/`; one that could not be delivered (no SMTP
  host configured, server down after the retries) stays in the outbox and the next `flush_outbox`
  (every monitoring run) sends it, oldest first.
- **The password stays secret.** It is held as a `SecretStr`, used only in `smtp.login`, never
  formatted into a log line, an exception we raise, a header or the message.
- **Data values are untrusted.** Column names, titles and lineage values end up in HTML: every one
  goes through `html.escape`. Header values have line breaks removed (no header injection).
- **Large attachments degrade clearly.** The Evidently HTML report (~6 MB) is attached as is
  (`.html`, which mail clients preview) when it fits `max_attachment_bytes`, gzip-compressed only
  when just that fits, and otherwise left out with a note in both parts saying where the full
  report is (its URL when reports are served, else its path).

No Prefect import here: the monitoring flow calls these functions and adds retries around them.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import io
import logging
import math
import os
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path

from monitoring.config import MailConfig, MailPolicy, SmtpConfig

log = logging.getLogger(__name__)

#: Delivery defaults when a caller passes none: the settings' own (declared once there).
_MAIL_DEFAULTS = MailConfig()

SENT_DIR = "sent"
REJECTED_DIR = "rejected"
DIGEST_STATE = ".digest-state"


@dataclass(frozen=True)
class SummaryRow:
    """One row of the email's summary table (one monitored column or metric)."""

    name: str
    kind: str
    test: str
    statistic: float | None
    threshold: float | None
    flagged: bool
    #: The readable size of the change (`+9.0 points`, `-0.62 SD`) and the alert rule the row
    #: fired, when the check has them (data drift does; recommendation quality does not).
    effect: str = ""
    alert_rule: str | None = None


@dataclass(frozen=True)
class MailContent:
    """What a monitoring email says; `build_message` turns it into MIME."""

    subject: str
    title: str
    headline: str
    rows: Sequence[SummaryRow]
    lineage: Mapping[str, str | None]
    chart_png: bytes | None = None
    report_path: Path | None = None
    notes: Sequence[str] = ()
    #: How many columns were compared and how many drifted, when `rows` shows only some of
    #: them (the largest statistics): the counts a reader sees must be of all columns.
    column_count: int | None = None
    drifted_count: int | None = None
    #: Where the full report can be opened by a recipient (`monitoring.lineage.report_url`);
    #: None when reports are not served, and then the note names `report_location` instead.
    report_url: str | None = None
    report_location: str | None = None
    #: The drift over time, when a back-fill exists: a line saying when alerts fired, and the
    #: chart of the key columns per day (`monitoring.backfill.history_chart_png`).
    history_text: str | None = None
    history_png: bytes | None = None
    #: Does it matter? The model's estimated performance change (monitoring/performance.py).
    impact_text: str | None = None


@dataclass(frozen=True)
class DeliveryResult:
    """What one flush of the outbox did."""

    sent: list[str]
    queued: list[str]
    error: str | None = None
    rejected: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.queued


def _one_line(value: str) -> str:
    """Header-safe text: no CR/LF, so a data value can never inject a header."""
    return " ".join(str(value).split())


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _encoded_size(n: int) -> int:
    """Size of `n` bytes once base64-encoded in the message (76-char lines with CRLF)."""
    chars = 4 * math.ceil(n / 3)
    return chars + 2 * math.ceil(chars / 76)


def _attachment_plan(
    report_path: Path | None, max_bytes: int, where: str | None = None
) -> tuple[bytes | None, str | None, str | None, str | None]:
    """(payload, filename, subtype, note): the report as is, gzipped, or left out with a note.

    `max_bytes` bounds the attachment as it travels (base64: a third larger than the file), since
    that is what a mail server's size limit counts. `where` is where a recipient can open the
    report instead (its URL, or its path and host); default: the path.
    """
    if report_path is None:
        return None, None, None, None
    where = where or str(report_path)
    if not report_path.is_file():
        return None, None, None, f"The full report was not found at {report_path}."
    data = report_path.read_bytes()
    size_mb = len(data) / 1e6
    limit_mb = max_bytes / 1e6
    if _encoded_size(len(data)) <= max_bytes:
        return data, report_path.name, "html", None
    packed = gzip.compress(data, compresslevel=9, mtime=0)
    if _encoded_size(len(packed)) <= max_bytes:
        note = (
            f"The full report ({size_mb:.1f} MB) is attached gzip-compressed "
            f"({len(packed) / 1e6:.1f} MB) to stay under the {limit_mb:.1f} MB mail limit."
        )
        return packed, report_path.name + ".gz", "gzip", note
    note = (
        f"The full report ({size_mb:.1f} MB) is larger than the {limit_mb:.1f} MB mail "
        f"limit even compressed, so it is not attached. It is at {where}."
    )
    return None, None, None, note


def plural(n: int, noun: str) -> str:
    """`1 column`, `2 columns`: counts in mail read as English."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _count_sentence(content: MailContent, flagged_rows: int) -> str:
    """`1 of 41 columns drifted; the 15 largest statistics are shown.` (or the table's own
    counts when the caller gave no totals)."""
    total = len(content.rows) if content.column_count is None else content.column_count
    drifted = flagged_rows if content.drifted_count is None else content.drifted_count
    sentence = f"{drifted} of {plural(total, 'column')} drifted"
    if len(content.rows) < total:
        sentence += f"; the {len(content.rows)} largest statistics are shown"
    return sentence + "."


def render_text(content: MailContent, notes: Sequence[str]) -> str:
    """The plain-text part: the same facts as the HTML, readable in any client."""
    lines = [content.title, "=" * min(len(content.title), 78), "", content.headline, ""]
    if content.impact_text:
        lines += [f"Does it matter? {content.impact_text}.", ""]
    if content.report_url:
        lines += [f"Full report: {content.report_url}", ""]
    flagged = [r for r in content.rows if r.flagged]
    if content.rows:
        lines.append(
            f"{'column':32} {'kind':12} {'test':14} {'stat':>8} {'thresh':>8}  drift "
            f"{'change':>13}  alert"
        )
        for row in content.rows:
            lines.append(
                f"{row.name[:32]:32} {row.kind[:12]:12} {row.test[:14]:14} "
                f"{_fmt(row.statistic):>8} {_fmt(row.threshold):>8}  "
                f"{'YES' if row.flagged else 'no ':5} {row.effect:>13}  {row.alert_rule or ''}"
            )
        lines.append("")
        lines.append(_count_sentence(content, len(flagged)))
    if content.history_text:
        lines += ["", f"Drift over time: {content.history_text} (chart: drift_daily.png)."]
    lines += ["", "Lineage"]
    lines += [f"  {k}: {v if v is not None else '—'}" for k, v in content.lineage.items()]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def _is_web_url(value: str | None) -> bool:
    return bool(value) and str(value).startswith(("https://", "http://"))


def _lineage_value(value: str | None) -> str:
    """A lineage value as HTML: a link when it is a web URL (a served report), else code."""
    esc = html.escape
    if value is None:
        return "<code>—</code>"
    if _is_web_url(value):
        return f'<a href="{esc(value)}">{esc(value)}</a>'
    return f"<code>{esc(value)}</code>"


def render_html(
    content: MailContent,
    notes: Sequence[str],
    chart_cid: str | None,
    history_cid: str | None = None,
) -> str:
    """The HTML part. Every data value is escaped; only our own markup is literal."""
    esc = html.escape
    rows_html = []
    for row in content.rows:
        style = ' style="background:#fde2e1"' if row.flagged else ""
        rows_html.append(
            f"<tr{style}><td>{esc(row.name)}</td><td>{esc(row.kind)}</td><td>{esc(row.test)}</td>"
            f'<td align="right">{esc(_fmt(row.statistic))}</td>'
            f'<td align="right">{esc(_fmt(row.threshold))}</td>'
            f"<td>{'<b>drift</b>' if row.flagged else 'ok'}</td>"
            f'<td align="right">{esc(row.effect)}</td>'
            f"<td>{'<b>' + esc(row.alert_rule) + '</b>' if row.alert_rule else ''}</td></tr>"
        )
    lineage_html = "".join(
        f"<tr><th align='left'>{esc(str(k))}</th><td>{_lineage_value(v)}</td></tr>"
        for k, v in content.lineage.items()
    )
    link = (
        f'<p><a href="{esc(content.report_url)}">Open the full report</a></p>'
        if _is_web_url(content.report_url)
        else ""
    )
    chart = (
        f'<p><img src="cid:{esc(chart_cid.strip("<>"))}" alt="drift statistic per column" '
        'width="640"></p>'
        if chart_cid
        else ""
    )
    history = (
        f"<h3>Drift over time</h3><p>{esc(content.history_text or '')}</p>"
        + (
            f'<p><img src="cid:{esc(history_cid.strip("<>"))}" '
            'alt="drift statistic per day, alert days shaded" width="640"></p>'
            if history_cid
            else ""
        )
        if content.history_text or history_cid
        else ""
    )
    impact = (
        f"<p><b>Does it matter?</b> {esc(content.impact_text)}.</p>" if content.impact_text else ""
    )
    notes_html = "".join(f"<p><i>{esc(n)}</i></p>" for n in notes)
    flagged = sum(row.flagged for row in content.rows)
    table = (
        "<table border='1' cellpadding='4' cellspacing='0' style='border-collapse:collapse'>"
        "<tr><th>column</th><th>kind</th><th>test</th><th>statistic</th><th>threshold</th>"
        f"<th>result</th><th>change</th><th>alert</th></tr>{''.join(rows_html)}</table>"
        f"<p>{esc(_count_sentence(content, flagged))}</p>"
        if rows_html
        else ""
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'></head>"
        "<body style='font-family:sans-serif'>"
        f"<h2>{esc(content.title)}</h2><p>{esc(content.headline)}</p>{impact}{link}{table}{chart}"
        f"{history}"
        f"{notes_html}"
        f"<h3>Lineage</h3><table cellpadding='2'>{lineage_html}</table>"
        "</body></html>"
    )


def build_message(
    content: MailContent,
    config: SmtpConfig,
    *,
    max_attachment_bytes: int = _MAIL_DEFAULTS.max_attachment_bytes,
) -> EmailMessage:
    """A multipart message: text + (HTML with the inline chart) + the report attachment."""
    payload, filename, subtype, note = _attachment_plan(
        content.report_path, max_attachment_bytes, content.report_url or content.report_location
    )
    notes = [*content.notes, *([note] if note else [])]
    chart_cid = make_msgid(domain="tastemaker.local") if content.chart_png else None
    history_cid = make_msgid(domain="tastemaker.local") if content.history_png else None

    msg = EmailMessage()
    msg["Subject"] = _one_line(content.subject)
    msg["From"] = _one_line(config.sender)
    msg["To"] = ", ".join(_one_line(r) for r in config.recipients) or "undisclosed-recipients:;"
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="tastemaker.local")
    for key, value in content.lineage.items():
        if value is not None:
            header = "X-Tastemaker-" + "".join(p.capitalize() for p in str(key).split("_"))
            msg[_one_line(header)] = _one_line(str(value))
    msg.set_content(render_text(content, notes))
    msg.add_alternative(render_html(content, notes, chart_cid, history_cid), subtype="html")
    html_part = msg.get_payload()[1]
    if content.chart_png and chart_cid:
        html_part.add_related(
            content.chart_png, maintype="image", subtype="png", cid=chart_cid, filename="drift.png"
        )
    if content.history_png and history_cid:
        html_part.add_related(
            content.history_png,
            maintype="image",
            subtype="png",
            cid=history_cid,
            filename="drift_daily.png",
        )
    if payload is not None and filename and subtype:
        maintype = "text" if subtype == "html" else "application"
        msg.add_attachment(payload, maintype=maintype, subtype=subtype, filename=filename)
    return msg


# --- outbox --------------------------------------------------------------------------------


def write_to_outbox(msg: EmailMessage, outbox: Path) -> Path:
    """Store `msg` as `<outbox>/<utc time>-<hash>.eml` atomically; the name sorts by age."""
    outbox.mkdir(parents=True, exist_ok=True)
    data = msg.as_bytes(policy=email_policy.SMTP)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = outbox / f"{stamp}-{hashlib.sha256(data).hexdigest()[:8]}.eml"
    tmp = outbox / f".tmp-{uuid.uuid4().hex}"
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("mail written to the outbox: %s", path.name)
    return path


def pending_with(outbox: Path, header: str, value: str) -> Path | None:
    """The oldest message waiting in the outbox whose `header` is `value`, or None. Reads the
    headers only (a message carries a 4 MB report)."""
    from email.parser import BytesHeaderParser

    for path in pending(outbox):
        with path.open("rb") as fh:
            headers = BytesHeaderParser(policy=email_policy.SMTP).parse(fh)
        if headers.get(header) == value:
            return path
    return None


def pending(outbox: Path) -> list[Path]:
    """Messages waiting in the outbox, oldest first."""
    if not outbox.is_dir():
        return []
    return sorted(p for p in outbox.glob("*.eml") if p.is_file())


def _send_one(path: Path, config: SmtpConfig) -> None:
    raw = path.read_bytes()
    msg = BytesParser(policy=email_policy.SMTP).parsebytes(raw)
    recipients = [addr for _, addr in getaddresses(msg.get_all("To", [])) if addr]
    recipients = recipients or list(config.recipients)
    if not recipients:
        raise ValueError("no recipients: set TASTEMAKER_SMTP__RECIPIENTS")
    assert config.host is not None
    with smtplib.SMTP(config.host, config.port, timeout=config.timeout_s) as smtp:
        smtp.ehlo()
        if config.starttls:
            smtp.starttls(context=_tls_context(config))
            smtp.ehlo()
        if config.username:
            _login(smtp, config)
        smtp.sendmail(config.sender, recipients, raw)


def _tls_context(config: SmtpConfig) -> ssl.SSLContext:
    """The context STARTTLS verifies the server with: the configured CA bundle, else the
    system's trust store. Built per connection rather than kept in the config, so the config
    stays plain data (printable, comparable) and a renewed bundle is read on the next send."""
    if config.tls_ca_file is None:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=str(config.tls_ca_file))


def _login(smtp: smtplib.SMTP, config: SmtpConfig) -> None:
    """AUTH with the configured credentials.

    `smtplib.login` encodes credentials as ASCII, so a password with any other character fails
    (and its error text names the offending character and its position). Such credentials go as
    AUTH PLAIN in UTF-8 (RFC 4616) instead.
    """
    user = config.username or ""
    password = config.password.get_secret_value() if config.password else ""
    if (user + password).isascii():
        smtp.login(user, password)
        return
    token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode("ascii")
    code, resp = smtp.docmd("AUTH", "PLAIN " + token)
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, resp)


def _describe(exc: BaseException, config: SmtpConfig) -> str:
    """An error message for logs: the exception's class and text, with the password scrubbed.

    Unicode errors are reduced to their class: their text quotes the offending character.
    """
    if isinstance(exc, UnicodeError):
        return type(exc).__name__
    text = f"{type(exc).__name__}: {exc}"
    if config.password is not None:
        secret = config.password.get_secret_value()
        if secret:
            text = text.replace(secret, "**********")
    return text


def flush_outbox(
    outbox: Path,
    config: SmtpConfig,
    *,
    retries: int = _MAIL_DEFAULTS.retries,
    backoff_s: float = _MAIL_DEFAULTS.backoff_s,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryResult:
    """Send every pending message, oldest first; delivered ones move to `<outbox>/sent/`.

    Each message is tried `1 + retries` times with exponential backoff (`backoff_s`, 2x, 4x, ...).
    When a message still fails, the rest are not tried (the server is evidently unreachable) and
    stay queued for the next run. A message the server refuses for good (5xx on its recipients,
    sender or content) moves to `<outbox>/rejected/` so it cannot block the queue forever.
    Without an SMTP host nothing is sent and all stay queued.
    """
    waiting = pending(outbox)
    if config.host is None:
        if waiting:
            log.info("no SMTP host configured: %d message(s) kept in %s", len(waiting), outbox)
        return DeliveryResult(sent=[], queued=[p.name for p in waiting])
    sent: list[str] = []
    rejected: list[str] = []
    for index, path in enumerate(waiting):
        error: str | None = None
        permanent = False
        for attempt in range(retries + 1):
            try:
                _send_one(path, config)
                error = None
                break
            except (OSError, smtplib.SMTPException, ValueError) as exc:
                error = _describe(exc, config)
                permanent = _is_permanent(exc)
                if permanent:
                    break
                if attempt < retries:
                    delay = backoff_s * (2**attempt)
                    log.warning(
                        "SMTP send of %s failed (%s); retry %d/%d in %.1fs",
                        path.name,
                        error,
                        attempt + 1,
                        retries,
                        delay,
                    )
                    sleep(delay)
        if error is not None and permanent:
            # The server refused this message for good: keep it, out of the queue's way.
            _move(path, outbox / REJECTED_DIR)
            rejected.append(path.name)
            log.error("SMTP server rejected %s (%s); kept in %s", path.name, error, REJECTED_DIR)
            continue
        if error is not None:
            queued = [p.name for p in waiting[index:]]
            log.error(
                "SMTP delivery failed after %d attempts (%s); %d message(s) stay in %s",
                retries + 1,
                error,
                len(queued),
                outbox,
            )
            return DeliveryResult(sent=sent, queued=queued, error=error, rejected=rejected)
        _move(path, outbox / SENT_DIR)
        sent.append(path.name)
        log.info("mail %s delivered to %s:%s", path.name, config.host, config.port)
    return DeliveryResult(sent=sent, queued=[], rejected=rejected)


def _move(path: Path, folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    os.replace(path, folder / path.name)


def _is_permanent(exc: BaseException) -> bool:
    """A 5xx answer about this message (recipients or content) will not change on retry.

    Connection, TLS and authentication failures are not: they are fixed by the server coming
    back or by configuration, after which the same message goes through.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        return 500 <= exc.smtp_code < 600
    return False


# --- policy --------------------------------------------------------------------------------


def should_send(policy: MailPolicy, drifted: bool, outbox: Path, today: date) -> bool:
    """drift_only: mail iff something drifted. daily_digest: the first run of each day mails,
    whatever the result, and a drift later that day mails again (drift is never held back)."""
    if policy == "drift_only":
        return drifted
    if policy == "daily_digest":
        state = outbox / DIGEST_STATE
        last = state.read_text().strip() if state.is_file() else ""
        return drifted or last != today.isoformat()
    raise ValueError(f"unknown mail policy {policy!r} (drift_only | daily_digest)")


def mark_digest_sent(outbox: Path, today: date) -> None:
    """Remember that today's digest went out (or was queued), so the next run today stays quiet."""
    outbox.mkdir(parents=True, exist_ok=True)
    (outbox / DIGEST_STATE).write_text(today.isoformat() + "\n")


def bar_chart_png(
    names: Sequence[str], values: Sequence[float], thresholds: Sequence[float], title: str
) -> bytes:
    """A small horizontal bar chart (statistic per column, threshold ticks) as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    height = 1.2 + 0.28 * max(len(names), 1)
    fig = Figure(figsize=(6.4, height), dpi=100)
    ax = fig.add_subplot()
    ys = list(range(len(names)))[::-1]
    colors = ["#d9534f" if v >= t else "#5b8bd9" for v, t in zip(values, thresholds, strict=True)]
    ax.barh(ys, values, color=colors)
    ax.scatter(thresholds, ys, marker="|", s=200, color="black", label="threshold")
    ax.set_yticks(ys, labels=list(names), fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
