"""A file-system model registry: versioned, checksummed, atomically written, with a champion.

Layout under the artifacts root (`Settings.artifacts_path`):

```
<root>/<model>/<version>/model.pkl       the fitted estimator (pickle)
<root>/<model>/<version>/metadata.json   metrics, data window, row counts, dbt manifest hash,
                                         code version, created_at, parameters, lineage, checksums
<root>/<model>/champion.json             {"version": ..., "promoted_at": ..., ...}
```

Why these rules:

- **Atomic writes.** A version is written into a hidden temporary folder beside its final place and
  renamed into place only when every file is on disk and fsynced; the champion pointer is a small
  JSON file replaced with `os.replace`. A crash at any point leaves either the old state or the new
  one, never a half-written version or a pointer to one.
- **Checksums before unpickling.** Unpickling runs code. `load` recomputes the sha256 of every file
  recorded at save time and refuses (`ChecksumMismatchError`) before `pickle.load` is called.
- **Promotion gate.** The champion moves only when the candidate is not worse than the champion on
  the shared holdout metric beyond a tolerance (direction per metric). Scores from different
  holdouts are not comparable, so the gate refuses to compare them unless the caller re-scored the
  champion on the candidate's holdout.
- **Lineage.** Every version records the run id that trained it, the dbt manifest hash of the build
  it read and the code version, so a published figure can be traced back (`lineage_chain`).

No Prefect import here: flows call this module; it knows nothing of them.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import pickle
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MODEL_FILE = "model.pkl"
METADATA_FILE = "metadata.json"
CHAMPION_FILE = "champion.json"
LOCK_FILE = ".lock"
#: Beside a classifier's model: evaluation.json (holdout metrics, drivers) and, under
#: `REFERENCE_SCORES`, the model's own calibrated probabilities and the labels on its latest
#: labelled snapshot: the reference of the monitor's performance estimate
#: (monitoring/performance.py).
EVALUATION_FILE = "evaluation.json"
REFERENCE_SCORES = "reference_scores"
_TMP_PREFIX = ".tmp-"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


class RegistryError(RuntimeError):
    """Base class of the registry's domain errors."""


class ModelNotFoundError(RegistryError):
    """No such model, version or champion."""


class ChecksumMismatchError(RegistryError):
    """A stored file differs from what was saved: it is refused, never unpickled."""


class PromotionError(RegistryError):
    """The promotion gate cannot decide (e.g. the scores come from different holdouts)."""


@dataclass(frozen=True)
class DataWindow:
    """The period of data a model was trained and evaluated on (ISO dates, end exclusive)."""

    start: str | None
    end: str | None
    snapshot_date: str | None = None


