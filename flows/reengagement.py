"""Re-engagement, the churn flow's last stage: read the policy's inputs → one action (or none,
with the reason) per at-risk user the champion just scored, under the fatigue rules
(`ml.audience.policy`: contact caps, opt-outs, quiet hours, discount budget) → its offline
evaluation on the randomized nudge log → publish `ml.reengagement_actions`.

`reengagement_stage` is a plain function the churn flow calls inside its own run, not a flow:
its tasks show under `churn` in the UI, and the run's flows, artifacts and result keys stay
what they were when these lines lived in the churn flow. Each task calls one step from
`warehouse.audience` (reads, publishes) or `ml.audience` (plan, evaluation).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows import stage_order
from flows.artifacts.audience import reengagement_markdown
from flows.retry import IO_RETRY
from ml.audience.gates import evaluate_plan_with_champion
from ml.audience.ips import PolicyEvaluation
from ml.audience.policy import PolicyConfig
from ml.audience.reengagement import ReengagementInputs, plan_actions, reengagement_summary
from ml.registry import ModelRegistry
from warehouse.audience import load_reengagement_inputs, publish_actions
from warehouse.publish import PublishLineage
from warehouse.settings import Settings


@task(cache_policy=NO_CACHE, **IO_RETRY)
def load_reengagement_inputs_task(settings: Settings) -> ReengagementInputs:
    """Read segments, contact history, viewing hours, the nudge log and recommendations."""
    return load_reengagement_inputs(settings)


@task(cache_policy=NO_CACHE)
def plan_actions_task(
    scores: pd.DataFrame, inputs: ReengagementInputs, config: PolicyConfig
) -> pd.DataFrame:
    """One action (or none, with the reason) per at-risk user, under the fatigue rules."""
    return plan_actions(scores, inputs, config)


@task(cache_policy=NO_CACHE)
def evaluate_plan_task(
    settings: Settings, scores: pd.DataFrame, inputs: ReengagementInputs, config: PolicyConfig
) -> PolicyEvaluation | None:
    """IPS estimate of the policy vs nudging everyone / nobody on the randomized log, each
    logged nudge judged at its risk when sent (by the champion that scored today)."""
    registry = ModelRegistry(settings.artifacts_path)
    return evaluate_plan_with_champion(registry, scores, inputs, config)


@task(cache_policy=NO_CACHE, **IO_RETRY)
def publish_actions_task(settings: Settings, plan: pd.DataFrame, lineage: PublishLineage) -> int:
    """Publish this snapshot's ml.reengagement_actions (earlier snapshots kept)."""
    return publish_actions(settings, plan, lineage)


def reengagement_stage(
    settings: Settings, scores: pd.DataFrame, lineage: PublishLineage, evaluate_policy: bool
) -> tuple[dict[str, Any], str]:
    """Plan, evaluate and publish the actions for today's scores (inside a churn flow run);
    returns the result's `reengagement` entry and the artifact's re-engagement section."""
    config = settings.reengage
    # the teasers read ml.recommendations: in a platform run the recommender runs beside
    # this stage, and its homepages must be published (or have failed) first
    stage_order.wait_for("recommend")
    inputs = load_reengagement_inputs_task(settings)
    plan = plan_actions_task(scores, inputs, config)
    evaluation = evaluate_plan_task(settings, scores, inputs, config) if evaluate_policy else None
    published = publish_actions_task(settings, plan, lineage)
    for note in inputs.notes:
        get_run_logger().warning("re-engagement: %s", note)
    summary = reengagement_summary(plan, published, evaluation, inputs)
    return summary, reengagement_markdown(plan, evaluation, inputs.notes)
