"""Load landing files into the DuckDB ``raw`` schema: idempotent, transactional per file, fast.

Why it is built this way:

* **Idempotent by content.** A file whose sha256 is in ``raw.ingested_files`` is skipped, whatever
  its name, so re-running ingest (or a Prefect retry) never double-loads. Rows are keyed too
  (``event_id`` for views/exposures, natural keys elsewhere): a row identical to one already
  loaded counts as ``duplicate`` and writes nothing; the same key with different content is
  quarantined, naming where the key was first seen. Titles and users re-landed with changed
  attributes are quarantined as conflicts: dimension updates (SCD) are out of scope for now.
* **Transactional per file.** A file's rows, its quarantined rows and its ``ingested_files`` row
  are written in one transaction; a crash mid-file leaves nothing of it, and earlier files stay.
* **Bad rows vs bad files.** A row that fails a check goes to ``raw.quarantine`` with file, line and
  a reason naming the field; the rest of the file loads. A file that is not the expected format
  at all (wrong columns, binary, not UTF-8, empty, truncated, unknown extension or entity folder)
  is rejected with a one-line reason and loads nothing; the other files still load and the caller
  decides the exit code from ``report.ok``.
* **Fast.** Python only reads bytes, hashes and checks them; DuckDB parses and classifies every
  row of a file in a few set-based statements generated from ``spec.py`` (see ``validate.py``).

Rejection rules for truncated files (the judgement calls):

* JSON Lines: rejected when more than half of its non-blank lines are not JSON objects, or when
  its last line is malformed *and* the file does not end with a newline (a copy cut off
  mid-write; when the complete file lands it has a new hash and loads then). A malformed line
  anywhere else is quarantined.
* CSV: rejected when more than half of its records are malformed (field count, quoting), or when
  the file ends inside a quoted field (an unbalanced quote swallows the rest of the file).
* Both: rejected when a required field is absent from the header (CSV) or from every object
  line (JSON Lines): that is a file of the wrong shape, not a file with a few bad rows.

Other rules worth knowing: blank lines are ignored (they are not rows); a CSV with only a
header is a valid file with zero rows; optional contract columns may be missing from a CSV header
(they load as NULL); fields beyond the contract are ignored; references are checked against what
is in ``raw`` when the file is loaded, which includes files loaded earlier in the same call
(entities run in dependency order), so a view of a user who lands later is quarantined and not
retried automatically.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from tqdm import tqdm

from flows.warehouse import validate
from flows.warehouse.landing import (
    Candidate,
    FileRejected,
    check_bytes,
    discover,
    file_format,
    lines_table,
    sha256,
)
from flows.warehouse.report import IngestError, IngestReport, RejectedFile, TableCounts
from flows.warehouse.spec import ENTITIES, Entity

__all__ = ["IngestError", "IngestReport", "RejectedFile", "TableCounts", "ingest_path"]

logger = logging.getLogger(__name__)

#: More than this share of unparseable records makes a file "not the expected format".
MAX_MALFORMED_SHARE = 0.5


def ingest_path(db_path: Path, path: Path, *, progress: bool = False) -> IngestReport:
    """Ingest a landing root, one entity folder or one file into ``raw`` at ``db_path``.

    Opens its own DuckDB connection (creating the file and the ``raw`` schema if needed) and
    closes it before returning, so the caller can run dbt right after. The caller must hold the
    warehouse's one-writer lock.

    Args:
        db_path: the DuckDB warehouse file.
        path: a landing root (entity sub-folders), one entity folder, or one file (its entity is
            its parent folder's name).
        progress: show a tqdm progress bar over files.

    Returns:
        An IngestReport: counts per entity, rejected files with reasons, skipped files.

    Raises:
        IngestError: ``path`` does not exist, the warehouse cannot be opened, or loading a file
            crashed (that file is rolled back; files before it stay loaded).
    """
    started = time.perf_counter()
    db_path, path = Path(db_path), Path(path)
    if not path.exists():
        raise IngestError(f"landing path {path} does not exist")
    candidates, rejected = discover(path)
    report = IngestReport(batch_id=_new_batch_id(), rejected=list(rejected))
    for r in rejected:
        logger.warning("rejected %s: %s", r.file, r.reason)
    con = _connect(db_path)
    try:
        with tqdm(candidates, desc="ingest", unit="file", disable=not progress) as bar:
            for cand in bar:
                _ingest_file(con, cand, report)
                bar.set_postfix(
                    loaded=sum(t.loaded for t in report.tables.values()),
                    quarantined=sum(t.quarantined for t in report.tables.values()),
                    rejected=len(report.rejected),
                    refresh=False,
                )
    finally:
        con.close()
    report.seconds = time.perf_counter() - started
    loaded = sum(t.loaded for t in report.tables.values())
    quarantined = sum(t.quarantined for t in report.tables.values())
    logger.info(
        "ingest batch %s: %d files, %d rows loaded, %d quarantined, %d files skipped (already "
        "ingested), %d rejected, %.1fs",
        report.batch_id,
        sum(t.files for t in report.tables.values()),
        loaded,
        quarantined,
        len(report.skipped_files),
        len(report.rejected),
        report.seconds,
    )
    return report


def _new_batch_id() -> str:
    """Sortable by time and unique across processes: ``20260301T221504Z-1a2b3c4d``."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


def _connect(db_path: Path) -> duckdb.DuckDBPyConnection:
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(db_path))
    except (OSError, duckdb.Error) as exc:
        raise IngestError(f"cannot open the warehouse {db_path}: {exc}") from exc
    try:
        con.execute(Path(__file__).with_name("raw_schema.sql").read_text(encoding="utf-8"))
    except duckdb.Error as exc:
        con.close()
        raise IngestError(f"cannot create the raw schema in {db_path}: {exc}") from exc
    return con


