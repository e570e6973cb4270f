"""The one-line stage headlines of `tastemaker run` (flows.cli._stage_headline)."""

from __future__ import annotations

from flows.cli import _stage_headline


def test_audience_headline_names_segments_auc_actions_and_the_policy_verdict() -> None:
    result = {
        "segments": {"k": 7},
        "churn": {
            "metrics": {"roc_auc": 0.8341},
            "reengagement": {
                "actions": {"push": 3, "email": 5},
                "evaluation": {"verdict_nobody": "inconclusive"},
            },
        },
    }
    assert _stage_headline("audience", result) == (
        "7 segments; churn ROC-AUC 0.834; actions email 5, push 3; "
        "policy vs nudging nobody: inconclusive"
    )


def test_headlines_without_figures_stay_short() -> None:
    assert _stage_headline("audience", {"churn": {"skipped": "one snapshot"}}) == (
        "churn skipped (not enough history)"
    )
    assert _stage_headline("recommend", {}) == ""
    assert _stage_headline("monitor", {"drift": {"status": "ok"}}) == "drift ok; mail not needed"
