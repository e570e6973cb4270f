from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from warehouse.lock import WarehouseBusyError, warehouse_lock


def test_second_writer_waits_then_gives_up_with_a_clear_error(tmp_path: Path) -> None:
    lock = tmp_path / "warehouse.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from pathlib import Path; from warehouse.lock import warehouse_lock\n"
            f"with warehouse_lock(Path({str(lock)!r})):\n"
            "    print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with (
            pytest.raises(WarehouseBusyError, match="another Tastemaker run is writing"),
            warehouse_lock(lock, timeout_s=0.6, poll_s=0.1),
        ):
            pass
        assert time.monotonic() - started >= 0.5
    finally:
        holder.kill()
        holder.wait()
    # Released when the holder dies: the lock is advisory and tied to the process.
    with warehouse_lock(lock, timeout_s=5):
        pass


def test_lock_is_reentrant_across_sequential_uses(tmp_path: Path) -> None:
    lock = tmp_path / "nested" / "w.lock"
    for _ in range(3):
        with warehouse_lock(lock, timeout_s=1):
            assert lock.exists()


def test_holder_is_recorded_in_the_lock_file(tmp_path: Path) -> None:
    """Whoever holds the lock says who it is, so a waiting reader can name it."""
    import datetime as dt
    import os
    import socket

    from warehouse.lock import LockHolder, read_holder

    lock = tmp_path / "warehouse.lock"
    assert read_holder(lock) is None  # no file yet
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with warehouse_lock(lock, timeout_s=1):
        holder = read_holder(lock)
    assert holder is not None
    assert holder.pid == os.getpid() and holder.host == socket.gethostname()
    since = dt.datetime.fromisoformat(holder.since.replace("Z", "+00:00"))
    assert before <= since <= dt.datetime.now(dt.UTC)
    assert holder.describe().startswith(f"pid {os.getpid()} on {socket.gethostname()} since ")
    lock.write_text("4242\n")  # what earlier versions wrote
    assert read_holder(lock) == LockHolder(pid=4242)
    lock.write_text("")
    assert read_holder(lock) is None
    lock.write_text("not json")
    assert read_holder(lock) is None


def test_busy_error_keeps_its_details_through_pickling(tmp_path: Path) -> None:
    """Prefect pickles a failed task's exception; the reader message must survive it."""
    import pickle

    from warehouse.lock import LockHolder

    exc = WarehouseBusyError(
        "gave up", lock_path=tmp_path / "w.lock", waited_s=9.6, holder=LockHolder(7, "h", "t")
    )
    again = pickle.loads(pickle.dumps(exc))
    assert str(again) == "gave up" and again.holder == LockHolder(7, "h", "t")
    assert again.for_readers() == exc.for_readers()
    assert "(pid 7 on h since t); waited 10 s" in again.for_readers()
    assert "Try again in a minute" in WarehouseBusyError("busy").for_readers()
