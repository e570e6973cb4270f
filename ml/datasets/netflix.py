"""The Netflix titles catalog (Kaggle, September 2021) in Tastemaker's titles contract.

The Kaggle file is comma-joined lists inside quoted fields and a free-text duration; the
content model wants the landing contract's shape instead (docs/data-contract.md, "titles"):
`title_id`, `title`, `kind` (movie|series), `genres`/`cast`/`country` pipe-separated, `director`,
`synopsis`, `release_year`, `runtime_minutes` (movies), `seasons` (series),
`maturity_rating`, `date_added`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ml.datasets.registry import require_file


def _pipe_list(values: pd.Series) -> pd.Series:
    """ "a, b ,c" → "a|b|c"; empty stays empty."""
    return values.fillna("").map(lambda s: "|".join(p.strip() for p in s.split(",") if p.strip()))


def load_netflix_titles(data_dir: Path | None) -> pd.DataFrame:
    """Read and normalise netflix_titles.csv (8,807 titles).

    Known quirk handled: in 3 rows the runtime ("74 min") sits in `rating` and `duration` is
    empty; it is moved to `runtime_minutes` and the rating left empty.
    """
    path = require_file(data_dir, "netflix-titles", "netflix_titles.csv")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    rating = raw["rating"].str.strip()
    duration = raw["duration"].str.strip()
    misplaced = rating.str.fullmatch(r"\d+ min") & (duration == "")
    duration = duration.where(~misplaced, rating)
    rating = rating.where(~misplaced, "")
    minutes = duration.str.extract(r"^(\d+) min$")[0].astype("Int64")
    seasons = duration.str.extract(r"^(\d+) Seasons?$")[0].astype("Int64")
    added = pd.to_datetime(raw["date_added"].str.strip(), format="%B %d, %Y", errors="coerce")
    return pd.DataFrame(
        {
            "title_id": raw["show_id"],
            "title": raw["title"],
            "kind": np.where(raw["type"] == "TV Show", "series", "movie"),
            "genres": _pipe_list(raw["listed_in"]),
            "director": _pipe_list(raw["director"]),
            "cast": _pipe_list(raw["cast"]),
            "country": _pipe_list(raw["country"]),
            "synopsis": raw["description"].fillna(""),
            "release_year": pd.to_numeric(raw["release_year"], errors="coerce").astype("Int64"),
            "runtime_minutes": minutes,
            "seasons": seasons,
            "maturity_rating": rating.replace("", pd.NA),
            "date_added": added.dt.date,
        }
    )
