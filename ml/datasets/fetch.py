"""Download a data set from its publisher and install it only if every file checks out.

Why member checksums rather than the archive's: GroupLens publishes no digest for its zips we
could pin, while the extracted files have sha256s recorded from independently verified copies
(registry.py). So the zip is unpacked into a temporary folder next to the destination, every
known file is verified, and only then are the files moved into place. A failed download or a
mismatch leaves the data folder as it was.
"""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ml.datasets.registry import ChecksumMismatch, DatasetSpec, get_spec, verify_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchResult:
    name: str
    folder: Path
    url: str | None
    files: tuple[str, ...]
    already_present: bool


def _download(url: str, timeout_s: float) -> bytes:
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"{url}: only http(s) downloads are supported")
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return response.read()


def _present_and_valid(spec: DatasetSpec, folder: Path) -> bool:
    for check in spec.files:
        path = folder / check.name
        if not path.is_file():
            return False
        verify_file(path, check)
    return True


def _unpack(spec: DatasetSpec, payload: bytes, url: str, staging: Path) -> list[str]:
    """Write the payload's files into `staging`; a zip is unpacked under its folder prefix."""
    if zipfile.is_zipfile(io.BytesIO(payload)):
        written: list[str] = []
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            for member in archive.infolist():
                if member.is_dir() or not member.filename.startswith(spec.archive_prefix):
                    continue
                relative = member.filename[len(spec.archive_prefix) :]
                if "/" in relative or relative in ("", ".", ".."):
                    continue  # only the data set's own top-level files; no path tricks
                (staging / relative).write_bytes(archive.read(member))
                written.append(relative)
        return written
    if len(spec.files) != 1:
        raise ChecksumMismatch(f"{url}: expected a zip archive for {spec.name}")
    name = spec.files[0].name
    (staging / name).write_bytes(payload)
    return [name]


def fetch_dataset(
    name: str,
    data_dir: Path,
    *,
    url: str | None = None,
    timeout_s: float = 60.0,
    force: bool = False,
) -> FetchResult:
    """Download `name` into `data_dir/<folder>/`, verifying every known file first.

    Args:
        name: data set name or alias (`movielens-100k`, `ml-1m`, ...).
        data_dir: the real-data folder (TASTEMAKER_DATA_DIR).
        url: override the publisher URL (a mirror, or a local server in tests).
        force: download even when valid files are already present.

    Raises:
        ValueError: no URL is known for the data set and none was given.
        ChecksumMismatch: a downloaded file is not the published version (nothing installed).
    """
    spec = get_spec(name)
    folder = spec.path(data_dir)
    if not force and folder.is_dir() and _present_and_valid(spec, folder):
        return FetchResult(spec.name, folder, None, tuple(f.name for f in spec.files), True)
    source = url or spec.url
    if source is None:
        raise ValueError(
            f"{spec.name} has no anonymous download URL. {spec.notes} Put the file in {folder}/."
        )
    log.info("downloading %s from %s", spec.name, source)
    payload = _download(source, timeout_s)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{spec.folder}-") as tmp:
        staging = Path(tmp)
        written = _unpack(spec, payload, source, staging)
        missing = [f.name for f in spec.files if f.name not in written]
        if missing:
            raise ChecksumMismatch(f"{source}: the download lacks {', '.join(missing)}")
        for check in spec.files:
            verify_file(staging / check.name, check)
        folder.mkdir(parents=True, exist_ok=True)
        for relative in written:
            shutil.move(str(staging / relative), folder / relative)
    return FetchResult(spec.name, folder, source, tuple(sorted(written)), False)
