from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.tasks.lock import WarehouseBusyError, warehouse_lock


def test_second_writer_waits_then_gives_up_with_a_clear_error(tmp_path: Path) -> None:
    lock = tmp_path / "warehouse.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from pathlib import Path; from flows.tasks.lock import warehouse_lock\n"
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
