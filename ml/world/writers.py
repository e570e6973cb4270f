"""Formatting of landing and truth files: fast, byte-stable, and exactly the landing contract.

Rows are formatted with plain string building (no ``json.dumps`` per row) because views and
exposures reach tens of millions of lines; every value written is a string, an int or a bool, so
the output is byte-identical for the same inputs on any platform.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np


def local_timestamps(start: date, seconds: np.ndarray, offsets: Sequence[str]) -> list[str]:
    """ISO-8601 wall-clock timestamps with the viewer's offset, e.g. ``2026-03-01T22:15:04-05:00``.

    Args:
        start: the local midnight that ``seconds`` count from.
        seconds: local seconds since ``start`` (per row).
        offsets: the row's zone offset as landed (``-05:00``), one per row.
    """
    base = np.datetime64(start.isoformat(), "s")
    stamps = np.datetime_as_string(base + seconds.astype("timedelta64[s]"), unit="s")
    return [f"{s}{o}" for s, o in zip(stamps.tolist(), offsets, strict=True)]


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write a CSV with a header (minimal quoting, ``\\n`` line ends); return the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def write_lines(path: Path, lines: list[str]) -> int:
    """Write pre-formatted lines (each without its newline); return the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        if lines:
            fh.write("\n".join(lines))
            fh.write("\n")
    return len(lines)


def view_lines(
    first_event: int,
    user_ids: list[str],
    title_ids: list[str],
    devices: list[str],
    started_at: list[str],
    watch: np.ndarray,
    duration: np.ndarray,
) -> list[str]:
    """JSON Lines of views; event ids are ``v`` + 10 digits, consecutive from ``first_event``."""
    return [
        f'{{"event_id":"v{first_event + k:010d}","user_id":"{u}","title_id":"{t}",'
        f'"device":"{dv}","started_at":"{s}","watch_seconds":{w},"duration_seconds":{du}}}'
        for k, (u, t, dv, s, w, du) in enumerate(
            zip(
                user_ids,
                title_ids,
                devices,
                started_at,
                watch.tolist(),
                duration.tolist(),
                strict=True,
            )
        )
    ]


def exposure_lines(
    first_event: int,
    experiment_ids: list[str],
    variants: list[str],
    user_ids: list[str],
    title_ids: list[str],
    shown_at: list[str],
    clicked: np.ndarray,
) -> list[str]:
    """JSON Lines of artwork impressions; event ids are ``x`` + 10 digits."""
    return [
        f'{{"event_id":"x{first_event + k:010d}","experiment_id":"{e}","variant":"{v}",'
        f'"user_id":"{u}","title_id":"{t}","shown_at":"{s}","clicked":{"true" if c else "false"}}}'
        for k, (e, v, u, t, s, c) in enumerate(
            zip(
                experiment_ids,
                variants,
                user_ids,
                title_ids,
                shown_at,
                clicked.tolist(),
                strict=True,
            )
        )
    ]


def write_json(path: Path, data: Any) -> None:
    """Pretty, key-ordered JSON (stable bytes for the same data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n", "utf-8")
