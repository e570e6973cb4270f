"""The layers import in one direction: flows → warehouse, ml, monitoring; nothing imports flows;
warehouse, ml and monitoring never import Prefect.

Read from the source (every `import` and `from … import`, including those inside functions), so
a lazy import cannot hide a wrong dependency, and no module has to be imported to check.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: package → top-level names it must never import
FORBIDDEN = {
    "warehouse": {"prefect", "prefect_dbt", "flows"},
    "ml": {"prefect", "prefect_dbt", "flows"},
    # a library of frames in, frames out: the data layer reads the warehouse for it
    "monitoring": {"prefect", "prefect_dbt", "flows", "duckdb", "warehouse"},
    # the steps the flows, the CLI and the tests share: plain functions, no Prefect
    "flows/steps": {"prefect", "prefect_dbt"},
}


def imported_top_levels(path: Path) -> set[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[tuple[str, int]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {(alias.name.split(".")[0], node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add((node.module.split(".")[0], node.lineno))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_nothing_above_it(package: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name, line in sorted(imported_top_levels(path))
        if name in FORBIDDEN[package]
    ]
    assert not offenders, "\n".join(offenders)


def test_the_checker_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from prefect import flow\n    import flows.cli\n")
    assert imported_top_levels(module) == {("prefect", 2), ("flows", 3)}
