"""Progress reporting: what a piped run prints per stage, and dbt node counting."""

from __future__ import annotations

import io
import logging
from types import SimpleNamespace

import pytest
from rich.console import Console

from flows import progress
from flows.display import PlainReporter, RunFormatter, reporter_for
from warehouse.dbtrun import _node_listener


def plain_console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=False, width=200), buffer


def test_plain_reporter_prints_a_stage_in_a_few_lines() -> None:
    console, buffer = plain_console()
    reporter = reporter_for(console)
    assert isinstance(reporter, PlainReporter)
    with progress.reporting(reporter):
        with progress.stage("transform", "dbt build"):
            for done in range(1, 618):
                progress.current().advance("transform", done, 617, f"node_{done}")
        with pytest.raises(ValueError), progress.stage("recommend"):
            raise ValueError("boom")
    lines = buffer.getvalue().splitlines()
    # start, three quarter marks, end; then start and a failed end
    assert lines[0] == "- transform: dbt build"
    assert lines[1:4] == ["  transform: 155/617", "  transform: 309/617", "  transform: 463/617"]
    assert lines[4].startswith("  transform done in ")
    assert lines[5] == "- recommend"
    assert lines[6].startswith("  recommend FAILED in ") and lines[6].endswith(": ValueError")
    assert len(lines) == 7
    assert progress.current() is not reporter  # uninstalled after the block


def test_without_a_display_reporting_is_silent() -> None:
    with progress.stage("ingest"):
        progress.current().advance("ingest", 1, 2)  # no display installed: nothing happens


def event(name: str, **data: object) -> SimpleNamespace:
    return SimpleNamespace(info=SimpleNamespace(name=name), data=SimpleNamespace(**data))


def finished(unique_id: str, status: str) -> SimpleNamespace:
    return event(
        "NodeFinished",
        node_info=SimpleNamespace(unique_id=unique_id),
        run_result=SimpleNamespace(status=status),
    )


def test_dbt_listener_counts_finished_nodes_against_dbts_total() -> None:
    seen: list[tuple[int, int, str, str]] = []
    listener = _node_listener(lambda *args: seen.append(args))
    listener(event("MainReportVersion"))
    listener(event("LogStartLine", total=3, index=1))
    listener(finished("model.tm.user_features", "success"))
    listener(event("LogTestResult", num_models=3, index=2))
    listener(finished("test.tm.not_null_x", "fail"))
    listener(finished("seed.tm.devices", "success"))
    assert seen == [
        (1, 3, "model.tm.user_features", "success"),
        (2, 3, "test.tm.not_null_x", "fail"),
        (3, 3, "seed.tm.devices", "success"),
    ]


def test_a_broken_display_never_breaks_the_build() -> None:
    def explode(*_: object) -> None:
        raise RuntimeError("display gone")

    _node_listener(explode)(finished("model.tm.x", "success"))  # must not raise


def test_log_lines_name_their_task_or_flow_run() -> None:
    formatter = RunFormatter("%(levelname)s %(name)s: %(message)s")
    record = logging.LogRecord("prefect.task_runs", logging.INFO, "", 0, "Finished", None, None)
    record.task_run_name = "dbt build-0"
    assert formatter.format(record) == "INFO prefect.task_runs: [task dbt build-0] Finished"
    record = logging.LogRecord("prefect.flow_runs", logging.INFO, "", 0, "Beginning", None, None)
    record.flow_run_name = "lucky-limpet"
    assert formatter.format(record) == "INFO prefect.flow_runs: [flow lucky-limpet] Beginning"
    plain = logging.LogRecord("ml.world", logging.INFO, "", 0, "a: b", None, None)
    assert formatter.format(plain) == "INFO ml.world: a: b"
