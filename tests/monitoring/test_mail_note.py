"""The one line `drift` and the monitor flow print about mail: what was written, or why nothing.

With the default policy (drift_only) a newcomer's first run mails nothing; the line says so and
why, instead of leaving them to wait for a mail."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows.steps.monitor import mail_note, mail_step
from monitoring.config import MailConfig
from monitoring.drift import DriftSpec, DriftSummary, DriftThresholds, run_drift
from warehouse.settings import Settings

TODAY = dt.date(2026, 6, 3)


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> DriftSummary:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    return run_drift(
        frame,
        frame.sample(frac=1.0, random_state=1),
        DriftSpec("toy", numerical=("a", "b")),
        DriftThresholds(permutations=0),
        tmp_path_factory.mktemp("reports"),
        write_html=False,
    )


def _with(summary: DriftSummary, **changes) -> DriftSummary:
    return DriftSummary.from_dict({**summary.to_dict(), **changes})


def test_drift_only_says_why_no_mail_went_out(summary: DriftSummary, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert summary.drifted_count == 0 and not summary.dataset_drift
    assert mail_step(settings, summary, today=TODAY) is None
    assert mail_note(settings, [summary], []) == (
        "no mail: nothing drifted and TASTEMAKER_MAIL__POLICY=drift_only"
    )
    one = _with(summary, drifted_count=1)
    assert mail_step(settings, one, today=TODAY) is None
    assert mail_note(settings, [one], []) == (
        "no mail: no alert rule fired (1 column drifted, none both beyond chance and large, no "
        "key feature, below the 30% share) and TASTEMAKER_MAIL__POLICY=drift_only"
    )
    assert not settings.outbox_path.exists()


def test_a_written_mail_says_where_it_is(summary: DriftSummary, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    drifted = _with(
        summary,
        drifted_count=2,
        status="drift",
        alerts=[{"rule": "large_drift", "columns": ["a"]}],
    )
    path = mail_step(settings, drifted, today=TODAY)
    assert path is not None and path.parent == settings.outbox_path
    note = mail_note(settings, [drifted], [path])
    assert note.startswith(f"mail: 1 message(s) written to {settings.outbox_path} (no ")
    assert "TASTEMAKER_SMTP__HOST" in note


def test_daily_digest_says_the_digest_already_went_out(
    summary: DriftSummary, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path, mail=MailConfig(policy="daily_digest"))
    first = mail_step(settings, summary, today=TODAY)
    assert first is not None
    assert mail_step(settings, summary, today=TODAY) is None
    assert mail_note(settings, [summary], []) == (
        "no mail: today's digest already went out and nothing new drifted "
        "(TASTEMAKER_MAIL__POLICY=daily_digest)"
    )


def test_the_same_alert_waiting_in_the_outbox_is_not_mailed_twice(
    summary: DriftSummary, tmp_path: Path
) -> None:
    """`tastemaker run` without SMTP queues the alert; `drift --email` sends that one."""
    settings = Settings(home=tmp_path)
    alert = _with(summary, status="drift", alerts=[{"rule": "large_drift", "columns": ["a"]}])
    first = mail_step(settings, alert, today=TODAY)
    again = _with(alert, report_id="other", created_at="2026-06-30T05:00:00+00:00")
    assert first is not None and mail_step(settings, again, today=TODAY) == first
    assert len(list(settings.outbox_path.glob("*.eml"))) == 1
    other = _with(alert, alerts=[{"rule": "large_drift", "columns": ["b"]}])
    assert mail_step(settings, other, today=TODAY) not in (None, first)
    assert len(list(settings.outbox_path.glob("*.eml"))) == 2
