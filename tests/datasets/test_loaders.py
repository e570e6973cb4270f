"""Loaders read the real public files in place (skipped when they are absent) and say clearly
where to put a missing file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.datasets import (
    DatasetNotFound,
    load_ml1m_items,
    load_ml1m_ratings,
    load_ml1m_users,
    load_ml100k_items,
    load_ml100k_ratings,
    load_ml_latest_small_items,
    load_ml_latest_small_ratings,
    load_netflix_titles,
)


def test_ml100k_ratings_match_published_counts(real_data) -> None:
    real_data("ml-100k", "u.data")
    df = load_ml100k_ratings(real_data("ml-100k", "u.data").parent.parent)
    assert list(df.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert len(df) == 100_000
    assert df["user_id"].nunique() == 943
    assert df["item_id"].nunique() == 1682
    assert df["rating"].mean() == pytest.approx(3.52986)
    assert df.groupby("user_id").size().min() >= 20


def test_ml100k_items_decode_latin1_and_genre_flags(real_data) -> None:
    items = load_ml100k_items(real_data("ml-100k", "u.item").parent.parent)
    assert len(items) == 1682
    toy = items.set_index("item_id").loc[1]
    assert toy["title"] == "Toy Story (1995)"
    assert toy["genres"] == "Animation|Children's|Comedy"
    assert toy["year"] == 1995
    assert items["title"].str.contains("Misérables").any()
    assert items["year"].isna().sum() == 1  # the one blank release date


def test_ml1m_movies_and_users(real_data) -> None:
    data_dir = real_data("ml-1m", "movies.dat").parent.parent
    movies = load_ml1m_items(data_dir)
    users = load_ml1m_users(data_dir)
    assert len(movies) == 3883 and movies["item_id"].max() == 3952
    assert movies.loc[movies["item_id"] == 1, "year"].item() == 1995
    assert len(users) == 6040
    assert users["zip"].map(type).eq(str).all()


def test_ml1m_ratings_missing_says_where_to_put_it(tmp_path: Path) -> None:
    (tmp_path / "ml-1m").mkdir()
    with pytest.raises(DatasetNotFound) as info:
        load_ml1m_ratings(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "ml-1m" / "ratings.dat") in message
    assert "tastemaker datasets fetch movielens-1m" in message
    assert "movies.dat and users.dat only" in message


def test_no_data_dir_names_the_setting() -> None:
    with pytest.raises(DatasetNotFound, match="TASTEMAKER_DATA_DIR"):
        load_ml100k_ratings(None)


def test_no_data_dir_hint_works_for_a_data_set_without_a_download() -> None:
    """netflix-titles has no anonymous URL: the hint must not send people to `datasets fetch`
    (which then fails), but name the setting, the layout and where to download by hand."""
    from ml.datasets import load_netflix_titles

    with pytest.raises(DatasetNotFound) as info:
        load_netflix_titles(None)
    message = str(info.value)
    assert "TASTEMAKER_DATA_DIR" in message and "netflix_titles/netflix_titles.csv" in message
    assert "kaggle.com" in message and "datasets fetch" not in message


def test_ml_latest_small(real_data) -> None:
    data_dir = real_data("ml-latest-small", "ratings.csv").parent.parent
    ratings = load_ml_latest_small_ratings(data_dir)
    items = load_ml_latest_small_items(data_dir)
    assert len(ratings) == 100_836 and ratings["user_id"].nunique() == 610
    assert set(ratings["rating"].unique()) == {x / 2 for x in range(1, 11)}
    assert len(items) == 9742
    assert (items["genres"] == "").sum() == 34  # "(no genres listed)"


def test_netflix_titles_normalised_to_the_titles_contract(real_data) -> None:
    titles = load_netflix_titles(real_data("netflix_titles", "netflix_titles.csv").parent.parent)
    assert len(titles) == 8807 and titles["title_id"].is_unique
    assert titles["kind"].value_counts().to_dict() == {"movie": 6131, "series": 2676}
    # The 3 rows whose runtime sat in `rating` are repaired.
    assert titles["runtime_minutes"].notna().sum() == 6131
    assert not titles["maturity_rating"].dropna().str.endswith("min").any()
    blood = titles.set_index("title_id").loc["s2"]
    assert blood["genres"] == "International TV Shows|TV Dramas|TV Mysteries"
    assert blood["cast"].split("|")[0] == "Ama Qamata"
    assert blood["seasons"] == 2


def test_hillstrom_matches_its_source_counts(real_data) -> None:
    from ml.datasets import HILLSTROM_ARMS, load_hillstrom

    data_dir = real_data("hillstrom", "SOURCE.md").parent.parent
    df = load_hillstrom(data_dir)
    assert len(df) == 64_000 and len(df.columns) == 12
    assert df["segment"].value_counts().to_dict() == {
        "Womens E-Mail": 21387,
        "Mens E-Mail": 21307,
        "No E-Mail": 21306,
    }
    assert set(HILLSTROM_ARMS) == set(df["segment"])
    assert int(df["visit"].sum()) == 9394 and int(df["conversion"].sum()) == 578


def test_hillstrom_missing_says_where_to_put_it(tmp_path: Path) -> None:
    from ml.datasets import load_hillstrom

    with pytest.raises(DatasetNotFound) as info:
        load_hillstrom(tmp_path)
    assert str(tmp_path / "hillstrom") in str(info.value)
    with pytest.raises(DatasetNotFound, match="TASTEMAKER_DATA_DIR"):
        load_hillstrom(None)
