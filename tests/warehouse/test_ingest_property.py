"""Property: however the same rows are ordered, split into files, formatted and chunked, ingest
ends with the same table and the same counts."""

from __future__ import annotations

import csv
import io
import itertools
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any
from unittest import mock

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_helpers import HEADERS, contents, query, view, write_dims

from tests.tiers import max_examples
from warehouse import ingest as ingest_module
from warehouse.ingest import ingest_path

OFFSETS = ("-05:00", "Z", "+05:30", "+09:00", "-03:00")

content = st.fixed_dictionaries(
    {
        "user_id": st.sampled_from(["u1", "u2"]),
        "title_id": st.sampled_from(["t1", "t2"]),
        "device": st.sampled_from(["tv", "mobile", "tablet", "web"]),
        "started_at": st.builds(
            lambda d, h, o: f"2026-03-{d:02d}T{h:02d}:15:04{o}",
            st.integers(1, 28),
            st.integers(0, 23),
            st.sampled_from(OFFSETS),
        ),
        "watch_seconds": st.integers(0, 6000),
        "duration_seconds": st.integers(1, 6000),
    }
)
# Rows that are quarantined for their values (representable in both formats).
spoilers = st.sampled_from(
    [
        {"user_id": "u404"},
        {"device": "toaster"},
        {"watch_seconds": -1},
        {"started_at": "2026-03-01T10:00:00"},
        {"duration_seconds": 0},
    ]
)


@st.composite
def landed_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Distinct events, some repeated identically, plus some bad rows."""
    events = draw(st.lists(content, min_size=1, max_size=12))
    rows: list[dict[str, Any]] = []
    for i, c in enumerate(events):
        copies = draw(st.integers(1, 3))
        # Two days apart, so that no two sessions overlap whatever the hour and zone (ingest
        # judges overlapping sessions against what loaded before them: not order-free).
        started_at = f"2026-03-{1 + 2 * i:02d}" + c["started_at"][10:]
        rows += [view(f"v{i}", **{**c, "started_at": started_at})] * copies
    for j, spoil in enumerate(draw(st.lists(spoilers, max_size=4))):
        rows.append(view(f"bad{j}", **spoil))
    return rows


def _write_part(path: Path, rows: list[dict[str, Any]], fmt: str, part: int) -> None:
    """One landing file; a per-file extra field keeps every file's bytes (sha256) distinct."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        path.write_text("".join(json.dumps({**r, "part": part}) + "\n" for r in rows))
        return
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*HEADERS["views"], "part"])
    writer.writerows([*(r[h] for h in HEADERS["views"]), part] for r in rows)
    path.write_text(out.getvalue())


def _ingest(
    rows_by_file: list[tuple[list[dict[str, Any]], str]], chunk_files: int = 64
) -> tuple[Any, ...]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        mock.patch.object(ingest_module, "CHUNK_MAX_FILES", chunk_files),
    ):
        landing, db = Path(tmp) / "landing", Path(tmp) / "w.duckdb"
        # Held open so that ingest and the three reads below share one DuckDB instance instead
        # of starting one each (tests/warehouse/conftest.py says why that is the same test).
        held = duckdb.connect(str(db))
        try:
            write_dims(landing)
            for k, (rows, fmt) in enumerate(rows_by_file):
                _write_part(landing / "views" / f"part-{k:02d}.{fmt}", rows, fmt, k)
            report = ingest_path(db, landing)
            assert report.ok, report.rejected
            views = report.tables["views"]
            reasons = Counter(r for (r,) in query(db, "select reason from raw.quarantine"))
            return (
                contents(db, "views"),
                (views.rows_read, views.loaded, views.duplicate, views.quarantined),
                reasons,
            )
        finally:
            held.close()


@settings(
    max_examples=max_examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(rows=landed_rows(), data=st.data())
def test_any_order_and_split_gives_the_same_table(rows: list[dict[str, Any]], data: Any) -> None:
    reference = _ingest([(rows, "jsonl")])

    shuffled = data.draw(st.permutations(rows))
    n_cuts = data.draw(st.integers(0, min(3, len(rows) - 1)))
    positions = st.sets(st.integers(1, max(1, len(rows) - 1)), min_size=n_cuts, max_size=n_cuts)
    cuts = sorted(data.draw(positions)) if n_cuts else []
    bounds = [0, *cuts, len(rows)]
    parts = [shuffled[a:b] for a, b in itertools.pairwise(bounds)]
    kinds = st.sampled_from(["jsonl", "csv"])
    formats = data.draw(st.lists(kinds, min_size=len(parts), max_size=len(parts)))

    chunk_files = data.draw(st.integers(1, 4))  # files classified together: must not matter

    assert _ingest(list(zip(parts, formats, strict=True)), chunk_files) == reference
