"""`dbt docs generate` works on the built project, and the catalog documents every mart column."""

from __future__ import annotations

import json

import pytest
from dbtkit import MARTS, run_dbt

pytestmark = pytest.mark.slow


def test_docs_generate_writes_a_catalog_with_described_marts(built_project, tmp_path) -> None:
    run = run_dbt(["docs", "generate"], db_path=built_project.db_path, work_dir=tmp_path)
    assert run.returncode == 0, run.output[-3000:]
    target = tmp_path / "target"
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    for mart in MARTS:
        key = f"model.tastemaker.{mart}"
        assert key in catalog["nodes"], f"{mart} missing from the docs catalog"
        node = manifest["nodes"][key]
        assert node["description"].strip(), f"{mart} has no description"
        undocumented = [c for c, v in node["columns"].items() if not v["description"].strip()]
        assert not undocumented, f"{mart} columns without description: {undocumented}"
        assert set(catalog["nodes"][key]["columns"]) == set(node["columns"])
