"""`datasets fetch` against a local HTTP server (never the real internet): a verified download
is installed, a tampered one is refused and leaves nothing behind."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from ml.datasets import ChecksumMismatch, fetch_dataset, load_ml100k_ratings

runner = CliRunner()
ML100K_FILES = ("u.data", "u.item", "u.user", "README")


def _zip_ml100k(target: Path, source: Path, tamper: bool = False) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ml-100k/", "")
        for name in ML100K_FILES:
            data = (source / name).read_bytes()
            if tamper and name == "u.data":
                data = data.replace(b"\t3\t", b"\t4\t", 1)  # one rating changed
            archive.writestr(f"ml-100k/{name}", data)
        archive.writestr("ml-100k/../evil.txt", "path traversal attempt")


def test_fetch_installs_a_verified_copy(
    http_root: tuple[Path, str], tmp_path: Path, real_data
) -> None:
    source = real_data("ml-100k", "u.data").parent
    root, base = http_root
    _zip_ml100k(root / "ml-100k.zip", source)
    data_dir = tmp_path / "data"

    result = fetch_dataset("ml-100k", data_dir, url=f"{base}/ml-100k.zip")

    assert not result.already_present
    assert set(result.files) == set(ML100K_FILES)
    assert len(load_ml100k_ratings(data_dir)) == 100_000
    assert not (data_dir / "evil.txt").exists()
    again = fetch_dataset("ml-100k", data_dir, url=f"{base}/ml-100k.zip")
    assert again.already_present


def test_fetch_refuses_a_tampered_copy(
    http_root: tuple[Path, str], tmp_path: Path, real_data
) -> None:
    source = real_data("ml-100k", "u.data").parent
    root, base = http_root
    _zip_ml100k(root / "ml-100k.zip", source, tamper=True)
    data_dir = tmp_path / "data"

    with pytest.raises(ChecksumMismatch, match=r"u\.data"):
        fetch_dataset("movielens-100k", data_dir, url=f"{base}/ml-100k.zip")
    assert not (data_dir / "ml-100k").exists()
    assert [p for p in data_dir.iterdir()] == []  # the staging folder is gone too


def test_fetch_plain_csv_checks_sha256(
    http_root: tuple[Path, str], tmp_path: Path, real_data
) -> None:
    root, base = http_root
    (root / "netflix_titles.csv").write_text("show_id,type\ns1,Movie\n")
    with pytest.raises(ChecksumMismatch, match="sha256"):
        fetch_dataset("netflix-titles", tmp_path, url=f"{base}/netflix_titles.csv")
    shutil.copy(real_data("netflix_titles", "netflix_titles.csv"), root / "netflix_titles.csv")
    result = fetch_dataset("netflix-titles", tmp_path, url=f"{base}/netflix_titles.csv")
    assert (tmp_path / "netflix_titles" / "netflix_titles.csv").is_file()
    assert result.files == ("netflix_titles.csv",)


def test_netflix_without_url_explains_kaggle(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="signed-in"):
        fetch_dataset("netflix-titles", tmp_path)


def test_cli_fetch_json_and_errors(http_root: tuple[Path, str], tmp_path: Path, real_data) -> None:
    source = real_data("ml-100k", "u.data").parent
    root, base = http_root
    _zip_ml100k(root / "good.zip", source)
    _zip_ml100k(root / "bad.zip", source, tamper=True)
    dest = tmp_path / "data"

    bad = runner.invoke(
        app,
        ["datasets", "fetch", "movielens-100k", "--url", f"{base}/bad.zip", "--dest", str(dest)],
    )
    assert bad.exit_code == 1
    assert "checksum mismatch" in bad.output

    missing = runner.invoke(
        app,
        ["datasets", "fetch", "movielens-100k", "--url", f"{base}/nope.zip", "--dest", str(dest)],
    )
    assert missing.exit_code == 1 and "404" in missing.output

    good = runner.invoke(
        app,
        [
            "datasets",
            "fetch",
            "movielens-100k",
            "--url",
            f"{base}/good.zip",
            "--dest",
            str(dest),
            "--json",
        ],
    )
    assert good.exit_code == 0, good.output
    payload = json.loads(good.stdout)
    assert payload["dataset"] == "movielens-100k" and payload["already_present"] is False

    unknown = runner.invoke(app, ["datasets", "fetch", "no-such-set", "--dest", str(dest)])
    assert unknown.exit_code == 2 and "unknown data set" in unknown.output
