"""Every threshold, cost and limit of the re-engagement policy, declared once.

`PolicyConfig` is what `ml.audience.policy` and `ml.audience.ips` take, and the settings nest it
as the group `reengage` (`TASTEMAKER_REENGAGE__RISK_THRESHOLD`, a `[reengage]` table in the TOML
file), so a field added here is a setting with no second declaration. This module imports
pydantic only: the settings are read by every `tastemaker` command, the policy's pandas by the
few that plan.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ResponseOutcome = Literal["cancelled_30d", "returned_7d"]
RESPONSE_OUTCOMES: tuple[ResponseOutcome, ...] = ("cancelled_30d", "returned_7d")

_PRIOR = "The response assumed when the log says nothing (share of would-be cancellers kept) for"


class PolicyConfig(BaseModel):
    """Every threshold, cost and limit of the re-engagement policy (money in one currency).

    The module docstring of `ml.audience.policy` says how each one enters the decision.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    risk_threshold: float = Field(
        default=0.15, ge=0, le=1, description="Churn probability from which a user is at risk."
    )
    value_of_retention: float = Field(
        default=30.0,
        ge=0,
        description="What keeping a would-be canceller is worth (a retained month's margin "
        "times the months it buys).",
    )
    cost_email: float = Field(default=0.05, ge=0, description="Cost of one e-mail.")
    cost_push: float = Field(default=0.02, ge=0, description="Cost of one push.")
    cost_discount: float = Field(
        default=5.0, ge=0, description="Cost of one discount (revenue given away included)."
    )
    cost_teaser: float = Field(default=0.05, ge=0, description="Cost of one teaser.")
    response_outcome: ResponseOutcome = Field(
        default="returned_7d",
        description="What a response is measured on: `returned_7d` (a return within 7 days, "
        "frequent enough to estimate per segment) or `cancelled_30d` (retention itself, once "
        "the log is large enough).",
    )
    prior_email: float = Field(default=0.03, ge=-1, le=1, description=f"{_PRIOR} an e-mail.")
    prior_push: float = Field(default=0.02, ge=-1, le=1, description=f"{_PRIOR} a push.")
    prior_discount: float = Field(default=0.15, ge=-1, le=1, description=f"{_PRIOR} a discount.")
    prior_teaser: float = Field(default=0.05, ge=-1, le=1, description=f"{_PRIOR} a teaser.")
    prior_strength: float = Field(
        default=200.0,
        ge=0,
        description="Rows per arm at which a cell's estimate and its prior weigh equally.",
    )
    max_contacts_7d: int = Field(
        default=2, ge=0, description="Most contacts per user in 7 days, the planned one included."
    )
    max_contacts_30d: int = Field(
        default=4, ge=0, description="Most contacts per user in 30 days, the planned one included."
    )
    discount_budget: float = Field(
        default=500.0, ge=0, description="Most money spent on discounts in one plan."
    )
    usual_hours_coverage: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Share of a user's views their usual hours cover; the rest are quiet hours.",
    )
    default_send_hour: int = Field(
        default=19, ge=0, le=23, description="Send hour for a user with no recorded viewing."
    )
    discount_text: str = Field(
        default="50% off your next month", description="What the discount offers, as written."
    )
    eval_folds: int = Field(
        default=2, ge=2, description="Cross-fitting folds of the offline evaluation."
    )
    bootstrap: int = Field(
        default=200, ge=0, description="Bootstrap replicates for the evaluation's intervals."
    )
    random_state: int = Field(
        default=0, description="Seed of the evaluation's fold split and bootstrap."
    )

    def cost(self, action: str) -> float:
        """Cost of one action (none costs nothing)."""
        return 0.0 if action == "none" else float(getattr(self, f"cost_{action}"))

    def prior(self, action: str) -> float:
        """Prior relative response of an action (none: 0)."""
        return 0.0 if action == "none" else float(getattr(self, f"prior_{action}"))
