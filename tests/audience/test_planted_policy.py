"""The planted-truth reading of a policy's 30-day retention (ml.audience.truth), on a truth
folder small enough to compute by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from ml.audience.truth import planted_policy_retention


def _truth(folder: Path) -> Path:
    folder.mkdir()
    effects = {
        "fan": {
            "none": {"cancel_logit_shift": 0.0},
            "email": {"cancel_logit_shift": -1.0},
            "push": {"cancel_logit_shift": 0.5},
        }
    }
    (folder / "nudges.json").write_text(json.dumps({"effects": effects}))
    pd.DataFrame({"user_id": ["u1", "u2"], "archetype": ["fan", "fan"]}).to_csv(
        folder / "users.csv", index=False
    )
    # u1: evaluated on Feb 1 (window Feb 1-28) with p = 0.5 logged under 'none'; u2's only
    # evaluation is 40 days after its nudge: no action can change its 30-day outcome.
    pd.DataFrame(
        {
            "user_id": ["u1", "u2"],
            "churn_probability": [0.5, 0.9],
            "evaluated_on": ["2026-02-01", "2026-03-01"],
        }
    ).to_csv(folder / "churn.csv", index=False)
    return folder


LOG = pd.DataFrame(
    {
        "event_id": ["e1", "e2"],
        "user_id": ["u1", "u2"],
        "sent_at": ["2026-01-25T10:00:00Z", "2026-01-20T10:00:00Z"],
        "action": ["none", "email"],
        "outcome_observed": [True, True],
    }
)
COSTS = {"none": 0.0, "email": 0.05, "push": 0.02}


def test_hand_computed_gain_cost_and_best(tmp_path: Path) -> None:
    truth = _truth(tmp_path / "truth")
    chosen = pd.DataFrame(
        {"policy": ["email", "email"], "pushy": ["push", "none"], "nobody": ["none", "none"]},
        index=pd.Index(["e1", "e2"], name="event_id"),
    )
    out = planted_policy_retention(
        LOG, chosen, truth, COSTS, 30.0, best_for=pd.Series(True, index=chosen.index)
    ).set_index("policy")
    # the cancel day is uniform over Feb 1-28; 30 days after Jan 25 is Feb 24: 24 of 28 days
    share = 24 / 28
    p_none = 0.5 * share
    p_email = share / (1 + math.exp(1.0))
    p_push = share / (1 + math.exp(-0.5))
    assert out.loc["policy", "incremental_retained"] == pytest.approx(p_none - p_email)
    assert out.loc["policy", "cost"] == pytest.approx(0.10)  # u2's email costs, gains nothing
    assert out.loc["pushy", "incremental_retained"] == pytest.approx(p_none - p_push)  # < 0
    assert out.loc["pushy", "net_value"] < 0
    assert out.loc["nobody", "incremental_retained"] == 0 and out.loc["nobody", "cost"] == 0
    assert math.isnan(out.loc["nobody", "retained_per_cost"])
    # the best any policy could do: email u1 (worth 30 × 0.2 ≫ 0.05), nothing for u2
    assert out.loc["planted best", "incremental_retained"] == pytest.approx(p_none - p_email)
    assert out.loc["planted best", "cost"] == pytest.approx(0.05)


def test_unobserved_rows_are_left_out(tmp_path: Path) -> None:
    truth = _truth(tmp_path / "truth")
    log = LOG.assign(outcome_observed=[False, True])
    chosen = pd.DataFrame({"policy": ["email", "email"]}, index=["e1", "e2"])
    out = planted_policy_retention(log, chosen, truth, COSTS, 30.0).set_index("policy")
    assert out.loc["policy", "incremental_retained"] == 0.0
    assert out.loc["policy", "cost"] == pytest.approx(0.05)
