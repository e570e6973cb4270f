"""The ingest's rules in time, declared once: `TimeRules` is what `warehouse.validate` applies
and what the settings nest as the group `ingest` (`TASTEMAKER_INGEST__FUTURE_TOLERANCE_HOURS`,
an `[ingest]` table in the TOML file), so each default, bound and description lives here.

This module imports pydantic only: every `tastemaker` command reads the settings, and must not
load the ingest's SQL generation to do so. docs/data-contract.md ("Time you can trust") says how
each rule quarantines a row.
"""

from __future__ import annotations

from datetime import date

from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class TimeRules:
    """The plausibility rules in time.

    A timestamp that parses is not yet a time that happened: a device with its clock set wrong
    lands a view in the year 2500, a default value lands one in 1970. Either would move every
    as-of date computed from the data, so rows outside the window are quarantined at ingest.
    A dataclass (positional arguments, as the ingest's tests build variants) validated by
    pydantic, so a negative tolerance fails wherever it comes from.
    """

    future_tolerance_hours: float = Field(
        default=24.0,
        ge=0,
        description="An event time may lie at most this far after the ingest time of its batch "
        "(clock skew between devices and the ingest host); later rows are quarantined. dbt "
        "clamps snapshot_date to the latest ingest time plus this much.",
    )
    earliest_event_date: date = Field(
        default=date(2000, 1, 1),
        description="No event or signup before this date (before the service existed, or a "
        "1970 default value): such rows are quarantined.",
    )
    session_overlap_tolerance_s: int = Field(
        default=300,
        ge=0,
        description="Two playback sessions of one user on one device may overlap by this many "
        "seconds (a player reporting its start late); beyond it the later one is quarantined.",
    )
