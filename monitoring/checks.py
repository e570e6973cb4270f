"""What a monitoring check returns when it cannot run.

A check that lacks its inputs (no scores published yet, no earlier set of recommendations to
compare with) is not a failure: the monitor logs the reason, puts it in the flow result and the
CLI output, and runs the other checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Skipped:
    """A check that could not run, and why (logged, in the flow result and the CLI output)."""

    check: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "status": "skipped", "reason": self.reason}
