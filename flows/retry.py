"""The one retry policy of every flow: retry I/O that may pass, fail bad data at once.

A busy warehouse (another run holds the lock past its wait), a dropped SMTP connection or a file
system hiccup can pass on a second try; a missing mart, a malformed frame or a refused publish
cannot, and retrying it only delays the error by half a minute and repeats it three times in
the UI. Tasks that read, write or send take `**IO_RETRY`; pure computations take no retries.
"""

from __future__ import annotations

import smtplib
from typing import Any

import duckdb

from warehouse.lock import WarehouseBusyError

#: OSError subclasses that name a wrong path or permission: a second try sees the same thing.
_PERMANENT_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)

#: What a retry may cure.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    WarehouseBusyError,
    TimeoutError,
    ConnectionError,
    OSError,
    duckdb.IOException,
)


def is_transient(exc: BaseException) -> bool:
    """True when `exc` is I/O that may succeed on a later try."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False  # wrong credentials stay wrong
    if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500:
        return False  # a permanent SMTP rejection (5xx)
    if isinstance(exc, _PERMANENT_OS_ERRORS):
        return False
    return isinstance(exc, TRANSIENT_ERRORS)


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's `retry_condition_fn`: retry the failed task only for transient I/O."""
    try:
        state.result()
    except BaseException as exc:
        return is_transient(exc)
    return False


#: Keyword arguments for `@task(...)` on steps that read, write or send.
IO_RETRY: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": [5, 30],
    "retry_condition_fn": retry_if_transient,
}

#: SMTP delivery: the same condition, a longer schedule (a mail server may be down for minutes).
SMTP_RETRY: dict[str, Any] = {**IO_RETRY, "retries": 3, "retry_delay_seconds": [10, 60, 300]}
