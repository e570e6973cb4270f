"""The Prefect monitoring flow on a tiny world: artifacts, and mail queued while SMTP is down
then delivered by the next run (nothing lost)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.homes import clone_home
from tests.monitoring.conftest import SmtpServer, free_port

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_monitor_flow_queues_then_delivers(
    prefect_harness, tiny_warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    import flows.monitor as monitor

    home = clone_home(tiny_warehouse, tmp_path / "home")
    port = free_port()
    for key, value in {
        "TASTEMAKER_HOME": str(home),
        "TASTEMAKER_SMTP__HOST": "127.0.0.1",
        "TASTEMAKER_SMTP__PORT": str(port),
        "TASTEMAKER_SMTP__STARTTLS": "false",
        "TASTEMAKER_SMTP__RECIPIENTS": "ops@example.org",
        "TASTEMAKER_MAIL__POLICY": "daily_digest",
        "TASTEMAKER_MAIL__RETRIES": "1",
        "TASTEMAKER_MAIL__BACKOFF_S": "0",
        "TASTEMAKER_DRIFT__PERMUTATIONS": "10",
    }.items():
        monkeypatch.setenv(key, value)
    # the production delays (10 s, 1 min, 5 min) are for real outages; one quick retry here
    monkeypatch.setattr(
        monitor, "deliver_task", monitor.deliver_task.with_options(retries=1, retry_delay_seconds=0)
    )
    params = monitor.MonitorParams()  # the windows the platform's dbt build made: no dbt run

    down = monitor.monitor_flow(params)  # nobody listens on the port
    assert down["mail"] is not None and down["delivery"]["sent"] == []
    queued = sorted((home / "outbox").glob("*.eml"))
    assert [p.name for p in queued] == down["delivery"]["queued"] and len(queued) == 1
    report = Path(down["drift"]["html_path"])
    assert report.is_file() and report.parent.parent == home / "reports"
    assert down["drift"]["lineage"]["run_id"]  # the Prefect flow run id
    assert not (home / "monitoring" / "scratch").exists()

    # the second run's reports are served: its artifacts link them
    monkeypatch.setenv("TASTEMAKER_MAIL__REPORTS_BASE_URL", "https://reports.example.org/tm/")
    server = SmtpServer(port).start()
    try:
        up = monitor.monitor_flow(params)
    finally:
        server.stop()
    # Nothing new is composed: the digest went out today, and an alert the first run found
    # (the tiny world's series_share moves 6.5 points between windows) is the one already
    # waiting (one finding, one mail), so only the queued message goes out.
    assert up["mail"] is None or Path(up["mail"]) == queued[0]
    assert up["delivery"]["sent"] == [queued[0].name] and up["delivery"]["queued"] == []
    (received,) = server.inbox.messages()
    assert received["X-Tastemaker-ReportId"] == down["drift"]["report_id"]
    assert not list((home / "outbox").glob("*.eml"))

    with get_client(sync_client=True) as client:
        keys = ["tastemaker-drift-user-features", "tastemaker-drift-user-features-report"]
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys))
        )
    links = [str(a.data) for a in artifacts if a.key == keys[1]]  # links are markdown in Prefect 3
    summaries = [str(a.data) for a in artifacts if a.key == keys[0]]
    assert summaries and all("genre_share" in text for text in summaries)
    # never a file:// link (browsers refuse it from the UI's http page): without a base URL the
    # summary names the report's path; with one, a link artifact points at the served report
    assert not any("file://" in text for text in links + summaries)
    assert any(f"`{down['drift']['html_path']} on host" in text for text in summaries)
    served = "https://reports.example.org/tm/" + up["drift"]["report_id"] + ".html"
    assert len(links) == 1 and served in links[0]  # the first run made no link artifact
    assert any(f"({served})" in text for text in summaries)
