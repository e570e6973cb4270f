"""`tastemaker evaluate recommender` JSON shape and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    "args", [["evaluate", "recommender"], ["datasets", "fetch"], ["similar"], ["datasets", "list"]]
)
def test_help(args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_unknown_dataset_is_a_bad_input() -> None:
    result = runner.invoke(app, ["evaluate", "recommender", "--dataset", "nope"])
    assert result.exit_code == 2 and "unknown data set" in result.output


def test_missing_ml1m_ratings_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A data set file not where the settings point is configuration: exit 2, saying where.
    (A folder of its own with ml-1m's movies but no ratings, as the shared folder has, so the
    test runs whatever the real folder holds.)"""
    (tmp_path / "ml-1m").mkdir()
    (tmp_path / "ml-1m" / "movies.dat").write_text("1::Toy Story (1995)::Animation\n")
    monkeypatch.setenv("TASTEMAKER_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["evaluate", "recommender", "--dataset", "movielens-1m"])
    assert result.exit_code == 2 and "ratings.dat not found" in result.output


@pytest.mark.integration
def test_evaluate_json_shape_rating_protocol(real_data) -> None:
    real_data("ml-100k", "u.data")  # skips without the real file
    result = runner.invoke(
        app,
        [
            "evaluate",
            "recommender",
            "--dataset",
            "movielens-100k",
            "--protocol",
            "rating",
            "--models",
            "baseline_only",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"dataset", "protocol", "models", "resources"}
    assert payload["resources"]["peak_rss_mb"] > 0 and payload["resources"]["wall_seconds"] > 0
    assert payload["dataset"] == "movielens-100k"
    assert list(payload["models"]) == ["baseline_only"]
    assert payload["models"]["baseline_only"]["rmse"] == pytest.approx(0.944, abs=0.002)

    args = ["evaluate", "recommender", "--dataset", "movielens-100k", "--protocol", "rating"]
    text = runner.invoke(app, [*args, "--models", "baseline_only"])
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[:2] == ["movielens-100k", "rating protocol:"]  # readable, not one JSON line
    assert "  cv: 5-fold surprise KFold(random_state=0), same folds for every model" in lines
    assert "n/a" in text.stdout and "-  " not in text.stdout
    assert lines[-1] == (
        "ranking metrics for baseline_only: n/a: the ranking protocol did not run "
        "(--protocol all or ranking runs it)"
    )


# --- tastemaker recommend USER_ID ---------------------------------------------------------


@pytest.fixture(scope="module")
def published_home(tiny_warehouse, tmp_path_factory):
    """A copy of the tiny warehouse with ml.recommendations published by the flow's plain steps
    (no Prefect), and one title renamed to carry markup."""
    import duckdb

    from tests.homes import publish_recommendations

    out = publish_recommendations(
        tiny_warehouse, tmp_path_factory.mktemp("published") / "home", "item_knn", "test-run"
    )
    home, frame = out["home"], out["frame"]
    user = sorted(u for u in frame["user_id"].unique() if u.startswith("u"))[0]
    top = frame[(frame["user_id"] == user) & (frame["row_position"] == 1)].iloc[0]["title_id"]
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    try:
        # cards take their titles from title_catalog (the catalogue), not title_features
        con.execute(
            "update title_catalog set title_name = ? where title_id = ?",
            ["<script>alert('x')</script> & Friends", top],
        )
    finally:
        con.close()
    return home, user, frame


def test_recommend_help_says_what_unknown_users_get() -> None:
    result = runner.invoke(app, ["recommend", "--help"])
    text = " ".join(result.output.replace("│", " ").split())  # undo rich's wrapping
    assert result.exit_code == 0 and "homepage for new visitors" in text


@pytest.mark.slow  # the session's tiny warehouse (dbt build)
def test_recommend_json_is_the_published_homepage(published_home, monkeypatch) -> None:
    home, user, frame = published_home
    monkeypatch.setenv("TASTEMAKER_HOME", str(home))
    result = runner.invoke(app, ["recommend", user, "--json"])
    assert result.exit_code == 0, result.output
    page = json.loads(result.stdout)
    assert page["user_id"] == page["shown_as"] == user and page["known_user"]
    mine = frame[frame["user_id"] == user]
    assert [r["position"] for r in page["rows"]] == list(range(1, mine["row_name"].nunique() + 1))
    got = [(r["row_title"], t["title_id"]) for r in page["rows"] for t in r["titles"]]
    assert got == list(zip(mine["row_title"], mine["title_id"], strict=True))
    assert page["model_version"].startswith("recommender:")
    assert all(t["title"] for r in page["rows"] for t in r["titles"])


@pytest.mark.slow  # the session's tiny warehouse (dbt build)
def test_recommend_text_and_escaped_html(published_home, monkeypatch, tmp_path) -> None:
    home, user, _ = published_home
    monkeypatch.setenv("TASTEMAKER_HOME", str(home))
    out = tmp_path / "home.html"
    result = runner.invoke(app, ["recommend", user, "--html", str(out)])
    assert result.exit_code == 0, result.output
    assert f"Homepage for {user}" in result.stdout and "1. " in result.stdout
    html = out.read_text()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Friends" in html
    assert html.count("<section>") >= 4 and html.count("class='card'") >= 20


@pytest.mark.slow  # the session's tiny warehouse (dbt build)
def test_unknown_user_gets_the_new_visitor_homepage(published_home, monkeypatch) -> None:
    home = published_home[0]
    monkeypatch.setenv("TASTEMAKER_HOME", str(home))
    result = runner.invoke(app, ["recommend", "u999999", "--json"])
    assert result.exit_code == 0, result.output
    page = json.loads(result.stdout)
    assert page["shown_as"] == "__anonymous__" and page["known_user"] is False
    assert "not a known user" in result.stderr
    names = {r["row_title"] for r in page["rows"]}
    assert {"Trending Now", "Popular on Tastemaker"} <= names
    assert not any(n.startswith(("Continue", "Because")) for n in names)


@pytest.mark.parametrize("bad", ["", "   ", "u1\x00", "x" * 200])
def test_bad_user_id_is_bad_input(bad: str) -> None:
    result = runner.invoke(app, ["recommend", bad])
    assert result.exit_code == 2 and "bad user id" in result.output


@pytest.mark.slow  # the session's tiny warehouse (dbt build)
def test_recommend_before_anything_ran(tiny_warehouse, tm_home, monkeypatch) -> None:
    import shutil

    result = runner.invoke(app, ["recommend", "u000001"])
    assert result.exit_code == 2
    assert "no warehouse" in result.output and "tastemaker run" in result.output
    tm_home.mkdir(parents=True)
    shutil.copyfile(tiny_warehouse.db_path, tm_home / "warehouse.duckdb")
    result = runner.invoke(app, ["recommend", "u000001"])
    assert result.exit_code == 2
    assert "no recommendations yet" in result.output
    assert "tastemaker train recommender" in result.output


@pytest.mark.parametrize("args", [["recommend"], ["train", "recommender"]])
def test_new_commands_have_help(args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
