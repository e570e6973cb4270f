"""The re-engagement step waits for a recommender running beside it, and only then."""

from __future__ import annotations

import threading
import time

from flows import stage_order


def test_nothing_announced_means_no_wait() -> None:
    assert stage_order.wait_for("recommend", timeout_s=0.0) is True


def test_an_announced_stage_holds_its_waiters_until_it_finishes() -> None:
    stage_order.announce("recommend")
    order: list[str] = []

    def reengagement() -> None:
        stage_order.wait_for("recommend")
        order.append("reengagement read ml.recommendations")

    waiter = threading.Thread(target=reengagement)
    waiter.start()
    time.sleep(0.2)
    assert order == [] and waiter.is_alive()
    assert stage_order.wait_for("recommend", timeout_s=0.01) is False
    order.append("recommend published")
    stage_order.finished("recommend")
    waiter.join(timeout=5)
    assert order == ["recommend published", "reengagement read ml.recommendations"]
    assert stage_order.wait_for("recommend", timeout_s=0.0) is True  # forgotten once finished


def test_finishing_an_unannounced_stage_is_harmless() -> None:
    stage_order.finished("never-announced")
    assert stage_order.wait_for("never-announced", timeout_s=0.0) is True
