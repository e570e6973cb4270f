"""The dbt project's copies of the vocabularies equal the one declaration (ml/vocabulary.py): the
seeds, the macros the marts pivot on, and every `accepted_values` test on a vocabulary column.
No dbt run: the files are read as text, so a copy that drifts fails here before any build."""

from __future__ import annotations

import csv
import re

import yaml
from dbtkit import DBT_PROJECT_DIR

from ml.vocabulary import (
    DEVICES,
    GENRE_SLUGS,
    GENRES,
    HOUR_BUCKETS,
    KINDS,
    NUDGE_ACTIONS,
    OPT_OUT_CHANNELS,
    OTHER_GENRE,
    PLANS,
    SUBSCRIPTION_EVENTS,
)

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
    assert _macro_list("genre_slugs") == [*GENRE_SLUGS, OTHER_GENRE]
    assert _macro_list("title_kinds") == list(KINDS)
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


#: Column name in the dbt project → the vocabulary its values come from.
VOCABULARY_COLUMNS = {
    "genre_slug": (*GENRE_SLUGS, OTHER_GENRE),
    "primary_genre": (*GENRE_SLUGS, OTHER_GENRE),
    "device": DEVICES,
    "kind": KINDS,
    "title_kind": KINDS,
    "plan": PLANS,
    "signup_plan": PLANS,
    "action": NUDGE_ACTIONS,
    "channel": OPT_OUT_CHANNELS,
    "hour_bucket": tuple(name for name, _ in HOUR_BUCKETS),
}


def _accepted_values(node, column=None):
    """(column, values) of every accepted_values test in a parsed dbt YAML file."""
    if isinstance(node, dict):
        column = node.get("name", column) if isinstance(node.get("name"), str) else column
        test = node.get("accepted_values")
        if isinstance(test, dict):
            yield column, (test.get("arguments") or test)["values"]
        for value in node.values():
            yield from _accepted_values(value, column)
    elif isinstance(node, list):
        for item in node:
            yield from _accepted_values(item, column)


def test_every_accepted_values_test_on_a_vocabulary_column_is_the_vocabulary():
    checked = []
    for path in sorted(DBT_PROJECT_DIR.rglob("*.yml")):
        for column, values in _accepted_values(yaml.safe_load(path.read_text())):
            if column in VOCABULARY_COLUMNS:
                where = f"{path.relative_to(DBT_PROJECT_DIR)}: {column}"
                assert tuple(values) == VOCABULARY_COLUMNS[column], where
                checked.append(where)
    # the check must see the copies it exists for (a renamed key would make it pass vacuously)
    assert {c.split(": ")[1] for c in checked} >= {"device", "kind", "plan", "action", "channel"}
    assert len(checked) >= 15