@dataclass(frozen=True)
class Lineage:
    """What ties an output to the run, model and dbt build that produced it."""

    run_id: str | None
    model_version: str
    manifest_sha256: str | None
    code_version: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ModelVersion:
    """Metadata of one saved model version, as stored in `metadata.json`."""

    model: str
    version: str
    created_at: str
    metrics: dict[str, float]
    holdout_id: str | None
    data_window: DataWindow
    row_counts: dict[str, int]
    manifest_sha256: str | None
    code_version: str
    parameters: dict[str, Any]
    run_id: str | None
    checksums: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """Globally unique reference `<model>:<version>`, the value published as model_version."""
        return f"{self.model}:{self.version}"

    @property
    def lineage(self) -> Lineage:
        return Lineage(
            run_id=self.run_id,
            model_version=self.ref,
            manifest_sha256=self.manifest_sha256,
            code_version=self.code_version,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ref"] = self.ref
        data["lineage"] = self.lineage.as_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelVersion:
        window = data.get("data_window") or {}
        return cls(
            model=data["model"],
            version=data["version"],
            created_at=data["created_at"],
            metrics={k: float(v) for k, v in (data.get("metrics") or {}).items()},
            holdout_id=data.get("holdout_id"),
            data_window=DataWindow(**window),
            row_counts={k: int(v) for k, v in (data.get("row_counts") or {}).items()},
            manifest_sha256=data.get("manifest_sha256"),
            code_version=data["code_version"],
            parameters=dict(data.get("parameters") or {}),
            run_id=data.get("run_id"),
            checksums=dict(data.get("checksums") or {}),
        )


@dataclass(frozen=True)
class PromotionGate:
    """Candidate passes if it is not worse than the champion on `metric` by more than `tolerance`.

    With `higher_is_better`: pass iff `candidate >= champion - tolerance`;
    otherwise (a loss such as RMSE or log-loss): pass iff `candidate <= champion + tolerance`.
    The tolerance is absolute, in the metric's own units, so a retrain on fresher data that is a
    hair worse through noise can still replace a stale champion.
    """

    metric: str
    higher_is_better: bool = True
    tolerance: float = 0.0

    def __post_init__(self) -> None:
        if self.tolerance < 0:
            raise ValueError(f"tolerance must be >= 0, got {self.tolerance}")


@dataclass(frozen=True)
class PromotionDecision:
    """What the gate decided and why, in words a person can read in a flow's artifact."""

    model: str
    candidate: str
    previous_champion: str | None
    promoted: bool
    metric: str
    candidate_score: float
    champion_score: float | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def code_version(repo_dir: Path | None = None) -> str:
    """The git commit of the checkout (suffixed `-dirty` with local changes), else the package
    version: enough to rebuild the code that trained a model."""
    where = repo_dir or Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
        )
        if commit.returncode == 0 and commit.stdout.strip():
            status = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=where,
                capture_output=True,
                text=True,
                timeout=5,
            )
            dirty = "-dirty" if status.returncode == 0 and status.stdout.strip() else ""
            return f"git:{commit.stdout.strip()}{dirty}"
    except (OSError, subprocess.SubprocessError):
        pass
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"tastemaker=={version('tastemaker')}"
    except PackageNotFoundError:
        return "unknown"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    """Make a rename durable: fsync the directory that holds the entry (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _atomic_write_json(path: Path, payload: Mapping[str, Any]) -> None:
    """Write JSON to a temp file in the same folder, fsync, then `os.replace` over `path`."""
    tmp = path.with_name(f"{_TMP_PREFIX}{path.name}.{uuid.uuid4().hex}")
    try:
        _write_file(tmp, (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


class ModelRegistry:
    """Models saved under `<root>/<model>/<version>/`, with a champion pointer per model."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # --- paths ---------------------------------------------------------------------------
    def _model_dir(self, model: str) -> Path:
        if not _NAME_RE.match(model):
            raise ValueError(f"model name must match {_NAME_RE.pattern}, got {model!r}")
        return self.root / model

    def version_dir(self, model: str, version: str) -> Path:
        if "/" in version or version.startswith("."):
            raise ValueError(f"invalid version {version!r}")
        return self._model_dir(model) / version

    # --- save ----------------------------------------------------------------------------
    def save(
        self,
        model_obj: Any,
        model: str,
        *,
        metrics: Mapping[str, float],
        holdout_id: str | None = None,
        data_window: DataWindow | None = None,
        row_counts: Mapping[str, int] | None = None,
        manifest_sha256: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        code_version_override: str | None = None,
        now: datetime | None = None,
    ) -> ModelVersion:
        """Pickle `model_obj` as a new version of `model`; atomically (temp folder + rename).

        Args:
            metrics: evaluation on the holdout, e.g. {"ndcg_at_10": 0.31}; the gate reads these.
            holdout_id: identifies the holdout the metrics come from (e.g. a hash of its keys);
                the gate compares only scores from the same holdout.
            data_window, row_counts: what the model was trained on.
            manifest_sha256: `warehouse.dbtrun.manifest_sha256(target_dir)` of the dbt build read.
            parameters: the estimator's parameters (`get_params()`).
            run_id: the Prefect flow run id (or any run identifier) that trained the model.

        Returns the stored metadata. The champion is not touched: call `promote`.
        """
        model_dir = self._model_dir(model)
        model_dir.mkdir(parents=True, exist_ok=True)
        created = (now or datetime.now(UTC)).astimezone(UTC)
        payload = pickle.dumps(model_obj, protocol=pickle.HIGHEST_PROTOCOL)
        model_sha = hashlib.sha256(payload).hexdigest()
        version = f"{created.strftime('%Y%m%dT%H%M%S%fZ')}-{model_sha[:8]}"

        meta = ModelVersion(
            model=model,
            version=version,
            created_at=created.isoformat(),
            metrics={k: float(v) for k, v in metrics.items()},
            holdout_id=holdout_id,
            data_window=data_window or DataWindow(start=None, end=None),
            row_counts={k: int(v) for k, v in (row_counts or {}).items()},
            manifest_sha256=manifest_sha256,
            code_version=code_version_override or code_version(),
            parameters=json.loads(json.dumps(dict(parameters or {}), default=repr)),
            run_id=run_id,
            checksums={MODEL_FILE: model_sha},
        )
        final = model_dir / version
        if final.exists():
            raise RegistryError(f"version {meta.ref} already exists")
        tmp = model_dir / f"{_TMP_PREFIX}{version}.{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            _write_file(tmp / MODEL_FILE, payload)
            _write_file(
                tmp / METADATA_FILE,
                (json.dumps(meta.to_dict(), indent=2, sort_keys=True) + "\n").encode(),
            )
            _fsync_dir(tmp)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _fsync_dir(model_dir)
        log.info("saved model %s (%d bytes, sha256 %s)", meta.ref, len(payload), model_sha[:12])
        return meta

    # --- read ----------------------------------------------------------------------------
    def versions(self, model: str) -> list[str]:
        """Saved versions of `model`, oldest first (version names sort by creation time)."""
        model_dir = self._model_dir(model)
        if not model_dir.is_dir():
            return []
        return sorted(
            p.name
            for p in model_dir.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / METADATA_FILE).is_file()
        )

    def models(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME_RE.match(p.name))

    def metadata(self, model: str, version: str = "champion") -> ModelVersion:
        """Metadata of `version` (or of the current champion)."""
        if version == "champion":
            version = self.champion_version(model) or ""
            if not version:
                raise ModelNotFoundError(f"model {model!r} has no champion yet")
        path = self.version_dir(model, version) / METADATA_FILE
        if not path.is_file():
            raise ModelNotFoundError(f"no version {model}:{version} under {self.root}")
        return ModelVersion.from_dict(json.loads(path.read_text()))

    def verify(self, model: str, version: str = "champion") -> ModelVersion:
        """Recompute every recorded checksum; raise `ChecksumMismatchError` on any difference."""
        meta = self.metadata(model, version)
        folder = self.version_dir(model, meta.version)
        if MODEL_FILE not in meta.checksums:
            raise ChecksumMismatchError(f"{meta.ref}: no checksum recorded for {MODEL_FILE}")
        for name, expected in meta.checksums.items():
            path = folder / name
            if not path.is_file():
                raise ChecksumMismatchError(f"{meta.ref}: {name} is missing")
            actual = _sha256(path)
            if actual != expected:
                raise ChecksumMismatchError(
                    f"{meta.ref}: {name} sha256 {actual[:12]}… differs from the recorded "
                    f"{expected[:12]}…; refusing to unpickle it"
                )
        return meta

    def load(self, model: str, version: str = "champion") -> tuple[Any, ModelVersion]:
        """Verify checksums, then unpickle. Returns (estimator, metadata)."""
        meta = self.verify(model, version)
        data = (self.version_dir(model, meta.version) / MODEL_FILE).read_bytes()
        # Re-check the bytes actually read, so a swap between verify and read is caught too.
        if hashlib.sha256(data).hexdigest() != meta.checksums[MODEL_FILE]:
            raise ChecksumMismatchError(f"{meta.ref}: {MODEL_FILE} changed while loading")
        return pickle.loads(data), meta

    def find(self, model_version: str) -> ModelVersion:
        """Metadata for `<model>:<version>` or a bare version found under any model."""
        if ":" in model_version:
            model, version = model_version.split(":", 1)
            return self.metadata(model, version)
        for model in self.models():
            if model_version in self.versions(model):
                return self.metadata(model, model_version)
        raise ModelNotFoundError(f"no model version {model_version!r} under {self.root}")

    # --- champion --------------------------------------------------------------------------
    def champion_version(self, model: str) -> str | None:
        path = self._model_dir(model) / CHAMPION_FILE
        if not path.is_file():
            return None
        return json.loads(path.read_text())["version"]

    @contextmanager
    def _locked(self, model: str) -> Iterator[None]:
        """Serialise promotions of one model across processes (an advisory file lock), so two
        trainings finishing together cannot both compare against the same old champion."""
        model_dir = self._model_dir(model)
        model_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(model_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def promote(
        self,
        model: str,
        version: str,
        gate: PromotionGate,
        *,
        champion_score: float | None = None,
    ) -> PromotionDecision:
        """Move the champion pointer to `version` if it passes `gate` (under the model's lock)."""
        with self._locked(model):
            return self._promote(model, version, gate, champion_score=champion_score)

    def _promote(
        self,
        model: str,
        version: str,
        gate: PromotionGate,
        *,
        champion_score: float | None = None,
    ) -> PromotionDecision:
        """Move the champion pointer to `version` if it passes `gate`; otherwise leave it.

        Args:
            champion_score: the champion re-scored on the candidate's holdout. Needed only when the
                champion's recorded metrics come from a different holdout (PromotionError if not
                given then), because scores from different holdouts are not comparable.
        """
        candidate = self.verify(model, version)
        if gate.metric not in candidate.metrics:
            raise PromotionError(
                f"{candidate.ref} has no metric {gate.metric!r} (has {sorted(candidate.metrics)})"
            )
        cand_score = candidate.metrics[gate.metric]
        current = self.champion_version(model)
        champ_score: float | None = None
        if current is None:
            promoted, reason = True, "first version of this model: it becomes the champion"
        elif current == version:
            promoted, reason = True, "already the champion"
            champ_score = cand_score
        else:
            champion = self.metadata(model, current)
            if champion_score is not None:
                champ_score = float(champion_score)
            elif champion.holdout_id != candidate.holdout_id:
                raise PromotionError(
                    f"{candidate.ref} was scored on holdout {candidate.holdout_id!r} but the "
                    f"champion {champion.ref} on {champion.holdout_id!r}: pass champion_score "
                    "(the champion re-scored on the candidate's holdout)"
                )
            elif gate.metric not in champion.metrics:
                raise PromotionError(f"champion {champion.ref} has no metric {gate.metric!r}")
            else:
                champ_score = champion.metrics[gate.metric]
            if gate.higher_is_better:
                promoted = cand_score >= champ_score - gate.tolerance
                bound = f">= {champ_score:.6g} - {gate.tolerance:g}"
            else:
                promoted = cand_score <= champ_score + gate.tolerance
                bound = f"<= {champ_score:.6g} + {gate.tolerance:g}"
            verdict = "passes" if promoted else "fails"
            reason = f"{gate.metric} {cand_score:.6g} {verdict} the gate ({bound})"
        decision = PromotionDecision(
            model=model,
            candidate=candidate.ref,
            previous_champion=f"{model}:{current}" if current else None,
            promoted=promoted,
            metric=gate.metric,
            candidate_score=cand_score,
            champion_score=champ_score,
            reason=reason,
        )
        if promoted and current != version:
            _atomic_write_json(
                self._model_dir(model) / CHAMPION_FILE,
                {
                    "version": version,
                    "ref": candidate.ref,
                    "promoted_at": datetime.now(UTC).isoformat(),
                    "previous": current,
                    "metric": gate.metric,
                    "score": cand_score,
                },
            )
        log.info("promotion of %s: %s", candidate.ref, reason)
        return decision


def lineage_chain(registry: ModelRegistry, model_version: str) -> dict[str, Any]:
    """The chain behind a model version: run id → dbt manifest → code → data, for printing."""
    meta = registry.find(model_version)
    champion = registry.champion_version(meta.model)
    return {
        "kind": "model",
        "model_version": meta.ref,
        "is_champion": champion == meta.version,
        "run_id": meta.run_id,
        "manifest_sha256": meta.manifest_sha256,
        "code_version": meta.code_version,
        "created_at": meta.created_at,
        "data_window": asdict(meta.data_window),
        "row_counts": meta.row_counts,
        "metrics": meta.metrics,
        "holdout_id": meta.holdout_id,
        "path": str(registry.version_dir(meta.model, meta.version)),
    }
