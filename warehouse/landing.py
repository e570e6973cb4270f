"""Finding landing files and checking them as bytes before any SQL sees them.

Everything that makes a whole file unusable and can be decided from its bytes alone (extension,
emptiness, binary content, encoding) is decided here, with a one-line reason naming the problem.
The bytes are then handed to DuckDB as an Arrow column of physical lines without copying them
line by line in Python, which keeps the per-file overhead to a few milliseconds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.report import RejectedFile
from warehouse.spec import ENTITIES

#: Landing formats by file extension (lower-cased).
FORMATS = {".csv": "csv", ".jsonl": "jsonl"}

_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"PK\x03\x04", "zip"),
    (b"PAR1", "Parquet"),
    (b"\x89PNG", "PNG"),
    (b"%PDF", "PDF"),
    (b"\xd0\xcf\x11\xe0", "MS Office"),
)
_BOM = b"\xef\xbb\xbf"


class FileRejected(Exception):
    """A whole file is unusable; ``str(exc)`` is the one-line reason (without the file name)."""


@dataclass(frozen=True)
class Candidate:
    """A file to ingest with the entity its folder names."""

    entity: str
    path: Path


def _ignored(p: Path) -> bool:
    # Dotfiles are editor/OS droppings or in-progress uploads (".views.jsonl.part"), never data.
    return p.name.startswith(".")


def _entity_files(entity: str, folder: Path) -> tuple[list[Candidate], list[RejectedFile]]:
    files: list[Candidate] = []
    rejected: list[RejectedFile] = []
    for p in sorted(folder.iterdir(), key=lambda q: q.name):
        if _ignored(p):
            continue
        if p.is_dir():
            rejected.append(
                RejectedFile(str(p), entity, "sub-folder inside an entity folder is not read")
            )
        else:
            files.append(Candidate(entity, p))
    return files, rejected


def _is_entity_folder(path: Path) -> bool:
    """A folder named like an entity is that entity's folder unless it holds entity folders."""
    if path.name not in ENTITIES:
        return False
    return not any((path / name).is_dir() for name in ENTITIES)


def discover(path: Path) -> tuple[list[Candidate], list[RejectedFile]]:
    """The files under ``path`` in processing order, and those rejected for where they are.

    ``path`` is a landing root (entity sub-folders), one entity folder, or one file (its entity is
    its parent folder's name). Order: entities in dependency order, then file name.
    """
    rejected: list[RejectedFile] = []
    by_entity: dict[str, list[Candidate]] = {name: [] for name in ENTITIES}
    expected = "expected one of " + ", ".join(ENTITIES)
    if path.is_file():
        entity = path.parent.name
        if entity not in ENTITIES:
            rejected.append(
                RejectedFile(str(path), None, f"unknown entity folder {entity!r} ({expected})")
            )
        else:
            by_entity[entity].append(Candidate(entity, path))
    elif _is_entity_folder(path):
        by_entity[path.name], rejected = _entity_files(path.name, path)
    else:
        for p in sorted(path.iterdir(), key=lambda q: q.name):
            if _ignored(p):
                continue
            if p.is_file():
                rejected.append(
                    RejectedFile(str(p), None, f"file outside an entity folder ({expected})")
                )
            elif p.name in ENTITIES:
                files, rej = _entity_files(p.name, p)
                by_entity[p.name] = files
                rejected.extend(rej)
            else:
                inside = [q for q in sorted(p.rglob("*")) if q.is_file() and not _ignored(q)]
                reason = f"unknown entity folder {p.name!r} ({expected})"
                rejected.extend(RejectedFile(str(q), None, reason) for q in inside or [p])
    ordered = [c for name in ENTITIES for c in by_entity[name]]
    return ordered, rejected


def file_format(path: Path) -> str:
    """``csv`` or ``jsonl`` from the extension; raises FileRejected for anything else."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise FileRejected(
            f"unknown extension {path.suffix or '(none)'!r} (expected one of "
            + ", ".join(FORMATS)
            + ")"
        )
    return fmt


def sha256(data: bytes) -> str:
    """Content hash that makes re-landing a file a no-op, whatever its name."""
    return hashlib.sha256(data).hexdigest()


def check_bytes(data: bytes) -> bytes:
    """Reject empty, binary and non-UTF-8 content; return the text bytes without a UTF-8 BOM."""
    if not data:
        raise FileRejected("empty file (0 bytes)")
    for magic, name in _MAGIC:
        if data.startswith(magic):
            raise FileRejected(f"binary file (looks like {name}), expected UTF-8 text")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRejected("not UTF-8: starts with a UTF-16 byte order mark at byte offset 0")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise FileRejected(f"binary file (NUL byte at byte offset {nul}), expected UTF-8 text")
    bom = len(_BOM) if data.startswith(_BOM) else 0
    try:
        data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = bom + exc.start  # in the file as landed, BOM included
        line = data.count(b"\n", 0, offset) + 1
        raise FileRejected(
            f"not UTF-8: invalid byte 0x{data[offset : offset + 1].hex()} at byte offset "
            f"{offset} (line {line})"
        ) from None
    data = data[bom:] if bom else data
    if not data or data.isspace():
        raise FileRejected(f"empty file (only whitespace, {len(data)} bytes)")
    return data


def _int64(values: np.ndarray) -> pa.Array:
    # from_buffers, not pa.array(ndarray): the latter imports pandas on first use (~1 s).
    values = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def lines_table(data: bytes, file_no: int = 0) -> pa.Table:
    """Physical lines as an Arrow table ``(file_no, line_no, line)``, line numbers 1-based.

    The bytes are wrapped as one Arrow string without a copy and split in C++, so a 5 MB file
    costs a few milliseconds. A final newline does not start another line. ``\\r`` is kept; the
    SQL strips it.
    """
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    whole = pa.LargeStringArray.from_buffers(1, offsets, pa.py_buffer(data))
    lines = pc.split_pattern(whole, "\n").flatten()
    if data.endswith(b"\n"):
        lines = lines.slice(0, len(lines) - 1)
    n = len(lines)
    return pa.table(
        {
            "file_no": _int64(np.full(n, file_no)),
            "line_no": _int64(np.arange(1, n + 1)),
            "line": lines,
        }
    )


def chunk_table(texts: list[bytes]) -> pa.Table:
    """The lines of several files, each tagged with its position in ``texts`` as ``file_no``."""
    return pa.concat_tables([lines_table(t, k) for k, t in enumerate(texts)])
