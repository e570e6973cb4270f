"""One writer at a time on the DuckDB file.

DuckDB lets only one process open a database file for writing. Two flow runs that both write
(a scheduled micro-batch overlapping a manual full run, say) would otherwise fail with an opaque
"could not set lock" error half-way through. Every writing step takes this advisory file lock
first, so the second run waits its turn instead, and says so in its log. A file lock needs no
server, so it also holds on the embedded default where no Prefect concurrency limit exists.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


class WarehouseBusyError(TimeoutError):
    """Another process held the warehouse lock for longer than we were willing to wait."""


@contextmanager
def warehouse_lock(
    lock_path: Path, timeout_s: float = 1800.0, poll_s: float = 0.5
) -> Iterator[None]:
    """Hold an exclusive advisory lock on `lock_path` for the duration of the block.

    Args:
        lock_path: The lock file (created if missing), e.g. `<home>/warehouse.lock`.
        timeout_s: Give up with `WarehouseBusyError` after this many seconds.
        poll_s: How often to retry while another process holds the lock.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout_s
    announced = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not announced:
                    log.info("Warehouse %s is busy with another writer; waiting", lock_path)
                    announced = True
                if time.monotonic() >= deadline:
                    raise WarehouseBusyError(
                        f"gave up after {timeout_s:.0f}s waiting for the warehouse lock "
                        f"{lock_path}: another Tastemaker run is writing"
                    ) from None
                time.sleep(poll_s)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
