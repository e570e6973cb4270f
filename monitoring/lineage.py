"""`tastemaker lineage <model_version|report>`: the chain from a figure back to its sources.

A report's JSON summary (data drift, churn prediction drift, recommendation quality) and a
model's `metadata.json` both carry the lineage keys (run id, model version, dbt manifest hash,
code version). Given either, this module assembles the chain and says whether the dbt build it
names is still the current one, so a person can tell whether a figure in an email was computed
on the data that is in the warehouse now.

Published rows close the loop: every `ml.*` row carries `run_id, model_version,
dbt_manifest_sha256` (warehouse/publish.py). Given a model version, `published_rows` finds
the tables and runs that published it, so a report that names a model version leads to the
flow run that wrote the scores it judged. The warehouse is read by the data layer
(`warehouse.lineage.read_published_runs`); this module takes that frame and opens no file.
"""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import pandas as pd

#: lineage keys shown at the top level of a chain; the others are listed under "published"
_TOP_KEYS = {"run_id", "manifest_sha256", "model_version", "report_id"}


def report_url(base_url: str | None, path: str | Path | None) -> str | None:
    """The URL of a report file when the reports folder is served at `base_url`, else None.

    Reports are written as `<reports>/<date>/<file>` (drift, prediction drift, recommendation
    quality), so with `<reports>/` served at `base_url` a report is at `<base_url>/<date>/<file>`.
    A `file://` URL is never made: browsers refuse to open one from an http(s) page such as the
    Prefect UI or webmail, so without a base URL the caller names the path instead
    (`report_location`)."""
    if not base_url or not path:
        return None
    p = Path(path)
    return f"{base_url.rstrip('/')}/{quote(p.parent.name)}/{quote(p.name)}"


def report_location(base_url: str | None, path: str | Path | None) -> str | None:
    """Where a person opens a report: its URL when reports are served, else its path and the
    machine it is on (`/srv/.tastemaker/reports/2026-06-03/x.html on host etl-1`)."""
    if not path:
        return None
    return report_url(base_url, path) or f"{path} on host {socket.gethostname()}"


def report_links_markdown(
    base_url: str | None, html_path: str | None, json_path: str | None
) -> list[str]:
    r"""Markdown list items for a Prefect artifact: `- report: [name](url)` when reports are
    served, else `- report: \`path\` on host h`."""
    lines = []
    for label, path in (("report", html_path), ("summary", json_path)):
        url = report_url(base_url, path)
        if url:
            lines.append(f"- {label}: [{Path(str(path)).name}]({url})")
        elif path:
            lines.append(f"- {label}: `{report_location(None, path)}`")
    return lines


def _one_or_all(frame: pd.DataFrame, column: str) -> Any:
    """The value of a lineage column: one value, a sorted list when rows disagree, or None."""
    if column not in frame.columns:
        return None
    values = sorted({str(v) for v in frame[column].dropna().unique()})
    return values[0] if len(values) == 1 else (values or None)


def published_lineage(frame: pd.DataFrame) -> dict[str, Any]:
    """The lineage columns that `warehouse.publish` stamps on every ml.* row, as a report's
    window names them (so a report on published rows leads back to the run that wrote them)."""
    return {
        "model_version": _one_or_all(frame, "model_version"),
        "run_id": _one_or_all(frame, "run_id"),
        "dbt_manifest_sha256": _one_or_all(frame, "dbt_manifest_sha256"),
    }


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
        "report_kind": "recommendation quality" if "metrics" in data else "drift",
        "dataset": data.get("dataset"),
        "created_at": data.get("created_at"),
        "status": data.get("status"),
        "run_id": lineage.get("run_id"),
        "model_version": lineage.get("model_version"),
        "manifest_sha256": recorded,
        "dbt_build_is_current": (recorded == current) if recorded and current else None,
        "reference_window": data.get("reference_window"),
        "current_window": data.get("current_window"),
        "published": {k: v for k, v in lineage.items() if k not in _TOP_KEYS},
        # absolute, like report_html: a relative path (as typed) means nothing elsewhere
        "report_html": data.get("html_path"),
        "report_json": str(Path(path).resolve()),
    }


def published_rows(runs: pd.DataFrame | None, model_version: str) -> list[dict[str, Any]]:
    """Which `ml.*` tables hold rows of `model_version`, written by which runs and dbt builds.

    `runs` is `warehouse.lineage.read_published_runs` (rows per table, model version, run and
    build; None or empty when the warehouse could not be read: then []). Published rows carry
    the full reference `<model>:<version>`; a bare `<version>` (what the registry's folders and
    many log lines show) matches the rows of that version under any model, so both spellings
    list the same rows."""
    import pandas as pd

    if runs is None or runs.empty:
        return []
    versions = runs["model_version"].astype("string")
    match = versions == model_version
    if ":" not in model_version:
        match |= versions.str.endswith(":" + model_version)
    found = (
        runs[match.fillna(False).astype(bool)]
        .groupby(["table", "run_id", "dbt_manifest_sha256"], dropna=False, sort=True)["rows"]
        .sum()
        .reset_index()
    )

    def plain(value: Any) -> Any:
        return None if pd.isna(value) else value

    return [
        {
            "table": row.table,
            "run_id": plain(row.run_id),
            "dbt_manifest_sha256": plain(row.dbt_manifest_sha256),
            "rows": int(row.rows),
        }
        for row in found.itertuples(index=False)
    ]


def resolve(
    target: str,
    *,
    reports_root: Path,
    artifacts_root: Path,
    manifest: Path | None,
    published: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Lineage of `target`: a report (path or id) first, else a model version (in the registry
    or in the published `ml.*` rows counted in `published`, the frame of
    `warehouse.lineage.read_published_runs`; None: no rows known)."""
    found = _report_json(target, reports_root)
    if found is not None:
        chain = report_lineage(found, manifest)
        if chain.get("model_version"):
            chain["published_rows"] = published_rows(published, str(chain["model_version"]))
        return chain
    from ml.registry import ModelNotFoundError, ModelRegistry, lineage_chain

    try:
        chain = lineage_chain(ModelRegistry(artifacts_root), target)
    except (ModelNotFoundError, ValueError) as exc:
        rows = published_rows(published, target)
        if not rows:
            raise LineageNotFoundError(
                f"{target!r} is neither a report under {reports_root} nor a model version "
                f"under {artifacts_root} or in the warehouse's ml.* tables"
            ) from exc
        chain = {"kind": "model", "model_version": target, "registry": "not found"}
        chain["run_id"] = rows[0]["run_id"] if len({r["run_id"] for r in rows}) == 1 else None
        hashes = {r["dbt_manifest_sha256"] for r in rows}
        chain["manifest_sha256"] = hashes.pop() if len(hashes) == 1 else None
    else:
        # The registry resolved the target (a bare version, or `<model>:champion`) to the full
        # reference the published rows carry.
        rows = published_rows(published, str(chain["model_version"]))
    chain["published_rows"] = rows
    current = hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest else None
    recorded = chain.get("manifest_sha256")
    chain["dbt_build_is_current"] = (recorded == current) if recorded and current else None
    return chain
