"""Reading one published homepage (`tastemaker recommend`): titles from title_catalog, scores on
one scale per row with what they mean, and a read that imports no heavy library.

The warehouse here is a real DuckDB file holding the published table and the marts the reader
joins, written with a few rows by hand (the full pipeline's version is tests/flows/
test_cli_published.py, marked slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.cli import app
from ml.recommend.rows import ANONYMOUS_USER, POPULAR_ROW_TITLE, relative_scores, score_meaning
from warehouse.homepage import load_homepage
from warehouse.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute("create schema ml")
    con.execute(
        "create table ml.recommendations (user_id varchar, row_position bigint, row_name varchar,"
        " row_title varchar, rank bigint, title_id varchar, score double, model_version varchar)"
    )
    rows = [
        ("u1", 1, "top_picks", "Top Picks for You", 1, "t1", 0.8, "recommender:v1"),
        ("u1", 1, "top_picks", "Top Picks for You", 2, "t2", 0.2, "recommender:v1"),
        ("u1", 2, "because_you_watched", "Because You Watched X", 1, "t3", 0.5, "recommender:v1"),
        (ANONYMOUS_USER, 1, "top_picks", POPULAR_ROW_TITLE, 1, "t2", 1305.0, "recommender:v1"),
        (ANONYMOUS_USER, 1, "top_picks", POPULAR_ROW_TITLE, 2, "t1", 652.5, "recommender:v1"),
        (ANONYMOUS_USER, 1, "top_picks", POPULAR_ROW_TITLE, 3, "t3", 0.0, "recommender:v1"),
    ]
    con.executemany("insert into ml.recommendations values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute(
        "create table title_catalog as select * from (values "
        "('t1', 'Space Wars', 'movie', 'Sci-Fi', 120), ('t2', 'Kitchen Duel', 'series', "
        "'Reality', 30), ('t3', 'Garden Hour', 'series', 'Reality|Home', 25)) "
        "v(title_id, title_name, kind, genres, runtime_minutes)"
    )
    # viewing statistics per title: the wrong source of card titles (names deliberately differ)
    con.execute(
        "create table title_features as select title_id, 'stats of ' || title_id as title_name "
        "from title_catalog"
    )
    con.execute("create table user_features as select 'u2' as user_id")
    con.close()
    return home


def test_relative_scores_put_each_row_on_one_scale() -> None:
    assert relative_scores([1305.0, 652.5, 0.0]) == [1.0, 0.5, 0.0]
    assert relative_scores([0.8, 0.2]) == pytest.approx([1.0, 0.25])
    assert relative_scores([0.5, -0.5]) == [1.0, 0.0]  # negative model scores: lowest is 0
    assert relative_scores([0.3, 0.3]) == [1.0, 1.0] and relative_scores([]) == []
    assert score_meaning("top_picks", POPULAR_ROW_TITLE) == "viewers of the title, all time"
    assert score_meaning("because_you_watched_2", "x") == score_meaning("because_you_watched")


def test_cards_take_titles_from_the_catalog_and_rows_say_what_scores_mean(home: Path) -> None:
    page = load_homepage(Settings(home=home), "u1")
    assert page["shown_as"] == "u1" and page["model_version"] == "recommender:v1"
    picks, because = page["rows"]
    assert [t["title"] for t in picks["titles"]] == ["Space Wars", "Kitchen Duel"]
    assert picks["titles"][1]["genres"] == "Reality" and picks["titles"][1]["runtime_minutes"] == 30
    assert [t["relative_score"] for t in picks["titles"]] == [1.0, 0.25]
    assert picks["score_meaning"] == score_meaning("top_picks")
    assert because["titles"][0]["relative_score"] == 1.0

    unknown = load_homepage(Settings(home=home), "u9")
    assert unknown["shown_as"] == ANONYMOUS_USER and unknown["known_user"] is False
    assert load_homepage(Settings(home=home), "u2")["known_user"] is True
    (popular,) = unknown["rows"]
    assert popular["score_meaning"] == "viewers of the title, all time"
    assert [t["score"] for t in popular["titles"]] == [1305.0, 652.5, 0.0]  # raw, in --json
    assert [t["relative_score"] for t in popular["titles"]] == [1.0, 0.5, 0.0]


def test_cli_prints_one_scale_per_row_and_labels_it(home: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--home", str(home), "recommend", "nobody"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "relative to the best in its row (1.00)" in out
    assert f"{POPULAR_ROW_TITLE}  (ranked by viewers of the title, all time)" in out
    assert "1305" not in out  # the raw count stays in --json
    assert [line.split()[-1] for line in out.strip().splitlines()[-3:]] == ["1.00", "0.50", "0.00"]
    as_json = runner.invoke(app, ["--home", str(home), "recommend", "u1", "--json"])
    as_json = json.loads(as_json.stdout)
    assert as_json["rows"][0]["titles"][0]["score"] == 0.8


def test_reading_a_homepage_imports_no_heavy_library(home: Path) -> None:
    """`tastemaker recommend` answers in well under a second only if it does not import
    Prefect, pandas, scikit-learn or SciPy (seconds, for a query of milliseconds; the timing
    itself is bench/recommend_cli.py's job)."""
    probe = (
        "import runpy, sys\n"
        f"sys.argv = ['tastemaker', '--home', {str(home)!r}, 'recommend', 'u1']\n"
        "try:\n    runpy.run_module('flows.cli', run_name='__main__')\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(sorted(m for m in ('prefect', 'pandas', 'sklearn', 'scipy') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "Space Wars" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout
