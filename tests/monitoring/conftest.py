"""A real SMTP server on loopback (aiosmtpd in-process), optionally with STARTTLS and AUTH."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from flows.stack import free_port  # re-exported for the mail tests

USER = "monitor"
PASSWORD = "pa55-Wörd-never-shown-7f3a"


@dataclass
class Inbox:
    """What the loopback server received."""

    envelopes: list = field(default_factory=list)
    auth_logins: list[str] = field(default_factory=list)
    #: recipients answered with "550 no such user"
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def messages(self) -> list[EmailMessage]:
        return [
            BytesParser(policy=policy.default).parsebytes(env.original_content)
            for env in self.envelopes
        ]


class SmtpServer:
    """Start/stop a loopback SMTP server on a fixed port (so 'down, then up' is the same server)."""

    def __init__(self, port: int, tls_context: ssl.SSLContext | None = None) -> None:
        self.port = port
        self.inbox = Inbox()
        self._tls = tls_context
        self._controller: Controller | None = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD
        )
        if ok:
            self.inbox.auth_logins.append(auth_data.login.decode())
        # handled=False: let aiosmtpd answer 535 itself (the default means "already answered")
        return AuthResult(success=ok, handled=False)

    def start(self) -> SmtpServer:
        kwargs: dict = {}
        if self._tls is not None:
            kwargs = dict(
                tls_context=self._tls,
                require_starttls=True,
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=True,
            )
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain loopback SMTP server (no TLS, no auth)."""
    server = SmtpServer(free_port()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl CLI)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_smtp_server(tls_cert: tuple[Path, Path]) -> Iterator[SmtpServer]:
    """A loopback server that requires STARTTLS and then AUTH with USER/PASSWORD."""
    cert, key = tls_cert
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    server = SmtpServer(free_port(), tls_context=ctx).start()
    yield server
    server.stop()
