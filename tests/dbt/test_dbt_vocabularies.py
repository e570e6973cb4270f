"""The dbt project's vocabularies match the generator's (ml/world/vocab.py); no dbt run."""

from __future__ import annotations

import csv
import re

import yaml
from dbtkit import DBT_PROJECT_DIR

from ml.world.vocab import DEVICES, GENRES, HOUR_BUCKETS, PLANS, SUBSCRIPTION_EVENTS

SEEDS = DBT_PROJECT_DIR / "seeds"
MACROS = (DBT_PROJECT_DIR / "macros" / "vocabularies.sql").read_text()


def _seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / f"{name}.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _macro_list(name: str) -> list[str]:
    body = re.search(rf"macro {name}\(\).*?return\(\[(.*?)\]\)", MACROS, re.S)
    assert body, f"macro {name}() not found"
    return re.findall(r"'([^']+)'", body.group(1))


def test_genre_seed_matches_generator():
    assert [(r["genre_name"], r["genre_slug"]) for r in _seed("genres")] == list(GENRES)


def test_device_and_hour_seeds_match_generator():
    assert [r["device"] for r in _seed("devices")] == list(DEVICES)
    hours = {int(r["local_hour"]): r["hour_bucket"] for r in _seed("hour_buckets")}
    assert hours == {h: name for name, hs in HOUR_BUCKETS for h in hs}


def test_macro_vocabularies_match_generator():
    assert _macro_list("genre_slugs") == [slug for _, slug in GENRES] + ["other"]
    assert _macro_list("devices") == list(DEVICES)
    assert _macro_list("hour_buckets") == [name for name, _ in HOUR_BUCKETS]
    assert _macro_list("plans") == list(PLANS)
    assert _macro_list("subscription_events") == list(SUBSCRIPTION_EVENTS)


def test_user_features_contract_lists_every_share_column():
    spec = yaml.safe_load((DBT_PROJECT_DIR / "models/marts/core/_core__models.yml").read_text())
    model = next(m for m in spec["models"] if m["name"] == "user_features")
    columns = [c["name"] for c in model["columns"]]
    assert all("data_type" in c and c.get("description") for c in model["columns"])
    expected = (
        [f"genre_share_{s}" for _, s in GENRES]
        + ["genre_share_other"]
        + [f"device_share_{d}" for d in DEVICES]
        + [f"hour_share_{b}" for b, _ in HOUR_BUCKETS]
    )
    shares = [c for c in columns if c.startswith(("genre_share_", "device_share_", "hour_share_"))]
    assert shares == expected


def test_every_mart_column_is_typed_and_described():
    for path in (DBT_PROJECT_DIR / "models/marts").rglob("_*__models.yml"):
        for model in yaml.safe_load(path.read_text())["models"]:
            assert model["config"]["contract"]["enforced"] is True, model["name"]
            for column in model["columns"]:
                assert column.get("data_type"), (model["name"], column["name"])
                assert column.get("description"), (model["name"], column["name"])
