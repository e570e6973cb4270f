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
  row in set-based statements generated from ``spec.py`` (see ``validate.py``). Consecutive
  files of one entity and format are classified together in one statement (a chunk), because
  planning that statement costs as much as classifying a thousand rows; the writes stay per file.

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
(entities run in dependency order).

Time you can trust (``TimeRules`` of ``warehouse/ingest_config.py``, the settings group
``ingest``): an event time after the batch's ingest time plus ``ingest.future_tolerance_hours``,
or before ``ingest.earliest_event_date``, is quarantined like any other bad value; so are views
before the title's release or the user's signup, ratings before the user first played the
title, subscription events out of lifecycle order and overlapping sessions of one user on one
device (``validate.context_faults_sql``). Late data: a row whose only fault is an unknown user or
title *waits* in ``raw.quarantine`` (``waiting_for``); when a later batch lands users or titles,
or on ``ingest_path(..., retry_quarantine=True)`` (``tastemaker ingest --retry-quarantine``),
waiting rows are classified again with every rule and loaded once (``readmitted_at``), stay
waiting, or stay quarantined with their real fault. See docs/data-contract.md.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
from tqdm import tqdm

from warehouse import validate
from warehouse.landing import (
    Candidate,
    FileRejected,
    check_bytes,
    chunk_table,
    discover,
    file_format,
    sha256,
)
from warehouse.report import IngestError, IngestReport, RejectedFile, TableCounts
from warehouse.spec import DIMENSIONS, ENTITIES, Entity
from warehouse.validate import TimeRules, TimeWindow

__all__ = ["IngestError", "IngestReport", "RejectedFile", "TableCounts", "ingest_path"]

logger = logging.getLogger(__name__)

#: More than this share of unparseable records makes a file "not the expected format".
MAX_MALFORMED_SHARE = 0.5
#: A chunk (files classified by one statement) stops growing at either limit.
CHUNK_MAX_FILES = 64
CHUNK_MAX_BYTES = 32 * 1024 * 1024


def ingest_path(
    db_path: Path,
    path: Path | None,
    *,
    progress: bool = False,
    rules: TimeRules | None = None,
    retry_quarantine: bool = False,
) -> IngestReport:
    """Ingest a landing root, one entity folder or one file into ``raw`` at ``db_path``.

    Opens its own DuckDB connection (creating the file and the ``raw`` schema if needed) and
    closes it before returning, so the caller can run dbt right after. The caller must hold the
    warehouse's one-writer lock.

    Args:
        db_path: the DuckDB warehouse file.
        path: a landing root (entity sub-folders), one entity folder, or one file (its entity is
            its parent folder's name).
        progress: show a tqdm progress bar over files.
        rules: the plausibility rules in time; default: as the settings say.
        retry_quarantine: retry every row waiting for a user or title even when this batch
            landed none (they are retried anyway when it did). ``path`` may then be None.

    Returns:
        An IngestReport: counts per entity, rejected files with reasons, skipped files, rows
        re-admitted from quarantine.

    Raises:
        IngestError: ``path`` does not exist, the warehouse cannot be opened, or loading a file
            crashed (that file is rolled back; files before it stay loaded).
    """
    started = time.perf_counter()
    if rules is None:
        from warehouse.settings import get_settings

        rules = get_settings().ingest
    db_path = Path(db_path)
    candidates: list[Candidate] = []
    rejected: list[RejectedFile] = []
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise IngestError(f"landing path {path} does not exist")
        candidates, rejected = discover(path)
    elif not retry_quarantine:
        raise IngestError("nothing to do: no landing path and no quarantine retry")
    report = IngestReport(batch_id=new_batch_id(), rejected=list(rejected))
    # One ingest time for the whole batch: the future rule and the lineage agree on it.
    window = TimeWindow(rules, _utc_now())
    for r in rejected:
        logger.warning("rejected %s: %s", r.file, r.reason)
    con = _connect(db_path)
    try:
        with tqdm(total=len(candidates), desc="ingest", unit="file", disable=not progress) as bar:
            for chunk in _chunks(con, candidates, report, bar):
                _ingest_chunk(con, chunk, report, bar, window)
        dimension_landed = any(report.tables[d].loaded for d in DIMENSIONS if d in report.tables)
        if retry_quarantine or dimension_landed:
            readmit_waiting(con, report, window)
        report.waiting = _first(
            con,
            "select count(*) from raw.quarantine "
            "where waiting_for is not null and readmitted_at is null",
        )[0]
    finally:
        con.close()
    report.seconds = time.perf_counter() - started
    logger.info(
        "ingest batch %s: %d files, %d rows loaded, %d quarantined, %d files skipped (already "
        "ingested), %d rejected, %.1fs",
        report.batch_id,
        sum(t.files for t in report.tables.values()),
        sum(t.loaded for t in report.tables.values()),
        sum(t.quarantined for t in report.tables.values()),
        len(report.skipped_files),
        len(report.rejected),
        report.seconds,
    )
    return report


