"""What an ingest did: small value types the CLI, the flow and tests read by name."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class IngestError(RuntimeError):
    """Ingest could not run at all (bad path, unusable warehouse) or crashed while loading a file.

    A crash mid-file is rolled back first, so the warehouse never holds part of a file; files
    committed before the crash stay committed (each file is its own transaction).
    """


@dataclass
class TableCounts:
    """Row counts of one entity over the files processed in one ingest call.

    ``rows_read`` = ``loaded`` + ``duplicate`` + ``quarantined`` (blank lines and the CSV header
    are not rows). Skipped (already ingested) and rejected files contribute nothing.
    """

    files: int = 0
    rows_read: int = 0
    loaded: int = 0
    duplicate: int = 0
    quarantined: int = 0

    def add(self, other: TableCounts) -> None:
        """Accumulate another file's counts into this one."""
        self.files += other.files
        self.rows_read += other.rows_read
        self.loaded += other.loaded
        self.duplicate += other.duplicate
        self.quarantined += other.quarantined


@dataclass(frozen=True)
class RejectedFile:
    """A file that loaded nothing because it is not the expected format at all."""

    file: str
    entity: str | None
    reason: str


@dataclass
class IngestReport:
    """The outcome of one ``ingest_path`` call (one batch)."""

    batch_id: str
    tables: dict[str, TableCounts] = field(default_factory=dict)
    rejected: list[RejectedFile] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    #: rows retried from quarantine, per entity: ``loaded`` = re-admitted, ``quarantined`` =
    #: still waiting or now with a real fault, ``duplicate`` = already loaded
    readmitted: dict[str, TableCounts] = field(default_factory=dict)
    #: rows still waiting for a user or title after this batch
    waiting: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no file was rejected (quarantined rows do not make a batch fail)."""
        return not self.rejected

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view; ``tables`` lists only entities that had files processed."""
        return {
            "batch_id": self.batch_id,
            "ok": self.ok,
            "tables": {name: asdict(counts) for name, counts in self.tables.items()},
            "rejected": [asdict(r) for r in self.rejected],
            "skipped_files": list(self.skipped_files),
            "readmitted": {name: asdict(counts) for name, counts in self.readmitted.items()},
            "waiting": self.waiting,
            "seconds": round(self.seconds, 3),
        }
