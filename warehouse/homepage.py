"""Reading one published homepage (`tastemaker recommend USER_ID`), kept light on purpose.

A person typing `tastemaker recommend u000042` waits for every module the command imports:
through the recommender flow that was Prefect, pandas, scikit-learn and SciPy, 8-20 s on a busy
machine (docs/benchmarks.md) for a query that takes milliseconds. This module imports DuckDB,
the lock and the row names only, reads only that user's rows (and the titles on them) with
plain SQL rather than `Session.read` (which returns a pandas frame), and builds the result with
plain Python. It is data access, so it lives in `warehouse/` (it imports no Prefect).

Titles come from the `title_catalog` mart (the catalogue: names, kind, genres, runtime), not
`title_features` (viewing statistics per title).
"""

from __future__ import annotations

from html import escape
from typing import Any

from ml.recommend.rows import ANONYMOUS_USER, relative_scores, score_meaning
from warehouse.db import ML_SCHEMA, Warehouse
from warehouse.settings import Settings

TABLE = "recommendations"
CATALOG = "title_catalog"


class MissingMarts(FileNotFoundError):
    """The warehouse or its marts are not there yet (the message says what to run)."""


class NoRecommendations(LookupError):
    """`ml.recommendations` has not been published yet (the message says what to run)."""


def _rows(con: Any, catalog: str | None, user_id: str) -> list[dict[str, Any]]:
    """The published rows of one user, best first, with each title's catalogue entry."""
    if catalog:
        cols = "c.title_name, c.kind, c.genres, c.runtime_minutes"
        join = f"left join {catalog} c using (title_id)"
    else:
        cols = "null, null, null, null"
        join = ""
    cursor = con.execute(
        "select r.row_position, r.row_name, r.row_title, r.rank, r.title_id, r.score, "
        f"r.model_version, {cols} from {ML_SCHEMA}.{TABLE} r {join} "
        "where r.user_id = ? order by r.row_position, r.rank",
        [user_id],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def load_homepage(settings: Settings, user_id: str, *, reader: bool = False) -> dict[str, Any]:
    """One user's published homepage with title names, as a JSON-ready dict.

    A user id with no published rows gets the anonymous (cold-start) homepage, with
    `shown_as` = ANONYMOUS_USER and `known_user` saying whether the warehouse knows the id.
    Each title has its raw `score` and `relative_score` (the row's scores on one scale: 1 =
    the row's best, see `ml.recommend.rows.relative_scores`); each row says what its raw
    scores are (`score_meaning`), since they differ from row to row (viewer counts, model
    scores, similarities).

    `reader`: wait for a writing run like a read-only command (`read_lock_timeout_s`, seconds,
    then `WarehouseBusyError`) rather than like a writer (see `warehouse.db.Warehouse`).
    """
    if not settings.warehouse_path.is_file():
        raise MissingMarts(f"no warehouse at {settings.warehouse_path}: run `tastemaker run` first")
    with Warehouse(settings, reader=reader).session() as db:
        con = db.con
        if db.find(TABLE, schema=ML_SCHEMA) is None:
            raise NoRecommendations(
                f"no recommendations yet in {settings.warehouse_path}: run "
                "`tastemaker train recommender` (or `tastemaker run`) first"
            )
        catalog = db.find(CATALOG)
        records = _rows(con, catalog, user_id)
        known, shown_as = True, user_id
        if not records:
            users = db.find("user_features")
            known = bool(
                users
                and con.execute(
                    f"select count(*) from {users} where user_id = ?", [user_id]
                ).fetchone()[0]
            )
            shown_as = ANONYMOUS_USER
            records = _rows(con, catalog, ANONYMOUS_USER)
    rows: list[dict[str, Any]] = []
    for rec in records:
        if not rows or rows[-1]["position"] != rec["row_position"]:
            rows.append(
                {
                    "position": int(rec["row_position"]),
                    "row_name": rec["row_name"],
                    "row_title": rec["row_title"],
                    "score_meaning": score_meaning(rec["row_name"], rec["row_title"]),
                    "titles": [],
                }
            )
        rows[-1]["titles"].append(
            {
                "rank": int(rec["rank"]),
                "title_id": rec["title_id"],
                "title": rec["title_name"] or rec["title_id"],
                "score": float(rec["score"]),
                "kind": rec["kind"],
                "genres": rec["genres"],
                "runtime_minutes": (
                    int(rec["runtime_minutes"]) if rec["runtime_minutes"] is not None else None
                ),
            }
        )
    for row in rows:
        relative = relative_scores([t["score"] for t in row["titles"]])
        for title, value in zip(row["titles"], relative, strict=True):
            title["relative_score"] = round(value, 4)
    return {
        "user_id": user_id,
        "shown_as": shown_as,
        "known_user": known,
        "model_version": str(records[0]["model_version"]) if records else None,
        "rows": rows,
    }


def homepage_html(page: dict[str, Any]) -> str:
    """A readable, self-contained homepage preview: one section per row, one card per title.
    Every piece of text is HTML-escaped (titles and genres come from landed files)."""

    def e(value: Any) -> str:
        return escape("" if value is None else str(value), quote=True)

    note = ""
    if page["shown_as"] != page["user_id"]:
        note = (
            f"<p class='note'>{e(page['user_id'])} has no personalised homepage "
            f"({'known user without one yet' if page['known_user'] else 'unknown user'}): "
            "showing the homepage for new visitors.</p>"
        )
    sections = []
    for row in page["rows"]:
        cards = "".join(
            "<li class='card'>"
            f"<span class='rank'>{t['rank']}</span>"
            f"<strong>{e(t['title'])}</strong>"
            f"<span class='meta'>{e(t['kind'])} · {e(t['runtime_minutes'])} min</span>"
            f"<span class='meta'>{e((t['genres'] or '').replace('|', ' · '))}</span>"
            f"<span class='score' title='{e(row['score_meaning'])}: {t['score']:.3f}'>"
            f"relative score {t['relative_score']:.2f}</span></li>"
            for t in row["titles"]
        )
        sections.append(
            f"<section><h2>{e(row['row_title'])}</h2>"
            f"<p class='meta'>ranked by {e(row['score_meaning'])}; relative score 1.00 = the "
            f"row's best</p><ol class='row'>{cards}</ol></section>"
        )
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>Tastemaker homepage: {e(page['user_id'])}</title><style>"
        "body{font-family:system-ui,sans-serif;background:#141414;color:#eee;margin:2rem}"
        "h1{font-size:1.4rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}"
        ".row{display:flex;gap:.75rem;overflow-x:auto;list-style:none;padding:0}"
        ".card{flex:0 0 10rem;background:#2a2a2a;border-radius:6px;padding:.6rem;"
        "display:flex;flex-direction:column;gap:.25rem}"
        ".rank{color:#e50914;font-weight:bold}.meta,.score{font-size:.8rem;color:#aaa}"
        ".note{color:#f5c518}</style></head><body>"
        f"<h1>Homepage for {e(page['user_id'])}</h1>"
        f"<p class='meta'>model {e(page['model_version'])}</p>{note}"
        + "".join(sections)
        + "</body></html>\n"
    )
