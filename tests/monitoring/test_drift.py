"""Drift on synthetic frames: planted shifts are found, the same distribution is not flagged,
small samples raise no alarm, and the files and summary are what the email and lineage read."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitoring.drift import (
    DriftSpec,
    DriftSummary,
    DriftThresholds,
    mail_content,
    recall,
    run_drift,
    user_features_spec,
)

SPEC = DriftSpec(
    name="toy_features",
    numerical=("share_a", "share_b", "hours", "rating"),
    categorical=("plan", "country"),
)
NOW = datetime(2026, 6, 30, 3, 0, tzinfo=UTC)


def _frame(n: int, rng: np.random.Generator, *, shift: bool = False) -> pd.DataFrame:
    share_a = rng.beta(2, 5, n) * (1.8 if shift else 1.0)
    plan_p = [0.2, 0.3, 0.5] if shift else [0.5, 0.3, 0.2]
    rating = rng.normal(3.8, 0.6, n)
    rating[rng.random(n) < 0.3] = np.nan  # users without ratings: null, as in the mart
    return pd.DataFrame(
        {
            "user_id": [f"u{i:06d}" for i in range(n)],
            "share_a": np.clip(share_a, 0, 1),
            "share_b": rng.beta(3, 3, n),
            "hours": rng.gamma(2.0, 5.0, n),
            "rating": rating,
            "plan": rng.choice(["basic", "standard", "premium"], n, p=plan_p),
            "country": rng.choice(["US", "GB", "DE", "JP"], n),
        }
    )


@pytest.fixture(scope="module")
def planted_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("planted")


@pytest.fixture(scope="module")
def planted(planted_dir: Path) -> DriftSummary:
    """One report on a planted shift (share_a and plan), with its HTML, read by the tests below
    that check it and the mail made from it (one Evidently run instead of one per test)."""
    rng = np.random.default_rng(1)
    ref, cur = _frame(2000, rng), _frame(2000, rng, shift=True)
    return run_drift(
        ref,
        cur,
        SPEC,
        DriftThresholds(column_threshold=0.1, share_threshold=0.3, permutations=30),
        planted_dir,
        lineage={"run_id": "r1", "manifest_sha256": "f" * 64},
        reference_window={"start": "2026-04-01", "end": "2026-05-16"},
        now=NOW,
    )


def test_planted_shift_is_flagged_and_written(planted: DriftSummary, planted_dir: Path) -> None:
    summary = planted
    assert set(summary.drifted_columns) == {"share_a", "plan"}
    assert summary.status == "drift" and summary.dataset_drift
    assert summary.share == pytest.approx(2 / 6)
    assert {c.column for c in summary.top_drifted()} == {"share_a", "plan"}
    shifted = next(c for c in summary.columns if c.column == "share_a")
    assert shifted.test == "wasserstein" and shifted.current_mean > shifted.reference_mean
    assert next(c for c in summary.columns if c.column == "plan").test == "jensenshannon"

    # files under <reports>/<date>/, JSON round-trips, lineage carries the report id
    html, js = Path(summary.html_path), Path(summary.json_path)
    assert html.parent == planted_dir / "2026-06-30" == js.parent
    assert html.stat().st_size > 100_000 and "share_a" in html.read_text()
    assert DriftSummary.load(js) == summary
    stored = json.loads(js.read_text())
    assert stored["lineage"] == {
        "run_id": "r1",
        "manifest_sha256": "f" * 64,
        "report_id": summary.report_id,
    }
    assert stored["drifted_columns"] == summary.drifted_columns


def test_same_distribution_is_not_flagged(tmp_path: Path) -> None:
    alarms = 0
    for seed in range(5):
        rng = np.random.default_rng(100 + seed)
        summary = run_drift(
            _frame(1500, rng),
            _frame(1500, rng),
            SPEC,
            DriftThresholds(permutations=20),
            tmp_path,
            write_html=False,
        )
        alarms += summary.dataset_drift
        assert summary.drifted_count <= 1
    assert alarms == 0


def test_small_samples_raise_the_threshold_instead_of_an_alarm(tmp_path: Path) -> None:
    """At 60 rows chance differences exceed 0.1; the noise floor must absorb them."""
    rng = np.random.default_rng(7)
    with_floor = DriftThresholds(permutations=50, min_rows=1)
    raw_flags = floor_flags = 0
    for _ in range(6):
        ref, cur = _frame(60, rng), _frame(60, rng)
        guarded = run_drift(ref, cur, SPEC, with_floor, tmp_path, write_html=False)
        # Without the floor a column drifts when its statistic reaches the configured threshold
        # (Evidently's statistic does not depend on the threshold: one run gives both counts).
        raw_flags += sum(
            c.statistic is not None and c.statistic >= c.configured_threshold
            for c in guarded.columns
        )
        floor_flags += guarded.drifted_count
        assert all(c.threshold >= 0.1 for c in guarded.columns)
        assert any(c.threshold > 0.1 for c in guarded.columns)
    assert raw_flags >= 6  # without the floor, 60-row samples do flag columns by chance
    assert floor_flags <= 2


def test_too_few_rows_is_insufficient_data_not_drift(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    summary = run_drift(
        _frame(2000, rng),
        _frame(40, rng, shift=True),
        SPEC,
        DriftThresholds(min_rows=100, permutations=10),
        tmp_path,
        write_html=False,
    )
    assert summary.status == "insufficient_data" and not summary.dataset_drift


def test_user_features_spec_leaves_out_keys_and_cumulative_counters() -> None:
    cols = [
        "user_id",
        "snapshot_date",
        "plan",
        "country",
        "age_band",
        "signup_date",
        "tenure_days",
        "is_active",
        "n_views",
        "watch_hours",
        "watch_hours_28d",
        "genre_share_drama",
        "device_share_mobile",
        "mean_rating",
    ]
    spec = user_features_spec(cols)
    assert spec.categorical == ("plan", "country", "age_band", "is_active")
    assert spec.numerical == (
        "watch_hours_28d",
        "genre_share_drama",
        "device_share_mobile",
        "mean_rating",
    )
    windowed = user_features_spec(cols, equal_windows=True)
    assert "n_views" in windowed.numerical and "watch_hours" in windowed.numerical
    # inside a window the 28-day column duplicates its whole-window twin
    assert "watch_hours_28d" not in windowed.numerical
    assert "tenure_days" not in windowed.numerical and "user_id" not in windowed.numerical


def test_mail_content_names_drifted_columns(planted: DriftSummary) -> None:
    summary = planted
    content = mail_content(summary)
    # the subject and the first line of the body say which rule fired, for which columns
    assert content.subject.startswith("Tastemaker drift ALERT, toy_features: large drift: ")
    assert "share_a" in content.subject and "share_a" in content.title
    assert content.title.startswith("Drift ALERT, toy_features: large drift: ")
    assert "share_a +" in content.headline and " points" in content.headline
    fired = [c.column for c in summary.columns if c.alert_rule]
    assert {r.name for r in content.rows[: len(fired)]} == set(fired)
    assert content.lineage["run_id"] == "r1"
    assert content.lineage["report_id"] == summary.report_id
    assert content.report_path == Path(summary.html_path)
    assert content.chart_png and content.chart_png[:4] == b"\x89PNG"


def test_mail_says_one_count_of_drifted_columns_and_reads_as_english(
    planted: DriftSummary,
) -> None:
    """The table shows the largest statistics only; every count in the mail is of all columns."""
    from monitoring.mail import SmtpConfig, build_message

    summary = planted
    drifted, total = summary.drifted_count, summary.column_count
    assert 0 < drifted < total == 6
    content = mail_content(summary, max_rows=3)
    assert content.subject.startswith("Tastemaker drift ALERT, toy_features: large drift: ")
    assert content.subject.endswith(
        f"dataset share: {drifted} of 6 columns drifted ({drifted / 6:.2f} >= 0.30) (2026-06-30)"
    )
    msg = build_message(content, SmtpConfig(host=None))
    text = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    sentence = f"{drifted} of 6 columns drifted; the 3 largest statistics are shown."
    assert sentence in text and sentence in html
    assert f"{drifted} of 6 columns drifted (" in content.headline
    # no other "N of M ... drifted" count anywhere (it used to say "of 3 monitored columns")
    import re

    for part in (text, html, content.subject):
        counts = set(re.findall(r"(\d+) of (\d+) (?:monitored )?columns? drifted", part))
        assert counts == {(str(drifted), "6")}, part

    quiet = {"status": "ok", "alerts": [], "share": 1 / 6}
    one = DriftSummary.from_dict({**summary.to_dict(), "drifted_count": 1, **quiet})
    assert mail_content(one).subject == (
        "Tastemaker drift no alert, toy_features: 1 of 6 columns drifted (share 0.17 "
        "< 0.30), none both beyond chance and large, no key feature (2026-06-30)"
    )


def test_mail_lineage_links_served_reports_and_names_local_paths(tmp_path: Path) -> None:
    import socket

    rng = np.random.default_rng(1)
    summary = run_drift(
        _frame(300, rng), _frame(300, rng), SPEC, DriftThresholds(permutations=0), tmp_path
    )
    served = mail_content(summary, reports_base_url="https://r.example.org/tm")
    day, stem = summary.report_id.split("/")
    assert served.lineage["report_html"] == f"https://r.example.org/tm/{day}/{stem}.html"
    assert served.lineage["report_json"] == f"https://r.example.org/tm/{day}/{stem}.json"
    assert served.report_url == served.lineage["report_html"]
    local = mail_content(summary)
    assert local.report_url is None
    assert local.lineage["report_html"] == f"{summary.html_path} on host {socket.gethostname()}"
    assert not any("file://" in str(v) for v in local.lineage.values())


def test_recall() -> None:
    assert recall(["a", "b", "x"], ["a", "b", "c", "d"]) == 0.5
    assert recall([], []) == 1.0


def test_prediction_drift_on_scores_uses_the_same_call(tmp_path: Path) -> None:
    """Churn scores of two windows: one column, so dataset drift = that column drifted."""
    rng = np.random.default_rng(5)
    spec = DriftSpec(name="churn_scores", numerical=("churn_score",))
    ref = pd.DataFrame({"churn_score": rng.beta(2, 20, 1500)})
    same = pd.DataFrame({"churn_score": rng.beta(2, 20, 1500)})
    riskier = pd.DataFrame({"churn_score": rng.beta(3, 12, 1500)})
    thresholds = DriftThresholds(permutations=20)
    assert not run_drift(ref, same, spec, thresholds, tmp_path, write_html=False).dataset_drift
    shifted = run_drift(ref, riskier, spec, thresholds, tmp_path, write_html=False)
    assert shifted.dataset_drift and shifted.drifted_columns == ["churn_score"]
    assert Path(shifted.json_path).name.startswith("churn_scores_drift_")


def test_an_empty_window_is_a_clear_error_not_an_evidently_traceback(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    empty = _frame(10, rng).iloc[0:0]
    with pytest.raises(ValueError, match=r"reference window .* has no rows"):
        run_drift(
            empty,
            _frame(200, rng),
            SPEC,
            DriftThresholds(permutations=0),
            tmp_path,
            reference_window={"start": "2024-01-01"},
            write_html=False,
        )
