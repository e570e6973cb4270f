"""`tastemaker evaluate recommender` JSON shape and errors."""

from __future__ import annotations

import json

import pytest
from reco_helpers import real_data_dir
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


def test_missing_ml1m_ratings_is_a_clear_failure() -> None:
    data_dir = real_data_dir("ml-1m", "movies.dat")
    if (data_dir / "ml-1m" / "ratings.dat").exists():
        pytest.skip("ratings.dat is present here")
    result = runner.invoke(app, ["evaluate", "recommender", "--dataset", "movielens-1m"])
    assert result.exit_code == 1 and "ratings.dat not found" in result.output


@pytest.mark.integration
def test_evaluate_json_shape_rating_protocol() -> None:
    real_data_dir("ml-100k", "u.data")
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
    assert set(payload) == {"dataset", "protocol", "models"}
    assert payload["dataset"] == "movielens-100k"
    assert list(payload["models"]) == ["baseline_only"]
    assert payload["models"]["baseline_only"]["rmse"] == pytest.approx(0.944, abs=0.002)
