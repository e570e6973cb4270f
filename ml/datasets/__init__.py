"""Public data sets (MovieLens, Netflix titles, the Hillstrom e-mail test): loaders, checksums.

Files are read in place from the real-data folder (`TASTEMAKER_DATA_DIR`); they are never
copied into the repository. The caller passes that folder in (ml/ reads no settings).
"""

from ml.datasets.fetch import FetchResult, fetch_dataset
from ml.datasets.hillstrom import (
    HILLSTROM_ARMS,
    HILLSTROM_CONTROL,
    load_hillstrom,
)
from ml.datasets.movielens import (
    load_items,
    load_ml1m_items,
    load_ml1m_ratings,
    load_ml1m_users,
    load_ml100k_items,
    load_ml100k_ratings,
    load_ml_latest_small_items,
    load_ml_latest_small_ratings,
    load_ratings,
)
from ml.datasets.netflix import load_netflix_titles
from ml.datasets.registry import (
    DATASETS,
    ChecksumMismatch,
    DatasetNotFound,
    DatasetSpec,
    get_spec,
)

__all__ = [
    "DATASETS",
    "HILLSTROM_ARMS",
    "HILLSTROM_CONTROL",
    "ChecksumMismatch",
    "DatasetNotFound",
    "DatasetSpec",
    "FetchResult",
    "fetch_dataset",
    "get_spec",
    "load_hillstrom",
    "load_items",
    "load_ml1m_items",
    "load_ml1m_ratings",
    "load_ml1m_users",
    "load_ml100k_items",
    "load_ml100k_ratings",
    "load_ml_latest_small_items",
    "load_ml_latest_small_ratings",
    "load_netflix_titles",
    "load_ratings",
]
