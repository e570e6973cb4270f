"""Configuration of a synthetic world: size, seed, period and whether drift is planted."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

# Upper bounds that catch typos (an extra zero) rather than real limits of the generator.
MAX_USERS = 2_000_000
MAX_TITLES = 200_000
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class WorldConfig:
    """Everything that determines a world: the same config always gives byte-identical files.

    Attributes:
        users: number of subscribers (some sign up before ``start_date``, some during the period).
        titles: catalog size (movies and series).
        days: length of the simulated period; views cover ``[start_date, end_date]``.
        seed: seed of every random draw.
        drift: plant a shift in device mix and genre tastes in the last 25% of days.
        start_date: first simulated day (local calendar day of each viewer).
    """

    users: int = 2000
    titles: int = 400
    days: int = 180
    seed: int = 42
    drift: bool = False
    start_date: date = date(2026, 1, 1)

    @property
    def end_date(self) -> date:
        """Last simulated day (inclusive)."""
        return self.start_date + timedelta(days=self.days - 1)

    @property
    def drift_start_day(self) -> int:
        """Index of the first day of the drift window (the last 25% of days)."""
        return self.days - max(1, round(self.days * 0.25))

    def validate(self) -> None:
        """Raise ValueError naming the first field that makes no sense.

        A world needs at least 14 days so that weekly patterns and the recent-vs-earlier activity
        comparison behind churn exist, and at least 14 titles so every genre can be represented.
        """
        checks: list[tuple[bool, str]] = [
            (
                isinstance(self.users, int) and not isinstance(self.users, bool),
                "users must be an integer",
            ),
            (
                isinstance(self.titles, int) and not isinstance(self.titles, bool),
                "titles must be an integer",
            ),
            (
                isinstance(self.days, int) and not isinstance(self.days, bool),
                "days must be an integer",
            ),
            (
                isinstance(self.seed, int) and not isinstance(self.seed, bool),
                "seed must be an integer",
            ),
            (isinstance(self.drift, bool), "drift must be true or false"),
            (isinstance(self.start_date, date), "start_date must be a datetime.date"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"invalid WorldConfig: {message}")
        if self.users < 1:
            raise ValueError(f"invalid WorldConfig: users must be >= 1, got {self.users}")
        if self.users > MAX_USERS:
            raise ValueError(f"invalid WorldConfig: users must be <= {MAX_USERS}, got {self.users}")
        if self.titles < 14:
            raise ValueError(
                f"invalid WorldConfig: titles must be >= 14 (one per genre), got {self.titles}"
            )
        if self.titles > MAX_TITLES:
            raise ValueError(
                f"invalid WorldConfig: titles must be <= {MAX_TITLES}, got {self.titles}"
            )
        if self.days < 14:
            raise ValueError(f"invalid WorldConfig: days must be >= 14, got {self.days}")
        if self.days > MAX_DAYS:
            raise ValueError(f"invalid WorldConfig: days must be <= {MAX_DAYS}, got {self.days}")
        if self.seed < 0:
            raise ValueError(f"invalid WorldConfig: seed must be >= 0, got {self.seed}")
        if not date(1970, 1, 1) <= self.start_date <= date(9000, 1, 1):
            raise ValueError(f"invalid WorldConfig: start_date out of range: {self.start_date}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view (dates as ISO strings)."""
        data = dataclasses.asdict(self)
        data["start_date"] = self.start_date.isoformat()
        data["end_date"] = self.end_date.isoformat()
        return data