def _reject(report: IngestReport, cand: Candidate, reason: str) -> None:
    report.rejected.append(RejectedFile(str(cand.path), cand.entity, reason))
    logger.warning("rejected %s: %s", cand.path, reason)


def _ingest_file(con: duckdb.DuckDBPyConnection, cand: Candidate, report: IngestReport) -> None:
    """Load one file in one transaction, or reject it, or skip it when already ingested."""
    try:
        fmt = file_format(cand.path)
        data = cand.path.read_bytes()
    except FileRejected as exc:
        _reject(report, cand, str(exc))
        return
    except OSError as exc:
        _reject(report, cand, f"cannot read the file: {exc.strerror or exc}")
        return
    digest = sha256(data)
    seen = con.execute(
        "select source_file from raw.ingested_files where sha256 = ? limit 1", [digest]
    ).fetchall()
    if seen:
        report.skipped_files.append(str(cand.path))
        logger.info("skipped %s: already ingested (same content as %s)", cand.path, seen[0][0])
        return
    try:
        text = check_bytes(data)
    except FileRejected as exc:
        _reject(report, cand, str(exc))
        return
    entity = ENTITIES[cand.entity]
    con.register("landing_lines", lines_table(text))
    try:
        try:
            counts = _transaction(con, entity, fmt, text, cand, digest, report.batch_id, False)
        except duckdb.ConstraintException:
            # A key of this file is already in raw (a re-landed or overlapping file). Rare, so
            # the common path inserts without looking; this one redoes the file and settles
            # those keys against raw before inserting.
            counts = _transaction(con, entity, fmt, text, cand, digest, report.batch_id, True)
    except FileRejected as exc:
        _reject(report, cand, str(exc))
        return
    except Exception as exc:
        raise IngestError(f"loading {cand.path} failed (rolled back): {exc}") from exc
    finally:
        con.unregister("landing_lines")
    report.tables.setdefault(entity.name, TableCounts()).add(counts)
    logger.info(
        "%s: %d rows read, %d loaded, %d duplicate, %d quarantined",
        cand.path,
        counts.rows_read,
        counts.loaded,
        counts.duplicate,
        counts.quarantined,
    )


