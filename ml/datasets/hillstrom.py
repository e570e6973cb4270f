"""Kevin Hillstrom's MineThatData e-mail test (2008): a real randomized experiment.

64,000 customers who bought within the last twelve months were randomly split into thirds: a
Mens e-mail, a Womens e-mail, and no e-mail (`segment`, the arm). Outcomes were tracked for
two weeks after the send: `visit`, `conversion`, `spend`. Everything else describes the
customer *before* the send (`recency`, `history`, `history_segment`, `mens`, `womens`,
`zip_code`, `newbie`, `channel`), so it is pre-treatment and may be used for variance
reduction or segments without biasing the effect. Read in place from the data folder
(SOURCE.md in `hillstrom/` records its provenance and checksum).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pandas as pd

from ml.datasets.registry import get_spec, require_file

HILLSTROM: Final = "hillstrom"
HILLSTROM_CSV: Final[str] = get_spec(HILLSTROM).files[0].name
#: The arms as the file spells them; the control first.
HILLSTROM_CONTROL: Final = "No E-Mail"
HILLSTROM_ARMS: Final[tuple[str, ...]] = (HILLSTROM_CONTROL, "Mens E-Mail", "Womens E-Mail")
#: Measured before the e-mail went out (safe as CUPED covariates or segments).
HILLSTROM_PRE_TREATMENT: Final[tuple[str, ...]] = (
    "recency",
    "history_segment",
    "history",
    "mens",
    "womens",
    "zip_code",
    "newbie",
    "channel",
)
HILLSTROM_OUTCOMES: Final[tuple[str, ...]] = ("visit", "conversion", "spend")


class HillstromFormatError(ValueError):
    """The file is not the published layout (a column or an arm is missing)."""


def read_hillstrom_csv(path: Path) -> pd.DataFrame:
    """Read one Hillstrom CSV and check its columns and arms; one row per customer."""
    df = pd.read_csv(path)
    missing = {*HILLSTROM_PRE_TREATMENT, "segment", *HILLSTROM_OUTCOMES} - set(df.columns)
    if missing:
        raise HillstromFormatError(f"{path}: lacks columns {sorted(missing)}")
    arms = set(df["segment"].unique())
    if arms != set(HILLSTROM_ARMS):
        raise HillstromFormatError(f"{path}: arms {sorted(arms)}, expected {HILLSTROM_ARMS}")
    return df


def load_hillstrom(data_dir: Path | None) -> pd.DataFrame:
    """The Hillstrom test from `<data_dir>/hillstrom/` as published (64,000 rows, 12 columns).

    Raises:
        DatasetNotFound: no data folder, or the file is not in it (the message says where).
    """
    return read_hillstrom_csv(require_file(data_dir, HILLSTROM, HILLSTROM_CSV))
