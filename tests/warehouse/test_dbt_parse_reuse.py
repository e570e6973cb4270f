"""dbt parses the project once per process (`warehouse.dbtrun._parsed_project`), and later
invocations start from that parse whatever their vars. That is only right while no var shapes
the parse itself (a `config()` or dbt_project.yml reading a var would be frozen at its first
value), so the first test holds the project to it and the others check what reuse must keep:
other vars reach the SQL and the test arguments, bad vars are still named, and every target/
still gets a manifest.json for lineage.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from tests.homes import clone_home
from warehouse import dbtrun
from warehouse.dbtrun import DbtInvocationError, manifest_sha256, run_dbt
from warehouse.settings import Settings

PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"


def test_no_var_is_read_where_dbt_parses() -> None:
    """Vars may appear in SQL bodies and test arguments (rendered when a node runs), never in
    dbt_project.yml or a model's config block (rendered when the project is parsed)."""
    assert "var(" not in (PROJECT / "dbt_project.yml").read_text()
    config_block = re.compile(r"\{\{\s*config\((.*?)\)\s*\}\}", re.S)
    offenders = [
        str(path.relative_to(PROJECT))
        for path in PROJECT.rglob("*.sql")
        if "target" not in path.parts
        for block in config_block.findall(path.read_text())
        if "var(" in block
    ]
    assert offenders == []


def _windows(db_path: Path) -> set[int]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        rows = con.execute(
            "select distinct datediff('day', window_start, window_end) from user_feature_windows"
        ).fetchall()
    finally:
        con.close()
    return {int(days) for (days,) in rows}


@pytest.mark.slow
def test_a_reused_parse_builds_with_the_invocations_own_vars(
    tiny_warehouse, tmp_path: Path
) -> None:
    first = Settings(home=clone_home(tiny_warehouse, tmp_path / "first"))
    second = Settings(home=clone_home(tiny_warehouse, tmp_path / "second"))
    dbtrun._PARSED.clear()

    warm = run_dbt(first, "run", select="user_feature_windows")
    assert warm.success and _windows(first.warehouse_path) == {28}
    assert len(dbtrun._PARSED) == 1
    # The second home starts from the first's parse, with other vars: its SQL and its tests
    # (the bounds test's argument reads drift_window_days) see 14 days, not the parse's 28.
    other = run_dbt(
        second, "build", select="user_feature_windows", dbt_vars={"drift_window_days": 14}
    )
    assert len(dbtrun._PARSED) == 1
    assert other.success and not other.failed, [(n.unique_id, n.message) for n in other.failures]
    assert any("bounds_span_the_window_length" in n.unique_id for n in other.nodes)
    assert _windows(second.warehouse_path) == {14}
    # Lineage: the reusing invocation still writes its own manifest.json for the hash.
    assert other.manifest_sha256 is not None
    assert manifest_sha256(Path(other.target_dir)) == other.manifest_sha256


@pytest.mark.slow
def test_a_bad_var_is_still_named_when_the_parse_is_reused(tiny_warehouse, tmp_path) -> None:
    """Without a parse the var is checked when its SQL compiles: `compile` stops with the var
    named, and `run` fails the node with the same message (nothing is built)."""
    settings = Settings(home=clone_home(tiny_warehouse, tmp_path / "home"))
    run_dbt(settings, "compile", select="user_feature_windows")
    assert dbtrun._PARSED
    bad = {"drift_window_days": "four"}
    named = r"var drift_window_days must be .* got 'four'"
    with pytest.raises(DbtInvocationError, match=named):
        run_dbt(settings, "compile", select="user_feature_windows", dbt_vars=bad)
    result = run_dbt(settings, "run", select="user_feature_windows", dbt_vars=bad)
    assert not result.success and result.failed
    assert any(re.search(named, n.message or "") for n in result.failures)