def _utc_now() -> datetime:
    """Now in UTC as a naive timestamp, as `raw` stores instants."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_batch_id() -> str:
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


@dataclass
class _Landed:
    """A file read and byte-checked, waiting in a chunk to be classified and loaded."""

    cand: Candidate
    fmt: str
    digest: str
    text: bytes
    file_no: int = 0
    #: a CSV file's header line (kept with waiting rows so they can be parsed again)
    header: str | None = None
    #: a re-admission: the batch that first quarantined these rows (None: a landed file)
    readmit_batch: str | None = None
    #: later files of this batch with the same content: skipped if this one loads
    same_content: list[Candidate] = field(default_factory=list)


def _reject(report: IngestReport, cand: Candidate, reason: str) -> None:
    report.rejected.append(RejectedFile(str(cand.path), cand.entity, reason))
    logger.warning("rejected %s: %s", cand.path, reason)


def _skip(report: IngestReport, cand: Candidate, first: str) -> None:
    report.skipped_files.append(str(cand.path))
    logger.debug("skipped %s: already ingested (same content as %s)", cand.path, first)


def _chunks(
    con: duckdb.DuckDBPyConnection, candidates: list[Candidate], report: IngestReport, bar: tqdm
) -> Iterator[list[_Landed]]:
    """Read and byte-check files in order, yielding runs of one entity and format.

    Lazy on purpose: a chunk is loaded before the next file is read, so the content-hash check
    sees every file committed before it.
    """
    chunk: list[_Landed] = []
    size = 0
    pending: dict[str, _Landed] = {}  # content hash -> its first file not yet committed
    for cand in candidates:
        landed = _read(con, cand, report, pending)
        if landed is None:
            bar.update()
            continue
        if chunk and (
            (landed.cand.entity, landed.fmt) != (chunk[0].cand.entity, chunk[0].fmt)
            or len(chunk) >= CHUNK_MAX_FILES
            or size + len(landed.text) > CHUNK_MAX_BYTES
        ):
            yield chunk
            chunk, size = [], 0
        pending[landed.digest] = landed
        chunk.append(landed)
        size += len(landed.text)
    if chunk:
        yield chunk


def _read(
    con: duckdb.DuckDBPyConnection,
    cand: Candidate,
    report: IngestReport,
    pending: dict[str, _Landed],
) -> _Landed | None:
    """The file ready to classify, or None when it is skipped or rejected (reported here)."""
    try:
        fmt = file_format(cand.path)
        data = cand.path.read_bytes()
    except FileRejected as exc:
        _reject(report, cand, str(exc))
        return None
    except OSError as exc:
        _reject(report, cand, f"cannot read the file: {exc.strerror or exc}")
        return None
    digest = sha256(data)
    seen = con.execute(
        "select source_file from raw.ingested_files where sha256 = ? limit 1", [digest]
    ).fetchall()
    if seen:
        _skip(report, cand, seen[0][0])
        return None
    if digest in pending:  # same content earlier in this batch, not committed yet
        pending[digest].same_content.append(cand)
        return None
    try:
        text = check_bytes(data)
    except FileRejected as exc:
        _reject(report, cand, str(exc))
        return None
    return _Landed(cand, fmt, digest, text)


def _ingest_chunk(
    con: duckdb.DuckDBPyConnection,
    chunk: list[_Landed],
    report: IngestReport,
    bar: tqdm,
    window: TimeWindow,
    lines: pa.Table | None = None,
) -> None:
    """Classify a chunk in one go, then load each file in its own transaction, in order.

    ``lines`` replaces the files' own lines (a re-admission keeps each row's original line).
    """
    entity, fmt = ENTITIES[chunk[0].cand.entity], chunk[0].fmt
    for k, landed in enumerate(chunk):
        landed.file_no = k
    if lines is None:
        lines = chunk_table([landed.text for landed in chunk])
    con.register("landing_lines", lines)
    try:
        try:
            if fmt == "jsonl":
                outcome = _classify_jsonl(con, entity, chunk, window)
                records = "jsonl_records"
            else:
                outcome = _classify_csv(con, entity, chunk, window)
                records = "csv_records"
        except duckdb.Error as exc:
            raise IngestError(
                f"classifying {len(chunk)} file(s) from {chunk[0].cand.path} failed: {exc}"
            ) from exc
        for landed in chunk:
            result = outcome[landed.file_no]
            if isinstance(result, str):
                _reject(report, landed.cand, result)
                for other in landed.same_content:
                    _reject(report, other, result)
            elif landed.readmit_batch is not None:
                counts = _readmit_file(con, entity, landed, result, report.batch_id, window.now)
                report.readmitted.setdefault(entity.name, TableCounts()).add(counts)
            else:
                counts = _load_file(
                    con, entity, landed, result, records, report.batch_id, window.now
                )
                report.tables.setdefault(entity.name, TableCounts()).add(counts)
                logger.debug(
                    "%s: %d rows read, %d loaded, %d duplicate, %d quarantined",
                    landed.cand.path,
                    counts.rows_read,
                    counts.loaded,
                    counts.duplicate,
                    counts.quarantined,
                )
                for other in landed.same_content:
                    _skip(report, other, str(landed.cand.path))
            bar.update(1 + len(landed.same_content))
            bar.set_postfix(
                loaded=sum(t.loaded for t in report.tables.values()),
                quarantined=sum(t.quarantined for t in report.tables.values()),
                rejected=len(report.rejected),
                refresh=False,
            )
    finally:
        con.unregister("landing_lines")


def _load_file(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    landed: _Landed,
    stats: _FileStats,
    records: str,
    batch_id: str,
    now: datetime,
) -> TableCounts:
    """Write one classified file in one transaction; IngestError if that fails (rolled back)."""
    try:
        try:
            return _transaction(con, entity, landed, stats, records, batch_id, now, False)
        except duckdb.ConstraintException:
            # A key of this file is already in raw (a re-landed or overlapping file). Rare, so
            # the common path inserts without looking; this one settles those keys against raw
            # before inserting. The classification itself is still valid.
            return _transaction(con, entity, landed, stats, records, batch_id, now, True)
    except Exception as exc:
        raise IngestError(f"loading {landed.cand.path} failed (rolled back): {exc}") from exc


def _transaction(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    landed: _Landed,
    stats: _FileStats,
    records: str,
    batch_id: str,
    now: datetime,
    check_existing: bool,
) -> TableCounts:
    """Load one file in one transaction; anything raised rolls it all back."""
    con.execute("begin transaction")
    try:
        counts = _load(con, entity, landed, stats, records, batch_id, now, check_existing)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return counts


@dataclass(frozen=True)
class _FileStats:
    """Figures about one classified file (see ``validate.file_stats_sql``)."""

    rows: int
    malformed: int
    last_malformed: bool
    last_line: int | None
    valid: int
    distinct_keys: int
    present: tuple[int, ...]

    @classmethod
    def query(cls, con: duckdb.DuckDBPyConnection, entity: Entity) -> dict[int, _FileStats]:
        """Stats per file_no; a file without rows (header-only CSV) has none."""
        rows = con.execute(validate.file_stats_sql(entity)).fetchall()
        return {r[0]: cls(*r[1:7], tuple(r[7:])) for r in rows}

    @classmethod
    def empty(cls, entity: Entity) -> _FileStats:
        return cls(0, 0, False, None, 0, 0, tuple(0 for _ in entity.required))


def _classify_in_context(
    con: duckdb.DuckDBPyConnection, entity: Entity, window: TimeWindow
) -> None:
    """Quarantine rows of ``classified`` that pass every row check but not the rules that
    need their dimensions or their neighbours in time (``validate.context_faults_sql``)."""
    faults = validate.context_faults_sql(entity, window.rules)
    if faults is None:
        return
    con.execute(f"create or replace temp table context_faults as {faults}")
    con.execute(validate.apply_context_sql())


def _classify_jsonl(
    con: duckdb.DuckDBPyConnection, entity: Entity, chunk: list[_Landed], window: TimeWindow
) -> dict[int, _FileStats | str]:
    """Build ``classified`` from JSON Lines; per file its stats, or why it is rejected."""
    con.execute(validate.JSONL_RECORDS_SQL)
    con.execute(validate.classify_sql(entity, validate.jsonl_source(entity), window=window))
    _classify_in_context(con, entity, window)
    by_file = _FileStats.query(con, entity)
    outcome: dict[int, _FileStats | str] = {}
    for landed in chunk:
        stats = by_file.get(landed.file_no, _FileStats.empty(entity))
        missing = [f for f, c in zip(entity.required, stats.present, strict=True) if c == 0]
        if stats.last_malformed and not landed.text.endswith(b"\n"):
            outcome[landed.file_no] = (
                f"truncated: the last line ({stats.last_line}) is not valid JSON and the file "
                "does not end with a newline (cut off mid-write?)"
            )
        elif _too_malformed(stats):
            outcome[landed.file_no] = (
                f"{stats.malformed} of {stats.rows} lines are not JSON objects {_MALFORMED_TAIL}"
            )
        elif stats.rows > stats.malformed and missing:
            outcome[landed.file_no] = (
                f"missing required fields (absent from every line): {', '.join(missing)}"
            )
        else:
            outcome[landed.file_no] = stats
    return outcome


def _classify_csv(
    con: duckdb.DuckDBPyConnection, entity: Entity, chunk: list[_Landed], window: TimeWindow
) -> dict[int, _FileStats | str]:
    """Build ``classified`` from CSV; per file its stats, or why it is rejected.

    Files are grouped by header (almost always one group): each group is one statement.
    """
    has_quotes = any(b'"' in landed.text for landed in chunk)
    con.execute(validate.csv_records_sql(has_quotes))
    unterminated = dict(
        con.execute(
            "select file_no, min(line_no) from csv_records where open_quote group by file_no"
        ).fetchall()
    )
    headers = {r[0]: r[1:] for r in con.execute(validate.CSV_HEADERS_SQL).fetchall()}
    outcome: dict[int, _FileStats | str] = {}
    groups: dict[tuple[str, ...], dict[int, int]] = {}
    for landed in chunk:
        k = landed.file_no
        if k in unterminated:
            outcome[k] = (
                f"unterminated quoted field starting at line {unterminated[k]} "
                "(truncated file or an unbalanced quote)"
            )
        elif k not in headers:  # only blank lines: check_bytes already rejects this
            outcome[k] = "empty file (no header)"
        else:
            header_line, names, bad_quoting, landed.header = headers[k]
            problem = _header_problem(entity, header_line, names, bad_quoting)
            if problem:
                outcome[k] = problem
            else:
                names = tuple(n.strip().lower() for n in names)
                groups.setdefault(names, {})[k] = header_line
    for n, (names, header_lines) in enumerate(groups.items()):
        columns = {f: names.index(f) + 1 for f in entity.field_names if f in names}
        source = validate.csv_source(entity, header_lines, columns, len(names))
        con.execute(validate.classify_sql(entity, source, append=n > 0, window=window))
    if groups:
        _classify_in_context(con, entity, window)
    by_file = _FileStats.query(con, entity) if groups else {}
    for landed in chunk:
        if landed.file_no in outcome:
            continue
        stats = by_file.get(landed.file_no, _FileStats.empty(entity))
        outcome[landed.file_no] = (
            f"{stats.malformed} of {stats.rows} records are malformed {_MALFORMED_TAIL}"
            if _too_malformed(stats)
            else stats
        )
    return outcome


def _header_problem(
    entity: Entity, header_line: int, names: list[str], bad_quoting: bool
) -> str | None:
    if bad_quoting:
        return f"malformed CSV header at line {header_line}"
    names = [n.strip().lower() for n in names]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        return f"duplicate columns in the header: {', '.join(dupes)}"
    missing = [f for f in entity.required if f not in names]
    if missing:
        return f"missing required columns: {', '.join(missing)} (header has: {', '.join(names)})"
    return None


_MALFORMED_TAIL = f"(more than {MAX_MALFORMED_SHARE:.0%}): not this format, or badly damaged"


def _too_malformed(stats: _FileStats) -> bool:
    return stats.rows > 0 and stats.malformed > MAX_MALFORMED_SHARE * stats.rows


def _first(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> tuple | None:
    """The first row of a result, reading it to the end: DuckDB refuses to register or
    unregister an Arrow table while a result on the connection is still unfinished."""
    rows = con.execute(sql, params).fetchall()
    return rows[0] if rows else None


def _load(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    landed: _Landed,
    stats: _FileStats,
    records: str,
    batch_id: str,
    now: datetime,
    check_existing: bool,
) -> TableCounts:
    """Settle repeated keys of one file, write its loaded and quarantined rows and its record.

    The common file (no repeated key, no key already loaded) takes the fast path: one plain
    insert, whose primary key raises ConstraintException if a key is already loaded, and the
    figures it already has. With ``check_existing`` keys already in raw are settled first.
    """
    source_file = str(landed.cand.path)
    params = {"file_no": landed.file_no, "file": source_file, "batch": batch_id}
    settled = stats.distinct_keys == stats.valid
    if not settled:
        con.execute(validate.repeats_sql(entity, source_file), {"file_no": landed.file_no})
    if check_existing:
        con.execute(validate.resolve_existing_sql(entity), params)
        settled = False
    inserted = _first(con, validate.insert_sql(entity), {**params, "now": now})[0]
    if settled:
        counts = TableCounts(1, stats.rows, stats.valid, 0, stats.rows - stats.valid)
    else:
        by_status = dict(
            con.execute(
                "select status, count(*) from classified where file_no = ? group by status",
                [landed.file_no],
            ).fetchall()
        )
        counts = TableCounts(
            files=1,
            rows_read=stats.rows,
            loaded=by_status.get("load", 0),
            duplicate=by_status.get("duplicate", 0),
            quarantined=by_status.get("quarantine", 0),
        )
    if counts.loaded != inserted or counts.rows_read != (
        counts.loaded + counts.duplicate + counts.quarantined
    ):  # the classification and the table disagree: never commit that
        raise RuntimeError(f"counts do not add up: {counts} with {inserted} rows inserted")
    if counts.quarantined:
        con.execute(
            validate.quarantine_sql(records),
            {**params, "entity": entity.name, "now": now, "header": landed.header},
        )
    con.execute(
        "insert into raw.ingested_files (batch_id, entity, source_file, sha256, rows_read, "
        "rows_loaded, rows_duplicate, rows_quarantined, ingested_at) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            batch_id,
            entity.name,
            source_file,
            landed.digest,
            counts.rows_read,
            counts.loaded,
            counts.duplicate,
            counts.quarantined,
            now,
        ],
    )
    return counts


# --------------------------------------------------------------------------------------------
# late data: rows waiting for a dimension
# --------------------------------------------------------------------------------------------


def readmit_waiting(
    con: duckdb.DuckDBPyConnection, report: IngestReport, window: TimeWindow
) -> None:
    """Classify every row waiting in quarantine again, entity by entity in dependency order,
    and load those that now pass every rule, each exactly once.

    A waiting row is parsed from the text kept in quarantine (with its CSV header), at its
    original file and line, so a re-admitted row carries the same lineage as if it had loaded
    the first time (plus this batch's id and ingest time). The rows of one original file are
    one transaction: the raw rows and the quarantine's ``readmitted_at`` commit together, so a
    crash can neither lose nor double a row, and a re-admitted row is never tried again.
    """
    for entity in ENTITIES.values():
        rows = con.execute(
            "select batch_id, source_file, source_line, record, header from raw.quarantine "
            "where entity = ? and waiting_for is not null and readmitted_at is null "
            "and batch_id <> ? "  # this batch's rows were just judged with its dimensions
            "order by quarantined_at, batch_id, source_file, source_line",
            [entity.name, report.batch_id],
        ).fetchall()
        files: dict[tuple[str, str, str | None], list[tuple[int, str]]] = {}
        for batch, source_file, line, record, header in rows:
            files.setdefault((batch, source_file, header), []).append((line, record))
        for fmt in ("jsonl", "csv"):
            group = [(k, v) for k, v in files.items() if (k[2] is None) == (fmt == "jsonl")]
            for start in range(0, len(group), CHUNK_MAX_FILES):
                part = group[start : start + CHUNK_MAX_FILES]
                chunk = [
                    _Landed(
                        Candidate(entity.name, Path(source_file)),
                        fmt,
                        "",
                        _synthetic_text(header, records),
                        header=header,
                        readmit_batch=batch,
                    )
                    for (batch, source_file, header), records in part
                ]
                lines = _waiting_lines([(k[2], v) for k, v in part])
                with tqdm(total=len(chunk), disable=True) as bar:
                    _ingest_chunk(con, chunk, report, bar, window, lines=lines)
    for name, counts in report.readmitted.items():
        logger.info(
            "%s: %d waiting rows re-admitted, %d still quarantined, %d duplicates",
            name,
            counts.loaded,
            counts.quarantined,
            counts.duplicate,
        )


def _synthetic_text(header: str | None, records: list[tuple[int, str]]) -> bytes:
    """The rows as one file's bytes, for the file-level checks (quotes, a final newline)."""
    body = [r for _, r in records]
    return ("\n".join(([header] if header is not None else []) + body) + "\n").encode()


def _waiting_lines(files: list[tuple[str | None, list[tuple[int, str]]]]) -> pa.Table:
    """``landing_lines`` for waiting rows: each record at its original line number (a CSV
    record spanning lines keeps its lines in order), a CSV header at line 0."""
    file_nos: list[int] = []
    line_nos: list[int] = []
    texts: list[str] = []
    for k, (header, records) in enumerate(files):
        if header is not None:
            file_nos.append(k)
            line_nos.append(0)
            texts.append(header)
        for line, record in records:
            for offset, part in enumerate(record.split("\n")):
                file_nos.append(k)
                line_nos.append(line + offset)
                texts.append(part)
    return pa.table(
        {
            "file_no": pa.array(file_nos, pa.int64()),
            "line_no": pa.array(line_nos, pa.int64()),
            "line": pa.array(texts, pa.large_string()),
        }
    )


def _readmit_file(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    landed: _Landed,
    stats: _FileStats,
    batch_id: str,
    now: datetime,
) -> TableCounts:
    """Load the waiting rows of one original file that now pass, and record in the quarantine
    what became of each, in one transaction (IngestError if it fails: rolled back)."""
    source_file = str(landed.cand.path)
    params = {"file_no": landed.file_no, "file": source_file}
    con.execute("begin transaction")
    try:
        if stats.distinct_keys != stats.valid:
            con.execute(validate.repeats_sql(entity, source_file), {"file_no": landed.file_no})
        # Keys already loaded (the same row re-landed, and re-admitted from an earlier copy):
        # compare with every raw row ("" is no batch), so nothing is loaded twice.
        con.execute(validate.resolve_existing_sql(entity), {**params, "batch": ""})
        con.execute(validate.insert_sql(entity), {**params, "batch": batch_id, "now": now})
        con.execute(
            validate.readmit_update_sql(),
            {
                **params,
                "batch": batch_id,
                "now": now,
                "entity": entity.name,
                "first_batch": landed.readmit_batch,
            },
        )
        by_status = dict(
            con.execute(
                "select status, count(*) from classified where file_no = ? group by status",
                [landed.file_no],
            ).fetchall()
        )
        con.execute("commit")
    except BaseException as exc:
        con.execute("rollback")
        raise IngestError(
            f"re-admitting rows of {source_file} failed (rolled back): {exc}"
        ) from exc
    return TableCounts(
        files=1,
        rows_read=stats.rows,
        loaded=by_status.get("load", 0),
        duplicate=by_status.get("duplicate", 0),
        quarantined=by_status.get("quarantine", 0),
    )
