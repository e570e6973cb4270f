"""Re-engagement plan rows and their offline evaluation, from the scores and optional inputs.

Wraps `ml.audience.policy` for the churn flow: what to do when an input is missing (no contact
history: nobody is contacted; no nudge log: no evaluation) and the column types that let each
snapshot's plan append to `ml.reengagement_actions`. No Prefect, no warehouse here.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ml.audience.ips import PolicyEvaluation, evaluate_policy
from ml.audience.policy import PolicyConfig, PolicyInputError, plan_reengagement

log = logging.getLogger(__name__)

#: Marts the re-engagement policy reads when dbt builds them (each optional).
CONTACTS_MART = "user_contact_history"
HOURS_MART = "user_hour_profile"
NUDGES_MART = "nudge_outcomes"


@dataclass(frozen=True)
class ReengagementInputs:
    """What the policy reads besides the scores; None = that input is not available."""

    segments: pd.DataFrame | None
    contact_history: pd.DataFrame | None
    hour_profile: pd.DataFrame | None
    nudge_log: pd.DataFrame | None
    recommendations: pd.DataFrame | None
    notes: list[str] = field(default_factory=list)


def policy_segments(published: pd.DataFrame | None) -> pd.DataFrame | None:
    """user_id, segment, segment_name from the published `ml.user_segments` (None: none)."""
    if published is None:
        return None
    return published[["user_id", "segment_id", "segment_name"]].rename(
        columns={"segment_id": "segment"}
    )


_PLAN_TEXT = ("segment_name", "action", "channel", "title_id", "subject", "body", "reason")


def plan_actions(
    scores: pd.DataFrame,
    inputs: ReengagementInputs,
    config: PolicyConfig,
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """The `ml.reengagement_actions` rows for this snapshot's scores (`plan_reengagement`),
    with stable column types so later snapshots append to the same table."""
    contacts = inputs.contact_history
    if contacts is None:
        # unknown fatigue and opt-outs: treat every user as unreachable rather than risk it
        contacts = pd.DataFrame(
            {
                "user_id": scores["user_id"],
                "contacts_7d": 0,
                "contacts_30d": 0,
                "email_opt_out": True,
                "push_opt_out": True,
                "all_opt_out": True,
            }
        )
    plan = plan_reengagement(
        scores,
        inputs.segments,
        contacts,
        inputs.hour_profile,
        inputs.nudge_log,
        inputs.recommendations,
        config,
        now,
    )
    if inputs.contact_history is None and len(plan):
        plan["reason"] = plan["reason"] + f" ({CONTACTS_MART} not built: contact rules unknown)"
    plan["segment"] = pd.to_numeric(plan["segment"], errors="coerce").astype("Int64")
    for col in _PLAN_TEXT:
        plan[col] = plan[col].astype("string")
    plan["send_at"] = pd.to_datetime(plan["send_at"], utc=True)
    plan.insert(1, "snapshot_date", scores["snapshot_date"].iloc[0])
    return plan


def reengagement_summary(
    plan: pd.DataFrame,
    published: int,
    evaluation: PolicyEvaluation | None,
    inputs: ReengagementInputs,
) -> dict[str, Any]:
    """The plan's headline (at-risk users, rows published, users per action), its offline
    evaluation and what the inputs lacked, as the churn flow reports them (JSON-ready)."""
    return {
        "at_risk": len(plan),
        "published": published,
        "actions": {str(k): int(v) for k, v in plan["action"].value_counts().items()},
        "evaluation": evaluation.to_dict() if evaluation is not None else None,
        "notes": list(inputs.notes),
    }


def risk_at_send(model: Any, nudge_log: pd.DataFrame) -> pd.DataFrame | None:
    """Churn risk of each logged nudge when it was sent (event_id, churn_probability).

    `nudge_outcomes` carries the churn features computed at `sent_at`; scoring those with the
    churn model judges the policy's targeting by what was knowable when each nudge was decided.
    None when the log lacks one of the model's features (an older warehouse).
    """
    needed = list(getattr(model, "feature_names_in_", []))
    if not needed or not set(needed) <= set(nudge_log.columns):
        return None
    return pd.DataFrame(
        {
            "event_id": nudge_log["event_id"].to_numpy(),
            "churn_probability": model.predict_proba(nudge_log[needed])[:, 1],
        }
    )


def evaluate_plan(
    scores: pd.DataFrame,
    inputs: ReengagementInputs,
    config: PolicyConfig,
    model: Any | None = None,
) -> PolicyEvaluation | None:
    """Offline value of the policy vs everyone / nobody on the randomized log, if there is one.

    With the churn `model` that produced `scores`, each logged nudge is judged at its risk when
    sent (`risk_at_send`); without it (or without the features in the log), every nudge of a
    user takes that user's latest score, which judges old decisions by today's risk: a note
    says so.
    """
    if inputs.nudge_log is None or inputs.nudge_log.empty:
        return None
    risk = risk_at_send(model, inputs.nudge_log) if model is not None else None
    if risk is None:
        inputs.notes.append(
            "policy evaluated with each user's latest churn score for all their logged nudges "
            "(no risk at send time)"
        )
    try:
        return evaluate_policy(
            inputs.nudge_log, scores if risk is None else risk, inputs.segments, config
        )
    except PolicyInputError as exc:
        inputs.notes.append(f"policy not evaluated: {exc}")
        log.warning(inputs.notes[-1])
        return None
