"""Registry: versions on disk, checksums before unpickling, the champion gate, crash safety."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression

import ml.registry as registry_mod
from ml.registry import (
    ChecksumMismatchError,
    DataWindow,
    ModelNotFoundError,
    ModelRegistry,
    PromotionError,
    PromotionGate,
    lineage_chain,
)

T0 = datetime(2026, 6, 30, 3, 0, tzinfo=UTC)
GATE = PromotionGate(metric="auc", higher_is_better=True, tolerance=0.01)


def _fit(c: float = 1.0) -> LogisticRegression:
    return LogisticRegression(C=c).fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])


def _save(reg: ModelRegistry, auc: float, *, minutes: int = 0, holdout: str = "h1", c: float = 1.0):
    model = _fit(c)
    return reg.save(
        model,
        "churn",
        metrics={"auc": auc, "log_loss": 0.4},
        holdout_id=holdout,
        data_window=DataWindow(start="2026-01-01", end="2026-06-30", snapshot_date="2026-06-30"),
        row_counts={"churn_training_set": 4},
        manifest_sha256="m" * 64,
        parameters=model.get_params(),
        run_id="run-123",
        now=T0 + timedelta(minutes=minutes),
    )


def test_save_writes_metadata_and_loads_back(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    meta = _save(reg, 0.8)
    folder = tmp_path / "churn" / meta.version
    assert (folder / "model.pkl").is_file()
    stored = json.loads((folder / "metadata.json").read_text())
    for key in (
        "metrics",
        "data_window",
        "row_counts",
        "manifest_sha256",
        "code_version",
        "created_at",
        "parameters",
        "checksums",
        "lineage",
    ):
        assert key in stored, key
    assert stored["lineage"] == {
        "run_id": "run-123",
        "model_version": meta.ref,
        "manifest_sha256": "m" * 64,
        "code_version": meta.code_version,
    }
    assert stored["parameters"]["C"] == 1.0
    assert meta.code_version.startswith(("git:", "tastemaker=="))
    model, loaded = reg.load("churn", meta.version)
    assert loaded == meta
    assert model.predict([[3.0]])[0] == 1
    # nothing temporary is left behind
    assert [p.name for p in (tmp_path / "churn").iterdir()] == [meta.version]


def test_tampered_model_is_refused_before_unpickling(tmp_path: Path, monkeypatch) -> None:
    reg = ModelRegistry(tmp_path)
    meta = _save(reg, 0.8)
    assert reg.promote("churn", meta.version, GATE).promoted
    path = tmp_path / "churn" / meta.version / "model.pkl"
    path.write_bytes(pickle.dumps(_fit(c=5.0)))  # a valid pickle, but not the one saved

    def _no_unpickle(*_a, **_k):
        raise AssertionError("pickle.loads must not run on a tampered file")

    monkeypatch.setattr(registry_mod.pickle, "loads", _no_unpickle)
    with pytest.raises(ChecksumMismatchError, match="refusing to unpickle"):
        reg.load("churn")
    with pytest.raises(ChecksumMismatchError):
        reg.load("churn", meta.version)


def test_champion_moves_only_through_the_gate(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    first = _save(reg, 0.80)
    decision = reg.promote("churn", first.version, GATE)
    assert decision.promoted and reg.champion_version("churn") == first.version

    within = _save(reg, 0.795, minutes=1)  # worse, but within the tolerance of 0.01
    assert reg.promote("churn", within.version, GATE).promoted
    assert reg.champion_version("churn") == within.version

    worse = _save(reg, 0.70, minutes=2)
    decision = reg.promote("churn", worse.version, GATE)
    assert not decision.promoted
    assert "fails the gate" in decision.reason
    assert reg.champion_version("churn") == within.version
    assert reg.versions("churn") == [first.version, within.version, worse.version]


def test_gate_direction_for_a_loss(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    loss_gate = PromotionGate(metric="log_loss", higher_is_better=False, tolerance=0.0)
    first = reg.save(_fit(), "churn", metrics={"log_loss": 0.40}, holdout_id="h", now=T0)
    reg.promote("churn", first.version, loss_gate)
    higher = reg.save(
        _fit(2.0), "churn", metrics={"log_loss": 0.41}, holdout_id="h", now=T0 + timedelta(1)
    )
    assert not reg.promote("churn", higher.version, loss_gate).promoted
    lower = reg.save(
        _fit(3.0), "churn", metrics={"log_loss": 0.39}, holdout_id="h", now=T0 + timedelta(2)
    )
    assert reg.promote("churn", lower.version, loss_gate).promoted


def test_gate_refuses_scores_from_different_holdouts(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    first = _save(reg, 0.80, holdout="h1")
    reg.promote("churn", first.version, GATE)
    other = _save(reg, 0.99, minutes=1, holdout="h2")
    with pytest.raises(PromotionError, match="champion_score"):
        reg.promote("churn", other.version, GATE)
    # with the champion re-scored on h2 the gate decides
    assert not reg.promote("churn", other.version, GATE, champion_score=1.0 + 0.02).promoted
    assert reg.promote("churn", other.version, GATE, champion_score=0.95).promoted


def test_crash_mid_save_leaves_the_old_champion_intact(tmp_path: Path, monkeypatch) -> None:
    reg = ModelRegistry(tmp_path)
    first = _save(reg, 0.80)
    reg.promote("churn", first.version, GATE)

    real_write = registry_mod._write_file
    calls = {"n": 0}

    def crash_on_metadata(path: Path, data: bytes) -> None:
        calls["n"] += 1
        if path.name == "metadata.json":
            path.write_bytes(data[: len(data) // 2])  # half a file, then the "power cut"
            raise OSError("injected crash while writing metadata.json")
        real_write(path, data)

    monkeypatch.setattr(registry_mod, "_write_file", crash_on_metadata)
    with pytest.raises(OSError, match="injected crash"):
        _save(reg, 0.99, minutes=1)
    assert calls["n"] == 2
    monkeypatch.setattr(registry_mod, "_write_file", real_write)

    assert reg.champion_version("churn") == first.version
    assert reg.versions("churn") == [first.version]
    model, meta = reg.load("churn")
    assert meta.version == first.version and model.predict([[0.0]])[0] == 0


def test_crash_while_moving_the_pointer_leaves_the_old_champion(tmp_path: Path, monkeypatch):
    reg = ModelRegistry(tmp_path)
    first = _save(reg, 0.80)
    reg.promote("churn", first.version, GATE)
    better = _save(reg, 0.90, minutes=1)

    def crash(*_a, **_k):
        raise OSError("injected crash in os.replace")

    monkeypatch.setattr(registry_mod.os, "replace", crash)
    with pytest.raises(OSError, match="injected crash"):
        reg.promote("churn", better.version, GATE)
    monkeypatch.undo()
    assert reg.champion_version("churn") == first.version
    assert not [p for p in (tmp_path / "churn").iterdir() if p.name.startswith(".tmp-")]
    assert reg.load("churn")[1].version == first.version


def test_a_killed_save_leftover_is_invisible(tmp_path: Path) -> None:
    """A process killed mid-save leaves only a hidden temp folder: never listed or loaded."""
    reg = ModelRegistry(tmp_path)
    first = _save(reg, 0.80)
    reg.promote("churn", first.version, GATE)
    leftover = tmp_path / "churn" / ".tmp-20990101T000000000000Z-deadbeef.1234"
    leftover.mkdir()
    (leftover / "model.pkl").write_bytes(b"partial")
    assert reg.versions("churn") == [first.version]
    assert reg.load("churn")[1].version == first.version


def test_lineage_chain_and_lookup(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    meta = _save(reg, 0.80)
    reg.promote("churn", meta.version, GATE)
    chain = lineage_chain(reg, meta.ref)
    assert chain["run_id"] == "run-123"
    assert chain["manifest_sha256"] == "m" * 64
    assert chain["is_champion"] is True
    assert lineage_chain(reg, meta.version)["model_version"] == meta.ref  # bare version works
    with pytest.raises(ModelNotFoundError):
        lineage_chain(reg, "churn:nope")
    with pytest.raises(ModelNotFoundError):
        reg.load("recommender")


def test_invalid_names_are_rejected(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    with pytest.raises(ValueError):
        reg.save(_fit(), "../evil", metrics={})
    with pytest.raises(ValueError):
        reg.version_dir("churn", "../x")
    with pytest.raises(ValueError):
        PromotionGate(metric="auc", tolerance=-1)


def test_concurrent_promotions_are_serialised(tmp_path: Path, monkeypatch) -> None:
    """Two candidates promoted at once: the second is judged against the first, not the old one."""
    import threading
    import time

    reg = ModelRegistry(tmp_path)
    old = _save(reg, 0.80)
    reg.promote("churn", old.version, GATE)
    good, worse = _save(reg, 0.90, minutes=1), _save(reg, 0.85, minutes=2)

    real = registry_mod._atomic_write_json

    def slow_write(path, payload):
        time.sleep(0.3)  # widen the window between reading and moving the pointer
        real(path, payload)

    monkeypatch.setattr(registry_mod, "_atomic_write_json", slow_write)
    decisions = {}

    def run(meta):
        decisions[meta.version] = reg.promote("churn", meta.version, GATE)

    first = threading.Thread(target=run, args=(good,))
    first.start()
    time.sleep(0.1)  # `good` holds the lock and is writing the pointer
    second = threading.Thread(target=run, args=(worse,))
    second.start()
    first.join()
    second.join()
    assert decisions[good.version].promoted
    assert decisions[worse.version].previous_champion == good.ref
    assert not decisions[worse.version].promoted  # 0.85 < 0.90 - 0.01
    assert reg.champion_version("churn") == good.version
