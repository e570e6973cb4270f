"""WorldConfig: the documented defaults, and clear errors for configurations that make no sense."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from ml.world import WorldConfig, generate_world


def test_defaults_are_the_embedded_world() -> None:
    cfg = WorldConfig()
    assert (cfg.users, cfg.titles, cfg.days, cfg.seed, cfg.drift) == (2000, 400, 180, 42, False)
    assert cfg.start_date == date(2026, 1, 1)
    assert cfg.end_date == date(2026, 6, 29)
    cfg.validate()


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        WorldConfig().users = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"users": 0}, "users must be >= 1"),
        ({"users": -5}, "users must be >= 1"),
        ({"titles": 13}, "titles must be >= 14"),
        ({"days": 13}, "days must be >= 14"),
        ({"days": 10_000}, "days must be <="),
        ({"seed": -1}, "seed must be >= 0"),
        ({"users": 2.5}, "users must be an integer"),
        ({"users": True}, "users must be an integer"),
        ({"drift": "yes"}, "drift must be true or false"),
        ({"start_date": "2026-01-01"}, "start_date must be a datetime.date"),
    ],
)
def test_validate_names_the_bad_field(changes: dict, message: str) -> None:
    cfg = WorldConfig(**changes)
    with pytest.raises(ValueError, match=message):
        cfg.validate()


def test_generate_validates_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="days must be >= 14"):
        generate_world(WorldConfig(days=3), out=tmp_path / "home", progress=False)
    assert not (tmp_path / "home").exists()


def test_smallest_valid_world(tmp_path: Path) -> None:
    summary = generate_world(
        WorldConfig(users=1, titles=14, days=14, seed=0), out=tmp_path, progress=False
    )
    assert summary.rows["users"] == 1
    assert summary.rows["titles"] == 14
    assert (tmp_path / "landing" / "views").is_dir()
