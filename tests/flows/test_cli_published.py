"""Commands on a really published warehouse: the tiny world's dbt build, then the recommender's
own steps (read marts → evaluate → train and register → homepages → publish) without Prefect.

- `lineage <bare version>` lists the same published rows as `lineage recommender:<version>`;
- `recommend USER --html FILE` writes into an existing folder and never creates a missing one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.homes import publish_recommendations

runner = CliRunner()


@pytest.fixture(scope="module")
def published(tiny_warehouse, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A home whose ml.recommendations was published by the recommender steps (popularity
    ranker: the fastest to fit). Returns the home, the model reference and a known user."""
    out = publish_recommendations(
        tiny_warehouse, tmp_path_factory.mktemp("published") / "home", "popularity", "run-p1"
    )
    frame = out["frame"]
    user = str(frame.loc[frame["user_id"] != frame["user_id"].min(), "user_id"].iloc[0])
    return {**out, "user": user}


def _lineage(home: Path, target: str) -> dict:
    result = runner.invoke(app, ["--home", str(home), "lineage", target, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_bare_version_lists_the_same_published_rows(
    published: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASTEMAKER_HOME", str(published["home"]))  # restored after --home
    full = _lineage(published["home"], published["ref"])
    bare = _lineage(published["home"], published["version"])
    assert full["model_version"] == bare["model_version"] == published["ref"]
    assert full["published_rows"], "the full reference lists no rows"
    assert bare["published_rows"] == full["published_rows"]
    recs = [r for r in bare["published_rows"] if r["table"] == "ml.recommendations"]
    assert recs == [
        {
            "table": "ml.recommendations",
            "run_id": "run-p1",
            "dbt_manifest_sha256": full["manifest_sha256"],
            "rows": published["rows"],
        }
    ]
    # the champion alias resolves to the same version and rows
    champion = _lineage(published["home"], "recommender:champion")
    assert champion["published_rows"] == full["published_rows"]
    text = runner.invoke(app, ["--home", str(published["home"]), "lineage", published["version"]])
    assert text.exit_code == 0 and "ml.recommendations" in text.stdout


def test_bare_version_outside_the_registry_still_finds_rows(
    published: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows whose registry folder is gone (another machine's artifacts) are still found."""
    from monitoring.lineage import resolve
    from warehouse.lineage import read_published_runs
    from warehouse.settings import Settings

    chain = resolve(
        published["version"],
        reports_root=tmp_path / "reports",
        artifacts_root=tmp_path / "no-artifacts",
        manifest=None,
        published=read_published_runs(Settings(home=published["home"])),
    )
    assert chain["registry"] == "not found"
    assert [r["rows"] for r in chain["published_rows"]] == [published["rows"]]


def test_html_preview_is_written_into_an_existing_folder(
    published: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASTEMAKER_HOME", str(published["home"]))
    page = tmp_path / "page.html"
    result = runner.invoke(app, ["recommend", published["user"], "--html", str(page)])
    assert result.exit_code == 0, result.output
    assert page.is_file() and "<html" in page.read_text().lower()


def test_html_into_a_missing_folder_is_an_error_and_creates_nothing(
    published: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASTEMAKER_HOME", str(published["home"]))
    typo = tmp_path / "previwes" / "2026"
    result = runner.invoke(app, ["recommend", published["user"], "--html", str(typo / "p.html")])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(typo) in errors[0] and "does not exist" in errors[0]
    assert not (tmp_path / "previwes").exists()
    assert result.stdout == ""

    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    result = runner.invoke(app, ["recommend", published["user"], "--html", f"{a_file}/p.html"])
    assert result.exit_code == 2 and "is not a folder" in result.stderr
