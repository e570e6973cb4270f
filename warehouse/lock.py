"""One writer at a time on the DuckDB file.

DuckDB lets only one process open a database file for writing. Two flow runs that both write
(a scheduled micro-batch overlapping a manual full run, say) would otherwise fail with an opaque
"could not set lock" error half-way through. Every writing step takes this advisory file lock
first, so the second run waits its turn instead, and says so in its log. A file lock needs no
server, so it also holds on the embedded default where no Prefect concurrency limit exists.

Read-only commands take the same lock (DuckDB will not let another process open the file, even
read-only, while a writer has it open) but with a short wait: a person at a terminal would rather
hear "a run is writing, try again in a minute" than stare at a silent prompt for half an hour.
The holder writes who it is (pid, host, since when) into the lock file so that message can name
it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LockHolder:
    """Who holds the warehouse lock, as recorded in the lock file by the holder itself."""

    pid: int | None
    host: str | None = None
    since: str | None = None

    def describe(self) -> str:
        """E.g. `pid 4242 on host-a since 2026-11-29T13:40:02Z` (missing parts left out)."""
        parts = [f"pid {self.pid}" if self.pid is not None else "an unknown process"]
        if self.host:
            parts.append(f"on {self.host}")
        if self.since:
            parts.append(f"since {self.since}")
        return " ".join(parts)


def read_holder(lock_path: Path) -> LockHolder | None:
    """The holder recorded in `lock_path`, or None when the file is missing, empty or unreadable.

    Accepts the JSON record written by `warehouse_lock` and the bare pid older versions wrote.
    The record is advisory: it names the last process that took the lock, which is the current
    holder whenever someone holds it."""
    try:
        text = Path(lock_path).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not text:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if isinstance(data, int):
        return LockHolder(pid=data)
    if not isinstance(data, dict):
        return None
    pid = data.get("pid")
    return LockHolder(
        pid=pid if isinstance(pid, int) else None,
        host=str(data["host"]) if data.get("host") else None,
        since=str(data["since"]) if data.get("since") else None,
    )


class WarehouseBusyError(TimeoutError):
    """Another process held the warehouse lock for longer than we were willing to wait.

    `lock_path`, `waited_s` and `holder` say which lock, how long we waited and who held it
    (None when unknown, e.g. for an error built from a message alone)."""

    def __init__(
        self,
        message: str,
        *,
        lock_path: Path | None = None,
        waited_s: float | None = None,
        holder: LockHolder | None = None,
    ) -> None:
        super().__init__(message)
        self.lock_path = lock_path
        self.waited_s = waited_s
        self.holder = holder

    def __reduce__(self):  # keep the details when Prefect pickles a failed task's exception
        return (
            _rebuild_busy,
            (str(self), self.lock_path, self.waited_s, self.holder),
        )

    def for_readers(self) -> str:
        """The message a read-only command prints: who is writing, and what to do."""
        who = f" ({self.holder.describe()})" if self.holder else ""
        waited = f"waited {self.waited_s:.0f} s" if self.waited_s is not None else "gave up"
        lock = f" for the lock {self.lock_path}" if self.lock_path else ""
        return (
            f"the warehouse is busy: a Tastemaker run is writing it{who}; {waited}{lock}. "
            "Try again in a minute."
        )


def _rebuild_busy(
    message: str, lock_path: Path | None, waited_s: float | None, holder: LockHolder | None
) -> WarehouseBusyError:
    return WarehouseBusyError(message, lock_path=lock_path, waited_s=waited_s, holder=holder)


def _record() -> bytes:
    since = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return (
        json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": since}) + "\n"
    ).encode()


@contextmanager
def warehouse_lock(
    lock_path: Path, timeout_s: float = 1800.0, poll_s: float = 0.5
) -> Iterator[None]:
    """Hold an exclusive advisory lock on `lock_path` for the duration of the block.

    Args:
        lock_path: The lock file (created if missing), e.g. `<home>/warehouse.lock`.
        timeout_s: Give up with `WarehouseBusyError` after this many seconds (writers use the
            `warehouse_lock_timeout_s` setting, read-only commands `read_lock_timeout_s`).
        poll_s: How often to retry while another process holds the lock.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    started = time.monotonic()
    deadline = started + timeout_s
    announced = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not announced:
                    holder = read_holder(lock_path)
                    log.info(
                        "Warehouse %s is busy with another writer%s; waiting up to %.0f s",
                        lock_path,
                        f" ({holder.describe()})" if holder else "",
                        timeout_s,
                    )
                    announced = True
                if time.monotonic() >= deadline:
                    holder = read_holder(lock_path)
                    who = f" (held by {holder.describe()})" if holder else ""
                    raise WarehouseBusyError(
                        f"gave up after {timeout_s:.0f}s waiting for the warehouse lock "
                        f"{lock_path}: another Tastemaker run is writing{who}",
                        lock_path=lock_path,
                        waited_s=time.monotonic() - started,
                        holder=holder,
                    ) from None
                time.sleep(min(poll_s, max(deadline - time.monotonic(), 0.01)))
        os.ftruncate(fd, 0)
        os.pwrite(fd, _record(), 0)
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
