"""The one retry policy: transient I/O is retried, bad data fails at once."""

from __future__ import annotations

import smtplib

import duckdb
import pytest
from prefect.states import Failed

from flows.monitor import MailQueuedError
from flows.retry import IO_RETRY, SMTP_RETRY, is_transient, retry_if_transient
from ml.audience.policy import PolicyInputError
from ml.audience.tables import AudienceDataError
from warehouse.db import MissingTable
from warehouse.lock import WarehouseBusyError
from warehouse.publish import PublishError


@pytest.mark.parametrize(
    "exc",
    [
        WarehouseBusyError("busy"),
        OSError("disk hiccup"),
        ConnectionResetError("reset"),
        TimeoutError("slow"),
        duckdb.IOException("could not set lock"),
        smtplib.SMTPServerDisconnected("gone"),
        smtplib.SMTPResponseException(421, b"try later"),
        MailQueuedError("2 queued"),
    ],
    ids=type,
)
def test_transient_io_is_retried(exc: BaseException) -> None:
    assert is_transient(exc)
    assert retry_if_transient(None, None, Failed(data=exc))


@pytest.mark.parametrize(
    "exc",
    [
        AudienceDataError("mart 'x' is empty"),
        PublishError("columns differ"),
        PolicyInputError("bad"),
        MissingTable("no warehouse"),
        FileNotFoundError("no such landing folder"),
        PermissionError("read-only"),
        ValueError("bad date"),
        KeyError("column"),
        smtplib.SMTPAuthenticationError(535, b"bad credentials"),
        smtplib.SMTPResponseException(550, b"no such user"),
        RuntimeError("bug"),
    ],
    ids=type,
)
def test_bad_data_and_bugs_fail_at_once(exc: BaseException) -> None:
    assert not is_transient(exc)
    assert not retry_if_transient(None, None, Failed(data=exc))


def test_smtp_keeps_the_condition_with_a_longer_schedule() -> None:
    assert SMTP_RETRY["retry_condition_fn"] is IO_RETRY["retry_condition_fn"]
    assert SMTP_RETRY["retries"] > IO_RETRY["retries"]
