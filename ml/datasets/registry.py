"""Which public data sets Tastemaker knows, where their files live and how to verify them.

The checksums were recorded from copies checked against independent repositories (see each
data set's SOURCE.md in the shared data folder). A file is accepted when its sha256 matches;
for ml-1m's ratings.dat, which no verified copy here holds, the git blob id published in two
independent repositories is the reference (`git hash-object ratings.dat`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path


class DatasetNotFound(FileNotFoundError):
    """A data set (or one of its files) is not where Tastemaker looks for it."""


class ChecksumMismatch(ValueError):
    """A file is not the published one (an edited copy, a truncated download, another release)."""


@dataclass(frozen=True)
class FileCheck:
    """One file of a data set and the digest that identifies the published version."""

    name: str
    sha256: str | None = None
    git_blob: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """A data set: its folder under the data dir, its files, and the publisher's download."""

    name: str
    folder: str
    files: tuple[FileCheck, ...]
    url: str | None
    archive_prefix: str
    publisher_page: str
    notes: str = ""

    def path(self, data_dir: Path) -> Path:
        return Path(data_dir) / self.folder

    def check_for(self, name: str) -> FileCheck | None:
        return next((f for f in self.files if f.name == name), None)


GROUPLENS = "https://files.grouplens.org/datasets/movielens"

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="movielens-100k",
            folder="ml-100k",
            files=(
                FileCheck(
                    "u.data", "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"
                ),
                FileCheck(
                    "u.item", "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701"
                ),
                FileCheck(
                    "u.user", "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c"
                ),
                FileCheck(
                    "README", "4883b8cf340ed0059971b33f56ad3adc88a40792108ebca3d24aafc4c82e8b52"
                ),
            ),
            url=f"{GROUPLENS}/ml-100k.zip",
            archive_prefix="ml-100k/",
            publisher_page="https://grouplens.org/datasets/movielens/100k/",
        ),
        DatasetSpec(
            name="movielens-1m",
            folder="ml-1m",
            files=(
                FileCheck(
                    "movies.dat", "0140fc2356357c1a851d0f52e893a1e4d3696df632c4141cea8d5bc3d621f0b9"
                ),
                FileCheck(
                    "users.dat", "1dc3a95300cb19f7c10e027daf29b8cdf1d908dab65b5edfb45950aa389a10a3"
                ),
                FileCheck("ratings.dat", git_blob="77a7c4b150f588c23bb9e1f068aa996c0b413695"),
            ),
            url=f"{GROUPLENS}/ml-1m.zip",
            archive_prefix="ml-1m/",
            publisher_page="https://grouplens.org/datasets/movielens/1m/",
            notes="(The shared data folder holds movies.dat and users.dat only: ratings.dat, "
            "24.6 MB, could not be obtained there; fetching needs files.grouplens.org.)",
        ),
        DatasetSpec(
            name="movielens-latest-small",
            folder="ml-latest-small",
            files=(
                FileCheck(
                    "ratings.csv",
                    "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
                ),
                FileCheck(
                    "movies.csv", "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07"
                ),
                FileCheck(
                    "links.csv", "97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31"
                ),
                FileCheck(
                    "tags.csv", "92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d"
                ),
            ),
            url=f"{GROUPLENS}/ml-latest-small.zip",
            archive_prefix="ml-latest-small/",
            publisher_page="https://grouplens.org/datasets/movielens/latest/",
            notes="A development release that GroupLens may regenerate: a newer release fails "
            "the checksum on purpose, so results stay comparable.",
        ),
        DatasetSpec(
            name="netflix-titles",
            folder="netflix_titles",
            files=(
                FileCheck(
                    "netflix_titles.csv",
                    "df1f4ad2027a5a14c3a33932ef0d4054565ff88adf92b7f263601b70fdc6f3f3",
                ),
            ),
            url=None,
            archive_prefix="",
            publisher_page="https://www.kaggle.com/datasets/shivamb/netflix-shows",
            notes="Kaggle serves it only to signed-in users, so there is no anonymous publisher "
            "URL: download netflix_titles.csv (September 2021, 8,807 titles) by hand, or pass "
            "--url to a copy you trust; the sha256 is checked either way.",
        ),
        DatasetSpec(
            name="hillstrom",
            folder="hillstrom",
            files=(
                FileCheck(
                    "Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv",
                    "0e5893329d8b93cefecc571777672028290ab69865718020c78c7284f291aece",
                ),
            ),
            url="http://www.minethatdata.com/"
            "Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv",
            archive_prefix="",
            publisher_page="http://minethatdata.com/blog/",
            notes="Kevin Hillstrom's randomized e-mail test (MineThatData, 2008): 64,000 "
            "customers, one third each Mens e-mail, Womens e-mail, no e-mail.",
        ),
    )
}

ALIASES = {
    "ml-100k": "movielens-100k",
    "ml-1m": "movielens-1m",
    "ml-latest-small": "movielens-latest-small",
    "netflix": "netflix-titles",
    "netflix_titles": "netflix-titles",
}


def get_spec(name: str) -> DatasetSpec:
    """The spec for a data set name or alias (`movielens-100k`, `ml-100k`, ...)."""
    key = ALIASES.get(name, name)
    try:
        return DATASETS[key]
    except KeyError:
        known = ", ".join(sorted(DATASETS))
        raise KeyError(f"unknown data set {name!r}; known: {known}") from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_blob_of(path: Path) -> str:
    """Git's object id for a file: sha1 over `blob <size>\\0` followed by the bytes."""
    data = Path(path).read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def verify_file(path: Path, check: FileCheck) -> None:
    """Raise `ChecksumMismatch` unless `path` is the published version of `check.name`."""
    if check.sha256 is not None:
        found = sha256_of(path)
        if found != check.sha256:
            raise ChecksumMismatch(
                f"{path}: sha256 {found} is not the published {check.sha256} "
                "(an edited copy or another release)"
            )
    elif check.git_blob is not None:
        found = git_blob_of(path)
        if found != check.git_blob:
            raise ChecksumMismatch(
                f"{path}: git blob id {found} is not the published {check.git_blob}"
            )


def require_file(data_dir: Path | None, name: str, filename: str) -> Path:
    """The path of one data set file, or `DatasetNotFound` saying where to put it."""
    spec = get_spec(name)
    # Only data sets with an anonymous download can be fetched; for the others the hint says
    # where to download by hand (suggesting `datasets fetch` led to a second error).
    how = (
        f"run `tastemaker datasets fetch {spec.name}`"
        if spec.url
        else f"download {filename} from {spec.publisher_page}"
    )
    extra = f" {spec.notes}" if spec.notes else ""
    if data_dir is None:
        raise DatasetNotFound(
            f"{spec.name}: no data folder configured. Set TASTEMAKER_DATA_DIR to a folder "
            f"holding {spec.folder}/{filename} (e.g. TASTEMAKER_DATA_DIR=~/data with "
            f"~/data/{spec.folder}/{filename}); to get the file, {how}.{extra}"
        )
    path = spec.path(data_dir) / filename
    if not path.is_file():
        raise DatasetNotFound(
            f"{spec.name}: {path} not found. Put the publisher's {filename} in "
            f"{spec.path(data_dir)}/ (TASTEMAKER_DATA_DIR={data_dir}); to get it, {how}.{extra}"
        )
    return path
