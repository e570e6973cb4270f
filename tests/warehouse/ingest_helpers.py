"""Small, explicit landing files for ingest tests: valid rows by default, one override per test."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from warehouse.spec import ENTITIES

HEADERS: dict[str, tuple[str, ...]] = {name: e.field_names for name, e in ENTITIES.items()}


def title(title_id: str = "t1", **over: Any) -> dict[str, Any]:
    row = {
        "title_id": title_id,
        "title": f"Title {title_id}",
        "kind": "movie",
        "genres": "Action|Thriller",
        "release_date": "2020-01-01",
        "runtime_minutes": 110,
        "seasons": "",
        "maturity_rating": "R",
        "country": "US",
        "language": "en",
        "director": "Ada Abbott",
        "cast": "Bruno Bauer|Clara Costa",
        "synopsis": "A rogue agent races to stop a bomb.",
    }
    return {**row, **over}


def user(user_id: str = "u1", **over: Any) -> dict[str, Any]:
    row = {
        "user_id": user_id,
        "signup_date": "2026-01-01",
        "country": "US",
        "plan": "basic",
        "age_band": "25-34",
    }
    return {**row, **over}


#: Where each view id's default start lies: its own half hour before VIEW_START, so the
#: default sessions of one user on one device never overlap (ingest quarantines overlapping
#: sessions) and all start after the default signup and before the default rating.
_VIEW_SLOTS: dict[str, int] = {}
VIEW_START = datetime(2026, 3, 1, 22, 15, 4)


def _default_start(event_id: str) -> str:
    slot = _VIEW_SLOTS.setdefault(event_id, len(_VIEW_SLOTS))
    return (VIEW_START - timedelta(minutes=30 * slot)).isoformat() + "-05:00"


def view(event_id: str = "v1", **over: Any) -> dict[str, Any]:
    row = {
        "event_id": event_id,
        "user_id": "u1",
        "title_id": "t1",
        "device": "tv",
        "started_at": over["started_at"] if "started_at" in over else _default_start(event_id),
        "watch_seconds": 1200,
        "duration_seconds": 6000,
    }
    return {**row, **over}


def rating(user_id: str = "u1", **over: Any) -> dict[str, Any]:
    row = {
        "user_id": user_id,
        "title_id": "t1",
        "rated_at": "2026-03-02T10:00:00Z",
        "rating": 4.5,
    }
    return {**row, **over}


def subscription(user_id: str = "u1", **over: Any) -> dict[str, Any]:
    row = {
        "user_id": user_id,
        "event": "signup",
        "occurred_at": "2026-01-01T09:00:00+01:00",
        "plan": "basic",
        "monthly_price": 7.99,
    }
    return {**row, **over}


def exposure(event_id: str = "x1", **over: Any) -> dict[str, Any]:
    row = {
        "event_id": event_id,
        "experiment_id": "artwork-1",
        "variant": "B",
        "user_id": "u1",
        "title_id": "t1",
        "shown_at": "2026-03-01T20:00:00+05:30",
        "clicked": True,
    }
    return {**row, **over}


def nudge(event_id: str = "n1", **over: Any) -> dict[str, Any]:
    row = {
        "event_id": event_id,
        "user_id": "u1",
        "campaign_id": "reengage-2026-03-14",
        "sent_at": "2026-03-14T10:00:00-05:00",
        "action": "teaser",
        "propensity": 0.2,
        "title_id": "t1",
    }
    return {**row, **over}


def opt_out(user_id: str = "u1", **over: Any) -> dict[str, Any]:
    row = {"user_id": user_id, "channel": "email", "opted_out_at": "2026-02-01T08:00:00+01:00"}
    return {**row, **over}


ROW_FACTORIES = {
    "titles": title,
    "users": user,
    "views": view,
    "ratings": rating,
    "subscriptions": subscription,
    "exposures": exposure,
    "nudges": nudge,
    "opt_outs": opt_out,
}


def write_csv(
    path: Path, rows: Iterable[dict[str, Any] | Sequence[Any]], header: Sequence[str] | None = None
) -> Path:
    """CSV with a header (the entity's contract fields unless given); dict rows by field name."""
    entity = path.parent.name
    header = list(header or HEADERS[entity])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            if isinstance(row, dict):
                values = (row.get(h, "") for h in header)
                row = ["true" if v is True else "false" if v is False else v for v in values]
            writer.writerow(row)
    return path


def write_jsonl(path: Path, rows: Iterable[dict[str, Any] | str]) -> Path:
    """JSON Lines; a str row is written as is (to land malformed lines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_dims(
    landing: Path, titles: Sequence[str] = ("t1", "t2"), users: Sequence[str] = ("u1", "u2")
) -> None:
    """The titles and users that fact rows reference."""
    write_csv(landing / "titles" / "titles.csv", [title(t) for t in titles])
    write_csv(landing / "users" / "users.csv", [user(u) for u in users])


def query(db: Path, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db))
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def count(db: Path, table: str) -> int:
    return query(db, f"select count(*) from raw.{table}")[0][0]


def contents(db: Path, entity: str) -> list[tuple[Any, ...]]:
    """The entity's contract columns (no lineage), sorted: what a table 'is'."""
    cols = ", ".join(f'"{c}"' for c in ENTITIES[entity].columns())
    return query(db, f"select {cols} from raw.{entity} order by all")


def quarantine(db: Path) -> list[tuple[Any, ...]]:
    """(entity, file name, line, reason) of every quarantined row, by file and line."""
    rows = query(db, "select entity, source_file, source_line, reason from raw.quarantine")
    return sorted((e, Path(f).name, line, reason) for e, f, line, reason in rows)
