"""Audience flow: the segments flow, then the churn flow; the platform flow calls it after
transform.

The two stages live in their own modules (`flows.segments`, `flows.churn`, with the churn
flow's re-engagement stage in `flows.reengagement`); their parameters are re-exported here
because `AudienceParams` nests them. A failed stage does not stop the other.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from pydantic import BaseModel, Field

from flows.churn import ChurnParams, churn_flow
from flows.segments import SegmentsParams, segments_flow

__all__ = ["AudienceParams", "ChurnParams", "SegmentsParams", "audience_flow"]


class AudienceParams(BaseModel):
    """Both audience stages, run by the platform flow after the marts are built."""

    segments: SegmentsParams = Field(default_factory=SegmentsParams)
    churn: ChurnParams = Field(default_factory=ChurnParams)
    run_segments: bool = Field(default=True, description="Fit and publish viewer segments.")
    run_churn: bool = Field(default=True, description="Fit and publish churn scores.")


@flow(name="audience", log_prints=True)
def audience_flow(params: AudienceParams | None = None) -> dict[str, Any]:
    """Segments, then churn scores: what the platform flow runs after the marts are built."""
    params = params or AudienceParams()
    logger = get_run_logger()
    out: dict[str, Any] = {}
    failed = []
    stages = [
        ("segments", segments_flow, params.segments, params.run_segments),
        ("churn", churn_flow, params.churn, params.run_churn),
    ]
    for name, stage, stage_params, wanted in stages:
        if not wanted:
            continue
        # a failed stage does not stop the other (churn scores do not need today's segments);
        # the run still ends failed, with the first stage's own exception
        state = stage(stage_params, return_state=True)
        if state.is_completed():
            out[name] = state.result()
        else:
            logger.error("audience stage %s failed: %s", name, state.message)
            failed.append(state)
    if failed:
        failed[0].result()  # re-raises the stage's exception
    return out
