"""`tastemaker lineage <model_version|report>`: the chain from a figure back to its sources.

A drift report's JSON summary and a model's `metadata.json` both carry the lineage keys (run id,
model version, dbt manifest hash, code version). Given either, this module assembles the chain
and says whether the dbt build it names is still the current one, so a person can tell whether a
figure in an email was computed on the data that is in the warehouse now.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


class LineageNotFoundError(LookupError):
    """Neither a report nor a model version matches the given reference."""


def _report_json(target: str, reports_root: Path) -> Path | None:
    """A report given as a path (.json or .html) or as its id `<date>/<stem>`."""
    candidates = [Path(target), reports_root / target]
    for base in candidates:
        for path in (base, base.with_suffix(".json")):
            if path.suffix == ".json" and path.is_file():
                return path
    return None


def report_lineage(path: Path, manifest: Path | None) -> dict[str, Any]:
    """The lineage chain recorded in a drift report's JSON summary."""
    data = json.loads(path.read_text())
    lineage = data.get("lineage", {})
    recorded = lineage.get("manifest_sha256")
    current = hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest else None
    return {
        "kind": "report",
        "report_id": data.get("report_id"),
        "dataset": data.get("dataset"),
        "created_at": data.get("created_at"),
        "status": data.get("status"),
        "run_id": lineage.get("run_id"),
        "model_version": lineage.get("model_version"),
        "manifest_sha256": recorded,
        "dbt_build_is_current": (recorded == current) if recorded and current else None,
        "reference_window": data.get("reference_window"),
        "current_window": data.get("current_window"),
        "report_html": data.get("html_path"),
        "report_json": str(path),
    }


def resolve(
    target: str, *, reports_root: Path, artifacts_root: Path, manifest: Path | None
) -> dict[str, Any]:
    """Lineage of `target`: a report (path or id) first, else a model version in the registry."""
    found = _report_json(target, reports_root)
    if found is not None:
        return report_lineage(found, manifest)
    from ml.registry import ModelNotFoundError, ModelRegistry, lineage_chain

    try:
        chain = lineage_chain(ModelRegistry(artifacts_root), target)
    except (ModelNotFoundError, ValueError) as exc:
        raise LineageNotFoundError(
            f"{target!r} is neither a report under {reports_root} nor a model version under "
            f"{artifacts_root}"
        ) from exc
    current = hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest else None
    recorded = chain.get("manifest_sha256")
    chain["dbt_build_is_current"] = (recorded == current) if recorded and current else None
    return chain
