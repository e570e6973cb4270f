"""MovieLens loaders (GroupLens): ml-100k, ml-1m and ml-latest-small as tidy DataFrames.

Every ratings loader returns the same columns, so the evaluation harness treats the releases
alike: `user_id` (int), `item_id` (int), `rating` (float), `timestamp` (int, unix seconds).
Item tables return `item_id`, `title`, `genres` (pipe-separated), `year` (nullable int).
Rows keep file order: the Microsoft Recommenders split draws one random number per row in that
order, so keeping it is what makes our split the same as theirs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ml.datasets.registry import require_file

RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]

#: u.genre order: the 19 flag columns of u.item.
ML100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)


def _year_from_title(titles: pd.Series) -> pd.Series:
    return titles.str.extract(r"\((\d{4})\)\s*$")[0].astype("Int64")


def load_ml100k_ratings(data_dir: Path | None) -> pd.DataFrame:
    """All 100,000 ratings of ml-100k `u.data` (tab-separated, no header), in file order."""
    path = require_file(data_dir, "movielens-100k", "u.data")
    df = pd.read_csv(path, sep="\t", header=None, names=RATING_COLUMNS, dtype=np.int64)
    df["rating"] = df["rating"].astype(float)
    return df


def load_ml100k_items(data_dir: Path | None) -> pd.DataFrame:
    """ml-100k `u.item` (latin-1, `|`-separated): id, title, genres from the 19 flags, year."""
    path = require_file(data_dir, "movielens-100k", "u.item")
    names = ["item_id", "title", "release_date", "video_release_date", "imdb_url", *ML100K_GENRES]
    raw = pd.read_csv(path, sep="|", header=None, names=names, encoding="latin-1")
    flags = raw[list(ML100K_GENRES)].to_numpy(dtype=bool)
    genres = ["|".join(g for g, on in zip(ML100K_GENRES, row, strict=True) if on) for row in flags]
    release = pd.to_datetime(raw["release_date"], format="%d-%b-%Y", errors="coerce")
    return pd.DataFrame(
        {
            "item_id": raw["item_id"].astype(np.int64),
            "title": raw["title"].astype(str),
            "genres": genres,
            "year": release.dt.year.astype("Int64"),
        }
    )


def _read_dat(path: Path, names: list[str]) -> pd.DataFrame:
    # "::" is a multi-character separator: the python engine handles it; latin-1 per README.
    return pd.read_csv(
        path, sep="::", header=None, names=names, engine="python", encoding="latin-1"
    )


def load_ml1m_items(data_dir: Path | None) -> pd.DataFrame:
    """ml-1m `movies.dat`: MovieID::Title (Year)::Genres."""
    raw = _read_dat(
        require_file(data_dir, "movielens-1m", "movies.dat"), ["item_id", "title", "genres"]
    )
    raw["year"] = _year_from_title(raw["title"])
    return raw


def load_ml1m_users(data_dir: Path | None) -> pd.DataFrame:
    """ml-1m `users.dat`: UserID::Gender::Age bucket::Occupation code::Zip (zip kept as text)."""
    path = require_file(data_dir, "movielens-1m", "users.dat")
    raw = pd.read_csv(
        path,
        sep="::",
        header=None,
        names=["user_id", "gender", "age", "occupation", "zip"],
        engine="python",
        encoding="latin-1",
        dtype={"zip": str},
    )
    return raw


def load_ml1m_ratings(data_dir: Path | None) -> pd.DataFrame:
    """ml-1m `ratings.dat` (UserID::MovieID::Rating::Timestamp).

    The shared data folder does not hold this file (see ml-1m/SOURCE.md): this raises
    `DatasetNotFound` with how to obtain it, rather than evaluating on a partial data set.
    """
    path = require_file(data_dir, "movielens-1m", "ratings.dat")
    df = _read_dat(path, RATING_COLUMNS)
    df["rating"] = df["rating"].astype(float)
    return df


def load_ml_latest_small_ratings(data_dir: Path | None) -> pd.DataFrame:
    """ml-latest-small `ratings.csv` (half-star ratings 0.5–5.0, 100,836 rows)."""
    path = require_file(data_dir, "movielens-latest-small", "ratings.csv")
    df = pd.read_csv(path)
    df = df.rename(columns={"userId": "user_id", "movieId": "item_id"})
    return df[RATING_COLUMNS].astype({"user_id": np.int64, "item_id": np.int64, "rating": float})


def load_ml_latest_small_items(data_dir: Path | None) -> pd.DataFrame:
    """ml-latest-small `movies.csv`; "(no genres listed)" becomes an empty genre string."""
    path = require_file(data_dir, "movielens-latest-small", "movies.csv")
    df = pd.read_csv(path).rename(columns={"movieId": "item_id"})
    df["genres"] = df["genres"].replace("(no genres listed)", "")
    df["year"] = _year_from_title(df["title"])
    return df[["item_id", "title", "genres", "year"]]


RATINGS_LOADERS = {
    "movielens-100k": load_ml100k_ratings,
    "movielens-1m": load_ml1m_ratings,
    "movielens-latest-small": load_ml_latest_small_ratings,
}
ITEMS_LOADERS = {
    "movielens-100k": load_ml100k_items,
    "movielens-1m": load_ml1m_items,
    "movielens-latest-small": load_ml_latest_small_items,
}


def load_ratings(name: str, data_dir: Path | None) -> pd.DataFrame:
    """Ratings of a MovieLens release by its data set name (`movielens-100k`, ...)."""
    try:
        loader = RATINGS_LOADERS[name]
    except KeyError:
        raise KeyError(
            f"no ratings loader for {name!r}; known: {sorted(RATINGS_LOADERS)}"
        ) from None
    return loader(data_dir)


def load_items(name: str, data_dir: Path | None) -> pd.DataFrame:
    """Items (id, title, genres, year) of a MovieLens release by its data set name."""
    return ITEMS_LOADERS[name](data_dir)