def _transaction(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    fmt: str,
    text: bytes,
    cand: Candidate,
    digest: str,
    batch_id: str,
    check_existing: bool,
) -> TableCounts:
    """Classify and load one file in one transaction; anything raised rolls it all back."""
    con.execute("begin transaction")
    try:
        if fmt == "jsonl":
            stats = _classify_jsonl(con, entity, text)
            records = "jsonl_records"
        else:
            stats = _classify_csv(con, entity, text)
            records = "csv_records"
        counts = _load(
            con, entity, stats, records, str(cand.path), digest, batch_id, check_existing
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return counts


@dataclass(frozen=True)
class _FileStats:
    """Figures about a classified file (see ``validate.file_stats_sql``)."""

    rows: int
    malformed: int
    last_malformed: bool
    last_line: int | None
    valid: int
    distinct_keys: int
    present: tuple[int, ...]

    @classmethod
    def query(cls, con: duckdb.DuckDBPyConnection, entity: Entity) -> _FileStats:
        rows, bad, last_bad, last_line, valid, keys, *present = _first(
            con, validate.file_stats_sql(entity)
        )
        return cls(rows, bad, last_bad, last_line, valid, keys, tuple(present))


def _classify_jsonl(con: duckdb.DuckDBPyConnection, entity: Entity, text: bytes) -> _FileStats:
    """Build ``classified`` from JSON Lines; reject files that are not JSON Lines of this entity."""
    con.execute(validate.JSONL_RECORDS_SQL)
    con.execute(validate.classify_sql(entity, validate.jsonl_source(entity)))
    stats = _FileStats.query(con, entity)
    if stats.last_malformed and not text.endswith(b"\n"):
        raise FileRejected(
            f"truncated: the last line ({stats.last_line}) is not valid JSON and the file does "
            "not end with a newline (cut off mid-write?)"
        )
    _check_malformed_share(stats.malformed, stats.rows, "lines are not JSON objects")
    missing = [f for f, c in zip(entity.required, stats.present, strict=True) if c == 0]
    if stats.rows > stats.malformed and missing:
        raise FileRejected(
            f"missing required fields (absent from every line): {', '.join(missing)}"
        )
    return stats


def _classify_csv(con: duckdb.DuckDBPyConnection, entity: Entity, text: bytes) -> _FileStats:
    """Build ``classified`` from CSV; reject files whose header or quoting is unusable."""
    con.execute(validate.csv_records_sql(has_quotes=b'"' in text))
    unterminated = _first(
        con, "select line_no from csv_records where open_quote order by line_no limit 1"
    )
    if unterminated is not None:
        raise FileRejected(
            f"unterminated quoted field starting at line {unterminated[0]} "
            "(truncated file or an unbalanced quote)"
        )
    header = _first(con, validate.CSV_HEADER_SQL)
    if header is None:  # only blank lines: check_bytes already rejects this; defensive
        raise FileRejected("empty file (no header)")
    header_line, names, bad_quoting = header
    if bad_quoting:
        raise FileRejected(f"malformed CSV header at line {header_line}")
    names = [n.strip().lower() for n in names]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise FileRejected(f"duplicate columns in the header: {', '.join(dupes)}")
    missing = [f for f in entity.required if f not in names]
    if missing:
        raise FileRejected(
            f"missing required columns: {', '.join(missing)} (header has: {', '.join(names)})"
        )
    columns = {f: names.index(f) + 1 for f in entity.field_names if f in names}
    source = validate.csv_source(entity, header_line, columns, len(names))
    con.execute(validate.classify_sql(entity, source))
    stats = _FileStats.query(con, entity)
    _check_malformed_share(stats.malformed, stats.rows, "records are malformed")
    return stats


def _first(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> tuple | None:
    """The first row of a result, reading it to the end: DuckDB refuses to register or
    unregister an Arrow table while a result on the connection is still unfinished."""
    rows = con.execute(sql, params).fetchall()
    return rows[0] if rows else None


def _count(con: duckdb.DuckDBPyConnection, where: str) -> int:
    return _first(con, f"select count(*) from classified where {where}")[0]


def _check_malformed_share(bad: int, n: int, what: str) -> None:
    if n and bad > MAX_MALFORMED_SHARE * n:
        raise FileRejected(
            f"{bad} of {n} {what} (more than {MAX_MALFORMED_SHARE:.0%}): "
            "not this format, or badly damaged"
        )


def _load(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    stats: _FileStats,
    records: str,
    source_file: str,
    digest: str,
    batch_id: str,
    check_existing: bool,
) -> TableCounts:
    """Settle repeated keys in ``classified``, write loaded and quarantined rows and the file.

    The common file (no repeated key, no key already loaded) takes the fast path: one plain
    insert, whose primary key raises ConstraintException if a key is already loaded, and the
    figures it already has. With ``check_existing`` keys already in raw are settled first.
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    params = {"file": source_file, "batch": batch_id}
    settled = stats.distinct_keys == stats.valid
    if not settled:
        con.execute(validate.repeats_sql(entity, source_file))
    if check_existing:
        con.execute(validate.resolve_existing_sql(entity), params)
        settled = False
    inserted = _first(con, validate.insert_sql(entity), {**params, "now": now})[0]
    if settled:
        counts = TableCounts(1, stats.rows, stats.valid, 0, stats.rows - stats.valid)
    else:
        counts = TableCounts(
            files=1,
            rows_read=stats.rows,
            loaded=_count(con, "status = 'load'"),
            duplicate=_count(con, "status = 'duplicate'"),
            quarantined=_count(con, "status = 'quarantine'"),
        )
    if counts.loaded != inserted or counts.rows_read != (
        counts.loaded + counts.duplicate + counts.quarantined
    ):  # the classification and the table disagree: never commit that
        raise RuntimeError(f"counts do not add up: {counts} with {inserted} rows inserted")
    if counts.quarantined:
        con.execute(validate.quarantine_sql(records), {**params, "entity": entity.name, "now": now})
    con.execute(
        "insert into raw.ingested_files (batch_id, entity, source_file, sha256, rows_read, "
        "rows_loaded, rows_duplicate, rows_quarantined, ingested_at) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            batch_id,
            entity.name,
            source_file,
            digest,
            counts.rows_read,
            counts.loaded,
            counts.duplicate,
            counts.quarantined,
            now,
        ],
    )
    return counts
