"""Content model: similar titles share credits and genres; cold start scores unseen titles."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app
from ml.recommend.content import ContentModel, TitleNotFound

CATALOG = pd.DataFrame(
    {
        "title_id": ["a", "b", "c", "d"],
        "title": ["Space Wars", "Space Wars II", "Kitchen Duel", "Garden Hour"],
        "genres": ["Sci-Fi|Action", "Sci-Fi|Action", "Reality", "Reality|Home"],
        "cast": ["Ann Lee|Bo Park", "Ann Lee|Cy Moss", "Dee Fox", "Eve Ray"],
        "director": ["Jo Kim", "Jo Kim", "", ""],
        "synopsis": [
            "A pilot fights an empire among the stars.",
            "The pilot returns to fight the empire again.",
            "Chefs compete in a kitchen.",
            "Gardeners compete to grow a garden.",
        ],
    }
)


def test_sequel_is_most_similar_and_self_excluded() -> None:
    model = ContentModel(min_df=1).fit(CATALOG)
    table = model.similar("space wars", n=3)
    assert table["title_id"].tolist()[0] == "b"
    assert "a" not in table["title_id"].tolist()
    assert table["score"].is_monotonic_decreasing


def test_a_field_weight_changes_the_neighbours() -> None:
    # Without cast/director/synopsis, c and d only share the genre "Reality".
    genres_only = ContentModel(synopsis_weight=0, cast_weight=0, director_weight=0).fit(CATALOG)
    assert genres_only.similar("c", 1)["title_id"].item() == "d"
    scores = genres_only.similar("a", 3).set_index("title_id")["score"]
    assert scores["b"] == pytest.approx(1.0) and scores["c"] == 0.0


def test_profile_scores_for_cold_start() -> None:
    model = ContentModel(min_df=1).fit(CATALOG)
    scores = model.profile_scores(["a"], candidates=["b", "c", "zzz"])
    assert scores[0] > scores[1] >= 0 and scores[2] == 0
    assert not model.profile_scores(["unknown"]).any()


def test_unknown_title_suggests() -> None:
    model = ContentModel(min_df=1).fit(CATALOG)
    with pytest.raises(TitleNotFound, match="part of 2 titles; did you mean: Space Wars, Sp"):
        model.find("Space")  # two partial matches
    with pytest.raises(TitleNotFound, match=r"no title matches 'Kitchn Duell'; did you mean: Kit"):
        model.find("Kitchn Duell")  # a misspelling: no substring, closest by spelling
    with pytest.raises(TitleNotFound) as nothing:
        model.find("Zzyzx")
    assert "did you mean" not in str(nothing.value)


def test_cli_similar_without_the_data_set_says_how_to_get_it(tmp_path, monkeypatch) -> None:
    """A missing catalog is configuration (exit 2), and the hint is one that works: Kaggle's
    file cannot be fetched anonymously, so it says where to put a hand-downloaded copy."""
    monkeypatch.setenv("TASTEMAKER_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), "similar", "Narcos"])
    assert result.exit_code == 2, result.output
    assert str(tmp_path / "netflix_titles" / "netflix_titles.csv") in result.output
    assert "kaggle.com" in result.output and "datasets fetch" not in result.output


@pytest.mark.integration
def test_netflix_catalog_more_like_this(real_data) -> None:
    from ml.datasets import load_netflix_titles

    titles = load_netflix_titles(real_data("netflix_titles", "netflix_titles.csv").parent.parent)
    model = ContentModel().fit(titles)
    assert model.vectors_.shape[0] == 8807
    narcos = model.similar("Narcos", 5)["title"].tolist()
    assert "Narcos: Mexico" in narcos
    norms = np.sqrt(model.vectors_.multiply(model.vectors_).sum(axis=1))
    np.testing.assert_allclose(norms, 1.0)


@pytest.mark.integration
def test_cli_similar_netflix(real_data) -> None:
    real_data("netflix_titles", "netflix_titles.csv")  # skips without the real file
    runner = CliRunner()
    result = runner.invoke(app, ["similar", "The Irishman", "-n", "3", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["title"] == "The Irishman" and len(payload["similar"]) == 3
    missing = runner.invoke(app, ["similar", "No Such Title Anywhere 123"])
    assert missing.exit_code == 2 and "no title matches" in missing.output
    typo = runner.invoke(app, ["similar", "The Irishmn"])
    assert typo.exit_code == 2 and "did you mean: The Irishman" in typo.output
