"""Same config, same bytes; a different seed, a different world; never mix two worlds."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from world_helpers import TINY, World

from ml.world import WorldConfig, generate_world


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for sub in ("landing", "truth")
        for p in sorted((root / sub).rglob("*"))
        if p.is_file()
    }


def test_same_config_gives_identical_bytes(tiny_world: World, tmp_path: Path) -> None:
    generate_world(TINY, out=tmp_path, progress=False)
    again, first = _files(tmp_path), _files(tiny_world.home)
    assert sorted(again) == sorted(first)
    different = [name for name in first if first[name] != again[name]]
    assert different == []


def test_different_seed_gives_a_different_world(tiny_world: World, tmp_path: Path) -> None:
    generate_world(dataclasses.replace(TINY, seed=TINY.seed + 1), out=tmp_path, progress=False)
    other, first = _files(tmp_path), _files(tiny_world.home)
    for name in ("landing/titles/titles.csv", "landing/users/users.csv", "truth/users.csv"):
        assert other[name] != first[name]
    day = f"landing/views/{TINY.start_date.isoformat()}.jsonl"
    assert other[day] != first[day]


def test_drift_changes_only_the_drift_window(tiny_world: World, tiny_drift_world: World) -> None:
    plain, drifted = _files(tiny_world.home), _files(tiny_drift_world.home)
    assert plain["landing/titles/titles.csv"] == drifted["landing/titles/titles.csv"]
    assert plain["landing/users/users.csv"] == drifted["landing/users/users.csv"]
    first_day = f"landing/views/{TINY.start_date.isoformat()}.jsonl"
    assert plain[first_day] == drifted[first_day]
    last_day = f"landing/views/{TINY.end_date.isoformat()}.jsonl"
    assert plain[last_day] != drifted[last_day]


def test_summary_counts_match_the_files(tiny_world: World) -> None:
    summary = tiny_world.summary
    data = summary.to_dict()
    json.dumps(data)  # JSON-ready
    assert set(data["rows"]) == {
        "titles", "users", "views", "ratings", "subscriptions", "exposures", "nudges", "opt_outs",
    }  # fmt: skip
    assert data["rows"]["titles"] == TINY.titles == len(tiny_world.titles)
    assert data["rows"]["users"] == TINY.users == len(tiny_world.users)
    assert data["rows"]["views"] == len(tiny_world.views) > 0
    assert data["rows"]["ratings"] == len(tiny_world.ratings) > 0
    assert data["rows"]["subscriptions"] == len(tiny_world.subscriptions) >= TINY.users
    assert data["rows"]["exposures"] == len(tiny_world.exposures) > 0
    assert summary.seconds > 0
    assert summary.landing == tiny_world.home / "landing"
    assert tiny_world.json("world.json")["rows"] == data["rows"]


def test_refuses_to_write_over_an_existing_landing(tmp_path: Path) -> None:
    cfg = WorldConfig(users=20, titles=20, days=14, seed=1)
    generate_world(cfg, out=tmp_path, progress=False)
    before = _files(tmp_path)
    with pytest.raises(FileExistsError, match="overwrite"):
        generate_world(dataclasses.replace(cfg, seed=2), out=tmp_path, progress=False)
    assert _files(tmp_path) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".world-staging")]


def test_refuses_foreign_landing_files(tmp_path: Path) -> None:
    (tmp_path / "landing" / "views").mkdir(parents=True)
    (tmp_path / "landing" / "views" / "real.jsonl").write_text("{}\n")
    with pytest.raises(FileExistsError):
        generate_world(WorldConfig(users=5, titles=14, days=14), out=tmp_path, progress=False)
    assert (tmp_path / "landing" / "views" / "real.jsonl").exists()


def test_empty_landing_folder_is_fine(tmp_path: Path) -> None:
    (tmp_path / "landing" / "views").mkdir(parents=True)
    summary = generate_world(WorldConfig(users=5, titles=14, days=14), out=tmp_path, progress=False)
    assert summary.rows["users"] == 5


def test_overwrite_replaces_landing_and_truth_only(tmp_path: Path) -> None:
    generate_world(WorldConfig(users=20, titles=20, days=20, seed=1), out=tmp_path, progress=False)
    (tmp_path / "warehouse.duckdb").write_bytes(b"not ours")
    (tmp_path / "landing" / "stray.csv").write_text("a\n1\n")
    summary = generate_world(
        WorldConfig(users=10, titles=20, days=14, seed=2),
        out=tmp_path,
        progress=False,
        overwrite=True,
    )
    assert (tmp_path / "warehouse.duckdb").read_bytes() == b"not ours"
    assert not (tmp_path / "landing" / "stray.csv").exists()
    # One file per day that has views (a 10-user world may have a quiet day), none older.
    days = sorted(p.stem for p in (tmp_path / "landing" / "views").glob("*.jsonl"))
    assert 10 <= len(days) <= 14
    assert days[-1] <= "2026-01-14"
    assert summary.rows["users"] == 10
    world = json.loads((tmp_path / "truth" / "world.json").read_text())
    assert world["config"]["seed"] == 2


def test_progress_bar_can_be_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate_world(WorldConfig(users=5, titles=14, days=14), out=tmp_path, progress=True)
    assert "world days" in capsys.readouterr().err
