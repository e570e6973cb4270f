"""SQL that turns a file's physical lines into classified rows, generated from the entity spec.

Every row of a file is parsed, typed and classified in a few set-based DuckDB statements (no
Python per row). Several files of one entity and format are classified together (a *chunk*: SQL
planning costs as much as classifying a thousand rows, so small files would otherwise be
dominated by it); every row carries its ``file_no`` and every write is per file, in that file's
own transaction. The caller registers the chunk's lines as
``landing_lines(file_no, line_no, line)`` and runs:

1. a source subquery: one row per record (its first physical line), a ``parse_error``
   (malformed JSON, not an object, wrong CSV field count, bad quoting) and every contract field
   as trimmed text ``v_<field>`` (empty text is NULL); a ``*_records`` view or table gives each
   record's text for quarantine.
2. ``classified`` (fed by the source): typed columns, ``status`` (``load`` | ``duplicate`` |
   ``quarantine``) and the ``reason``: every failing check, joined with "; " in this order:
   parse error (alone), missing required field, wrong type (fields in contract order), value
   not in its vocabulary, entity checks (ranges), the time window of event times
   (:class:`TimeWindow`), unknown references (alone, they make the row wait: ``_waiting``);
   then :func:`context_faults_sql` judges the rows that passed against their dimensions and
   their neighbours in time, and :func:`repeats_sql`
   settles keys repeated within the file and :func:`resolve_existing_sql` keys already in `raw`
   (only for a file whose insert hit the primary key; a conflict is the reason of a row that
   passed every other check, so it stands alone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from warehouse.ingest_config import TimeRules
from warehouse.spec import ENTITIES, Entity, Field, show

#: ISO-8601 date-time with an optional zone; a missing zone is detected (and rejected) separately.
TS_PATTERN = (
    r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)"  # local date-time
    r"\s*([Zz]|[+-]\d{2}(?::?[0-5]\d)?)?$"  # zone: Z, +05:30, +0530 or +05
)
#: One CSV field followed by its comma (the record gets a trailing comma appended), RFC 4180 quotes.
CSV_FIELD_PATTERN = r'("(?:[^"]|"")*"|[^,"]*),'
#: SQL: the line has a character other than blanks (spaces, tabs, a CR) - a regex that stops at
#: the first such character, unlike trim(), which walks the whole (possibly long) line.
_NOT_BLANK = r"regexp_matches(line, '[^ \t\r]')"
_RECORD_NOT_BLANK = _NOT_BLANK.replace("line", "record")
#: SQL: the line without a trailing CR (files written with CRLF line ends); a CSV record that
#: spans lines is joined with LF.
_NO_CR = "case when ends_with(line, chr(13)) then line[:-2] else line end"
#: Largest UTC offset in use anywhere (+14:00, Kiribati).
MAX_OFFSET_HOURS = 14


@dataclass(frozen=True)
class TimeWindow:
    """The rules applied to one batch: ``now`` is the batch's ingest time (naive UTC)."""

    rules: TimeRules
    now: datetime

    @property
    def horizon(self) -> datetime:
        """The latest plausible event instant (UTC)."""
        return self.now + timedelta(hours=self.rules.future_tolerance_hours)

    @property
    def horizon_date(self) -> date:
        """The latest plausible local calendar date: the horizon in the most eastern zone."""
        return (self.horizon + timedelta(hours=MAX_OFFSET_HOURS)).date()


def q(name: str) -> str:
    """A quoted SQL identifier (``cast`` is a keyword; quote everything generated)."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _v(f: Field) -> str:
    return q(f"v_{f.name}")


# --------------------------------------------------------------------------------------------
# parsing: lines -> source rows
# --------------------------------------------------------------------------------------------


def jsonl_source(entity: Entity) -> str:
    """Parsed rows of a JSON Lines file: one per non-blank physical line.

    Each line is validated (cheap) and parsed once, by ``from_json`` into a struct of VARCHAR
    fields (numbers and booleans arrive as their JSON text, so type checks see exactly what was
    landed). Guarding with ``json_valid`` rather than relying on ``try`` alone matters: ``try``
    re-evaluates a whole vector row by row once any row in it fails, which made files with a
    few malformed lines 6x slower. Only malformed lines, and valid lines not starting with
    ``{``, pay for a second look that names the problem.
    """
    struct = "{" + ", ".join(f'"{f.name}": "VARCHAR"' for f in entity.fields) + "}"
    values = ",\n    ".join(f"nullif(trim(s.{q(f.name)}), '') as {_v(f)}" for f in entity.fields)
    not_object = "'JSON line is not an object (got ' || lower(json_type(line)) || ')'"
    return f"""
select file_no, line_no,
    case when s is null then
             case when json_valid(line) then {not_object} else 'malformed JSON' end
         when not starts_with(line, '{{') and json_type(line) <> 'OBJECT' then {not_object}
    end as parse_error,
    {values}
from (
    select file_no, line_no, line,
        case when json_valid(line) then try(from_json(line, {lit(struct)})) end as s
    from landing_lines
)
where s is not null or {_NOT_BLANK}
"""


#: Record text of a JSON Lines file for quarantine rows (a view: only quarantined lines are read).
JSONL_RECORDS_SQL = f"""
create or replace temp view jsonl_records as
select file_no, line_no, {_NO_CR} as record from landing_lines
"""


def file_stats_sql(entity: Entity) -> str:
    """Figures per file of ``classified`` for the file-level rules and the fast paths.

    Columns: file_no, rows, malformed rows, whether the last row is malformed, its line, valid rows,
    distinct keys among valid rows (fewer than valid rows: the file repeats a key), then per
    required field how many well-formed rows carry it (0: the file lacks that field altogether).
    """
    key = ", ".join(q(k) for k in entity.key)
    has = "".join(
        f",\n       count(*) filter (where {q('_has_' + f.name)} and not _malformed)"
        for f in _required(entity)
    )
    return f"""
select file_no, count(*), count(*) filter (where _malformed),
       coalesce(arg_max(_malformed, line_no), false), max(line_no),
       count(*) filter (where _valid), count(distinct ({key})) filter (where _valid){has}
from classified
group by file_no
"""


def _required(entity: Entity) -> list[Field]:
    return [f for f in entity.fields if f.required]


def csv_records_sql(has_quotes: bool) -> str:
    """``csv_records(file_no, line_no, record, open_quote)``: physical lines joined into records.

    A quoted field may span lines, so a line starts a new record only when the quotes before it
    are balanced (an even count of ``"``: RFC 4180 escapes a quote by doubling it, which keeps the
    parity). ``line_no`` is the record's first physical line. Without any quote in the file every
    line is a record and the window pass is skipped.
    """
    if not has_quotes:
        return f"""
create or replace temp table csv_records as
select file_no, line_no, {_NO_CR} as record, false as open_quote from landing_lines
"""
    return f"""
create or replace temp table csv_records as
with counted as (
    select file_no, line_no, {_NO_CR} as line,
           length(line) - length(replace(line, '"', '')) as quotes
    from landing_lines
), starts as (
    select *, coalesce(sum(quotes) over (partition by file_no order by line_no
                        rows between unbounded preceding and 1 preceding), 0) % 2 = 0 as starts
    from counted
), numbered as (
    select *, sum(starts::integer) over (partition by file_no order by line_no
                                         rows unbounded preceding) as rec
    from starts
)
select file_no, min(line_no) as line_no, string_agg(line, chr(10) order by line_no) as record,
       sum(quotes) % 2 = 1 as open_quote
from numbered group by file_no, rec
"""


def csv_split_sql(source: str) -> str:
    """``(file_no, line_no, record, bad_quoting, f)``, ``f`` the unquoted fields of a record.

    Records without a quote are split on commas; quoted ones with a regular expression. A record
    whose fields do not join back to the exact record text has a stray quote (inside an unquoted
    field, or text after a closing quote) and is flagged rather than silently mangled.
    """
    pattern = lit(CSV_FIELD_PATTERN)
    return f"""
select file_no, line_no, record,
    coalesce(quoted and array_to_string(raw, ',') <> record, false) as bad_quoting,
    case when quoted
         then list_transform(raw, lambda x: case when starts_with(x, '"')
                                             then replace(x[2:-2], '""', '"') else x end)
         else string_split(record, ',') end as f
from (
    select file_no, line_no, record, quoted,
        case when quoted then regexp_extract_all(record || ',', {pattern}, 1) end as raw
    from (select file_no, line_no, record, contains(record, '"') as quoted from ({source}))
)
"""


#: Each file's header: its first non-blank record, split into fields, and its text.
CSV_HEADERS_SQL = f"""
select file_no, line_no, f, bad_quoting, record from ({
    csv_split_sql(
        "select file_no, line_no, record from ("
        "select *, row_number() over (partition by file_no order by line_no) as nth "
        f"from csv_records where {_RECORD_NOT_BLANK}) where nth = 1"
    )
})
order by file_no
"""


def csv_source(
    entity: Entity, header_lines: dict[int, int], columns: dict[str, int], width: int
) -> str:
    """Parsed rows of CSV records after the header, for the files in ``header_lines``
    (file_no -> header line), which share one header: ``columns`` maps a field to its 1-based
    index. Contract fields missing from the header (only optional ones get this far) are NULL.
    """
    values = ",\n    ".join(
        (f"nullif(trim(f[{columns[f.name]}]), '')" if f.name in columns else "null::varchar")
        + f" as {_v(f)}"
        for f in entity.fields
    )
    files = ", ".join(f"({int(k)}, {int(v)})" for k, v in header_lines.items())
    source = (
        "select r.file_no, r.line_no, r.record from csv_records r "
        f"join (values {files}) h(file_no, header_line) "
        f"on r.file_no = h.file_no and r.line_no > h.header_line where {_RECORD_NOT_BLANK}"
    )
    return f"""
select file_no, line_no,
    case when bad_quoting then 'malformed CSV quoting (a quote inside an unquoted field or '
                                || 'text after a closing quote)'
         when len(f) <> {width} then 'expected {width} fields as in the header, got ' || len(f)
    end as parse_error,
    {values}
from ({csv_split_sql(source)})
"""


# --------------------------------------------------------------------------------------------
# classification: source rows -> classified
# --------------------------------------------------------------------------------------------


def _typed(f: Field) -> list[str]:
    """Typed column expressions (over ``v_*`` and the ``_ts_*`` parts) for one field."""
    v = _v(f)
    name = q(f.name)
    if f.kind == "text":
        return [f"{v} as {name}"]
    if f.kind == "int":
        return [
            f"case when regexp_full_match({v}, '[+-]?[0-9]+') then try_cast({v} as integer) end"
            f" as {name}"
        ]
    if f.kind == "double":
        return [
            f"case when isfinite(try_cast({v} as double)) then try_cast({v} as double) end"
            f" as {name}"
        ]
    if f.kind == "bool":
        return [
            f"case lower({v}) when 'true' then true when '1' then true "
            f"when 'false' then false when '0' then false end as {name}"
        ]
    if f.kind == "date":
        return [
            f"case when regexp_full_match({v}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') "
            f"then try_cast({v} as date) end as {name}"
        ]
    # timestamp: UTC instant and local wall clock, only when the whole value is valid.
    local, offset = q(f"_tl_{f.name}"), q(f"_off_{f.name}")
    ok = f"{offset} is not null and abs({offset}) <= {MAX_OFFSET_HOURS * 60}"
    return [
        f"case when {ok} then {local} - to_minutes({offset}) end as {name}",
        f"case when {ok} then {local} end as {q(f.name + '_local')}",
    ]


def _ts_parts(f: Field) -> list[str]:
    """Local wall clock and UTC offset (minutes east) of a timestamp field's ISO-8601 parts."""
    parts = q(f"_ts_{f.name}")
    zone = f"replace({parts}.zone, ':', '')"
    return [
        f"try_cast(nullif({parts}.local, '') as timestamp) as {q(f'_tl_{f.name}')}",
        f"""case when {parts}.zone in ('Z', 'z') then 0
              when {parts}.zone <> '' then
                  (case when starts_with({zone}, '-') then -1 else 1 end)
                  * (cast(substr({zone}, 2, 2) as integer) * 60
                     + coalesce(cast(nullif(substr({zone}, 4, 2), '') as integer), 0))
         end as {q(f"_off_{f.name}")}""",
    ]


def _type_checks(f: Field) -> list[tuple[str, str]]:
    v, name = _v(f), q(f.name)
    bad = f"{v} is not null and {name} is null"
    if f.kind == "int":
        return [(bad, f"'{f.name} is not an integer: ' || {show(v)}")]
    if f.kind == "double":
        return [(bad, f"'{f.name} is not a number: ' || {show(v)}")]
    if f.kind == "bool":
        return [(bad, f"'{f.name} is not a boolean (true/false/1/0): ' || {show(v)}")]
    if f.kind == "date":
        return [(bad, f"'{f.name} is not a date (YYYY-MM-DD): ' || {show(v)}")]
    if f.kind == "timestamp":
        parts, local = q(f"_ts_{f.name}"), q(f"_tl_{f.name}")
        return [
            (
                f"{v} is not null and {parts}.local = ''",
                f"'{f.name} is not an ISO-8601 timestamp: ' || {show(v)}",
            ),
            (
                f"{v} is not null and {parts}.zone = ''",
                f"'{f.name} has no time zone (expected an offset such as +05:30 or Z): ' "
                f"|| {show(v)}",
            ),
            (
                f"{v} is not null and {local} is null",
                f"'{f.name} is not a valid date-time: ' || {show(v)}",
            ),
            (bad, f"'{f.name} has an out-of-range UTC offset: ' || {show(v)}"),
        ]
    return []


def _window_checks(f: Field, window: TimeWindow) -> list[tuple[str, str]]:
    """The time window of one event-time field: not after the horizon, not before the earliest
    plausible date. Timestamps compare as UTC instants, dates as local calendar dates."""
    name, v = q(f.name), _v(f)
    tol = f"{window.rules.future_tolerance_hours:g} h"
    earliest = window.rules.earliest_event_date.isoformat()
    if f.kind == "timestamp":
        late = f"{name} > timestamp {lit(window.horizon.isoformat(sep=' '))}"
        early = f"{name} < timestamp {lit(earliest + ' 00:00:00')}"
    else:
        late = f"{name} > date {lit(window.horizon_date.isoformat())}"
        early = f"{name} < date {lit(earliest)}"
    ingest = window.now.isoformat(sep=" ", timespec="seconds")
    return [
        (
            late,
            f"'{f.name} ' || {show(v)} || ' is in the future: after the ingest time "
            f"{ingest} UTC plus {tol} (setting ingest.future_tolerance_hours)'",
        ),
        (
            early,
            f"'{f.name} ' || {show(v)} || ' is before the earliest plausible date {earliest} "
            "(setting ingest.earliest_event_date)'",
        ),
    ]


def _reason_checks(entity: Entity, window: TimeWindow | None = None) -> list[list[tuple[str, str]]]:
    """The row checks in order (references excluded: see :func:`_ref_checks`), each a list of
    (condition, message) alternatives.

    A check with several alternatives is one diagnosis of one failure, first match wins: a
    timestamp field that is not ISO-8601, has no zone, is no valid date-time or has an
    out-of-range offset fails once, with the most specific message, not four times.
    """
    checks: list[list[tuple[str, str]]] = [
        [(f"{_v(f)} is null", lit(f"missing required field {f.name}"))]
        for f in entity.fields
        if f.required
    ]
    checks += [typed for f in entity.fields if (typed := _type_checks(f))]
    for f in entity.fields:
        if f.choices:
            allowed = ", ".join(lit(c) for c in f.choices)
            checks.append(
                [
                    (
                        f"{q(f.name)} not in ({allowed})",
                        f"'{f.name} ' || {show(q(f.name))} || ' is not one of "
                        + "|".join(f.choices).replace("'", "''")
                        + "'",
                    )
                ]
            )
    checks += [[(c.bad, c.reason)] for c in entity.checks]
    if window is not None:
        checks += [[c] for f in entity.fields if f.event_time for c in _window_checks(f, window)]
    return checks


def _missing_ref(column: str) -> str:
    return f"{q('_ref_' + column)} is null and t.{q(column)} is not null"


def _ref_checks(entity: Entity) -> list[list[tuple[str, str]]]:
    """Unknown references, last in check order: the one fault that can heal by itself (the
    dimension may land in a later batch)."""
    return [
        [
            (
                _missing_ref(column),
                f"'unknown {column} ' || {show('t.' + q(column))} || ' (not in raw.{target})'",
            )
        ]
        for column, target in entity.refs
    ]


#: Between the reasons of one row in ``raw.quarantine.reason`` (in check order).
REASON_SEPARATOR = "; "


def _messages_sql(checks: list[list[tuple[str, str]]]) -> str:
    """SQL: the messages of the failing ``checks`` joined with :data:`REASON_SEPARATOR`, NULL
    when none fails."""
    if not checks:
        return "null::varchar"
    parts = ",\n            ".join(
        "case " + " ".join(f"when {cond} then {msg}" for cond, msg in alternatives) + " end"
        for alternatives in checks
    )
    return f"nullif(concat_ws({lit(REASON_SEPARATOR)},\n            {parts}\n        ), '')"


def _waiting_sql(entity: Entity) -> str:
    """SQL: the dimensions a row waits for (``users``, ``titles`` or ``users+titles``) when
    its only faults are unknown references; NULL otherwise (read with ``_other_reason``)."""
    missing = [
        f"case when {_missing_ref(column)} then {lit(target)} end" for column, target in entity.refs
    ]
    if not missing:
        return "null::varchar"
    return f"nullif(concat_ws('+', {', '.join(missing)}), '')"


#: SQL for a row's ``reason`` over ``_other_reason`` and ``_ref_reason`` (see classify_sql).
#:
#: Every reason rather than the first, so one look at the quarantine shows all that must be
#: fixed in a row (fixing one field and re-landing should not reveal the next). A parse error
#: stands alone: an unreadable record has no fields, and "missing required field" for each of
#: them would only repeat it. Checks do not pile up on one bad field: a field that is missing
#: or fails its type is NULL once typed, and every later check is false or NULL on NULL (NULL
#: parts are skipped by ``concat_ws``).
_REASON_SQL = (
    "case when parse_error is not null then parse_error else nullif(concat_ws("
    f"{lit(REASON_SEPARATOR)}, _other_reason, _ref_reason), '') end"
)


def _ref_joins(entity: Entity) -> str:
    """Left joins that find each reference in `raw` (NULL: unknown).

    A join rather than ``x in (select ...)``: the optimizer can then build its hash table on the
    file's rows and probe the (possibly millions of) users, instead of hashing every user for
    every file. Keys are unique in `raw`, so the joins never multiply rows.
    """
    joins = []
    for column, target in entity.refs:
        key, alias = ENTITIES[target].key[0], q("_ref_" + column)
        joins.append(
            f"left join (select {q(key)} as {alias} from raw.{q(target)}) "
            f"on {alias} = t.{q(column)}"
        )
    return "\n    ".join(joins)


def _conflict_message(entity: Entity, row: str, first_file: str, first_line: str) -> str:
    """SQL for the reason of a key seen before with different content.

    ``row`` is the alias of the row being classified; ``first_file``/``first_line`` are SQL
    expressions for where the key was first seen.
    """
    first = f"'first seen in file ' || {first_file} || ' line ' || {first_line}"
    if entity.dimension:
        (key,) = entity.key
        return (
            f"'conflicting {key} ' || {show(f'{row}.{q(key)}')} || ': attributes differ from the "
            f"row ' || {first} || ' (dimension updates are not supported yet)'"
        )
    if len(entity.key) == 1:
        (key,) = entity.key
        return (
            f"'duplicate {key} ' || {show(f'{row}.{q(key)}')} || ' with different content (' || "
            f"{first} || ')'"
        )
    shown = " || ', ' || ".join(f"'{k}=' || cast({row}.{q(k)} as varchar)" for k in entity.key)
    return (
        f"'duplicate {entity.key_label} (' || {shown} || ') with different content (' || "
        f"{first} || ')'"
    )


def _same(cols: tuple[str, ...], a: str, b: str) -> str:
    return " and ".join(f"{a}.{q(c)} is not distinct from {b}.{q(c)}" for c in cols)


def _key_match(entity: Entity, a: str, b: str) -> str:
    return " and ".join(f"{a}.{q(k)} = {b}.{q(k)}" for k in entity.key)


def classify_sql(
    entity: Entity, source: str, append: bool = False, window: TimeWindow | None = None
) -> str:
    """``classified``: every row of ``source`` (:func:`jsonl_source` or :func:`csv_source`)
    with typed columns, ``status``, ``reason``, ``_valid``, ``_waiting`` (the dimensions a row
    whose only fault is an unknown reference waits for) and ``_malformed`` / ``_has_<field>``
    for the file-level checks. With ``window`` event times are held to it.

    Parsing is fused into this statement rather than materialized first: writing and re-reading
    the text columns cost as much as the parsing itself.

    With ``append`` the rows are added to ``classified`` (a chunk of CSV files with different
    headers needs one source per header). Every valid row starts as ``load``;
    :func:`repeats_sql` and :func:`resolve_existing_sql` then settle repeated keys. Keeping
    those out of this statement matters for speed: they touch only the few rows whose key
    repeats, instead of a join over every row.
    """
    ts_fields = [f for f in entity.fields if f.kind == "timestamp"]
    ts_structs = "".join(
        f",\n        regexp_extract({_v(f)}, {lit(TS_PATTERN)}, ['local', 'zone']) "
        f"as {q('_ts_' + f.name)}"
        for f in ts_fields
    )
    ts_parts = "".join(",\n        " + part for f in ts_fields for part in _ts_parts(f))
    helpers = "".join(f"{q(prefix + f.name)}, " for prefix in ("_ts_", "_tl_") for f in ts_fields)
    typed = ",\n        ".join(expr for f in entity.fields for expr in _typed(f))
    other = _messages_sql(_reason_checks(entity, window))
    refs = _messages_sql(_ref_checks(entity))
    cols = ", ".join(q(c) for c in entity.columns())
    has = "".join(f"{_v(f)} is not null as {q('_has_' + f.name)}, " for f in _required(entity))
    target = "insert into classified" if append else "create or replace temp table classified as"
    return f"""
{target}
with parts as (
    select *{ts_structs}
    from ({source})
), local_parts as (
    select *{ts_parts}
    from parts
), typed as (
    select file_no, line_no, parse_error, {", ".join(_v(f) for f in entity.fields)},
        {helpers}
        {typed}
    from local_parts
), checked as (
    select t.*, {other} as _other_reason, {refs} as _ref_reason, {_waiting_sql(entity)} as _refs
    from typed t
    {_ref_joins(entity)}
), reasoned as (
    select *, {_REASON_SQL} as reason,
        case when parse_error is null and _other_reason is null then _refs end as _waiting
    from checked
)
select file_no, line_no, reason is null as _valid, parse_error is not null as _malformed, {has}
    case when reason is null then 'load' else 'quarantine' end as status,
    reason, _waiting, {cols}
from reasoned
"""


def repeats_sql(entity: Entity, source_file: str) -> str:
    """Settle keys that occur more than once in the file (the first valid occurrence wins).

    A later occurrence identical to the first is a ``duplicate``; a different one is quarantined
    naming the first one's line. The group-by finds repeated keys; only their rows are joined.
    Parameter: ``$file_no``.
    """
    cols = entity.columns()
    key = ", ".join(q(k) for k in entity.key)
    same = _same(cols, "c", "f")
    conflict = _conflict_message(entity, "c", lit(source_file), "f.line_no")
    return f"""
update classified c set
    status = case when {same} then 'duplicate' else 'quarantine' end,
    reason = case when {same} then null else {conflict} end
from (
    select x.* from classified x
    semi join (
        select {key}, min(line_no) as first_line from classified
        where file_no = $file_no and _valid
        group by {key} having count(*) > 1
    ) r on {_key_match(entity, "x", "r")} and x.line_no = r.first_line
    where x.file_no = $file_no
) f
where c.file_no = $file_no and c._valid and {_key_match(entity, "c", "f")}
    and c.line_no > f.line_no
"""


def insert_sql(entity: Entity) -> str:
    """Insert the ``load`` rows. A key already in `raw` violates the primary key (an index
    lookup per row, so the cost of a file does not grow with the table) and the caller redoes
    the file with :func:`resolve_existing_sql` first.
    Parameters: ``$file_no``, ``$file``, ``$now``, ``$batch``.
    """
    cols = ", ".join(q(c) for c in entity.columns())
    return (
        f"insert into raw.{q(entity.name)} "
        f"({cols}, _source_file, _source_line, _ingested_at, _batch_id) "
        f"select {cols}, $file, line_no, $now, $batch from classified "
        "where file_no = $file_no and status = 'load' order by line_no"
    )


def resolve_existing_sql(entity: Entity) -> str:
    """Re-decide rows whose key is already in `raw`: duplicate (identical) or conflict.

    Runs only for files whose plain insert hit the primary key (rare: a re-landed or overlapping
    file). Every valid row of such a key is compared with the row in `raw`, which wins over the
    file's own first occurrence. This scans `raw`, which is why it is not the common path.
    Parameters: ``$file_no``, ``$file``, ``$batch`` (this file's own rows are never "already in").
    """
    cols = entity.columns()
    key = ", ".join(q(k) for k in entity.key)
    same = _same(cols, "c", "p")
    conflict = _conflict_message(entity, "c", "p._source_file", "p._source_line")
    return f"""
update classified c set
    status = case when {same} then 'duplicate' else 'quarantine' end,
    reason = case when {same} then null else {conflict} end
from (
    select r.* from raw.{q(entity.name)} r
    semi join (select {key} from classified where file_no = $file_no and status = 'load') k
        on {_key_match(entity, "r", "k")}
    where r._batch_id <> $batch or r._source_file <> $file
) p
where c.file_no = $file_no and c._valid and {_key_match(entity, "c", "p")}
"""


def quarantine_sql(records: str) -> str:
    """Insert quarantined rows with their landed text from ``records`` (a view or table).

    ``waiting_for`` marks a row whose only fault is an unknown user or title: it is retried
    when a later batch lands that dimension (:func:`warehouse.ingest.readmit_waiting`).
    ``$header`` is a CSV file's header line (NULL for JSON Lines), kept so that a waiting row
    can be parsed again without its file.
    Parameters: ``$file_no``, ``$batch``, ``$entity``, ``$file``, ``$now``, ``$header``.
    """
    return f"""
insert into raw.quarantine
    (batch_id, entity, source_file, source_line, reason, record, quarantined_at, waiting_for,
     header)
select $batch, $entity, $file, c.line_no, c.reason, r.record, $now, c._waiting,
    case when c._waiting is not null then $header end
from classified c join {records} r on r.file_no = c.file_no and r.line_no = c.line_no
where c.file_no = $file_no and c.status = 'quarantine'
order by c.line_no
"""


# --------------------------------------------------------------------------------------------
# rules in context: a row judged against its dimensions and its neighbours in time
# --------------------------------------------------------------------------------------------

#: SQL: the state a subscription event requires before it (``prev`` = the latest earlier
#: state-changing event of the user, NULL before any; ``first`` = nothing at all before it).
_SUBSCRIPTION_ORDER_OK = {
    "signup": "{first}",
    "cancel": "{prev} in ('signup', 'reactivate')",
    "reactivate": "{prev} = 'cancel'",
    "plan_change": "{prev} in ('signup', 'reactivate')",
}


def _order_ok(event: str, prev: str, first: str) -> str:
    """SQL: ``event`` may follow state ``prev`` (``first``: it is the user's first event)."""
    cases = " ".join(
        f"when {lit(name)} then {cond.format(prev=prev, first=first)}"
        for name, cond in _SUBSCRIPTION_ORDER_OK.items()
    )
    return f"coalesce(case {event} {cases} end, false)"


def _new_rows(entity: Entity, key_cols: tuple[str, ...]) -> str:
    """SQL: the rows that passed every row check, one per key, without keys already in `raw`
    (those are duplicates or conflicts, settled later, and were judged when they loaded)."""
    cols = ", ".join(q(c) for c in key_cols)
    match = " and ".join(f"r.{q(k)} = n.{q(k)}" for k in entity.key)
    return f"""
    select distinct on ({", ".join(q(k) for k in entity.key)}) {cols}
    from classified n
    where n.status = 'load'
      and not exists (select 1 from raw.{q(entity.name)} r where {match})
    order by {", ".join(q(k) for k in entity.key)}, n.file_no, n.line_no"""


_VIEW_COLS = ("event_id", "user_id", "device", "started_at", "watch_seconds")
_UTC = "'%Y-%m-%d %H:%M:%S'"


def _views_context(rules: TimeRules) -> str:
    tol = int(rules.session_overlap_tolerance_s)
    return f"""
with new as ({_new_rows(VIEWS_ENTITY, _VIEW_COLS)}
), reach as (
    -- Per user and device, the loaded sessions that can overlap a new one: those starting
    -- before the last new end and after the first new start minus the longest loaded session.
    -- Exact, and it keeps the window below small for a day's batch on a large warehouse.
    select n.user_id, n.device,
        min(n.started_at) - to_seconds(any_value(l.longest)) as lo,
        max(n.started_at + to_seconds(n.watch_seconds)) as hi
    from new n
    cross join (select coalesce(max(watch_seconds), 0) as longest from raw.views) l
    group by n.user_id, n.device
), merged as (
    select r.event_id, r.user_id, r.device, r.started_at,
        r.started_at + to_seconds(r.watch_seconds) as ended_at, false as is_new
    from raw.views r
    join reach on reach.user_id = r.user_id and reach.device = r.device
    where r.started_at >= reach.lo and r.started_at < reach.hi
    union all
    select event_id, user_id, device, started_at,
        started_at + to_seconds(watch_seconds), true
    from new
), neighbours as (
    select *,
        max(ended_at) over earlier as earlier_end,
        arg_max(event_id, ended_at) over earlier as earlier_id,
        min(case when not is_new then started_at end) over later as later_loaded_start,
        arg_min(case when not is_new then event_id end, case when not is_new then started_at end)
            over later as later_loaded_id
    from merged
    window earlier as (partition by user_id, device order by started_at, event_id
                       rows between unbounded preceding and 1 preceding),
           later as (partition by user_id, device order by started_at, event_id
                     rows between 1 following and unbounded following)
), overlapping as (
    select event_id,
        case
            -- least() skips NULLs in DuckDB: a first session has no earlier end at all
            when earlier_end is not null
                and epoch(least(earlier_end, ended_at) - started_at) > {tol}
            then 'started_at ' || strftime(started_at, {_UTC}) || ' UTC overlaps session '
                 || {show("earlier_id")} || ' of this user on this device by '
                 || cast(epoch(least(earlier_end, ended_at) - started_at) as bigint)
                 || ' s (more than {tol} s, setting ingest.session_overlap_tolerance_s)'
            when later_loaded_start is not null and epoch(ended_at - later_loaded_start) > {tol}
            then 'the session ending ' || strftime(ended_at, {_UTC})
                 || ' UTC overlaps the loaded session ' || {show("later_loaded_id")}
                 || ' of this user on this device by '
                 || cast(epoch(ended_at - later_loaded_start) as bigint)
                 || ' s (more than {tol} s, setting ingest.session_overlap_tolerance_s)'
        end as overlap
    from neighbours where is_new
)
select c.file_no, c.line_no, nullif(concat_ws({lit(REASON_SEPARATOR)},
    case when cast(c.started_at_local as date) < t.release_date
         then 'started_at ' || {show("c._v_started")} || ' is before the title''s release_date '
              || cast(t.release_date as varchar) end,
    case when cast(c.started_at_local as date) < u.signup_date
         then 'started_at ' || {show("c._v_started")} || ' is before the user''s signup_date '
              || cast(u.signup_date as varchar) end,
    o.overlap), '') as reason
from (select *, strftime(started_at_local, '%Y-%m-%d %H:%M:%S') || ' local' as _v_started
      from classified where status = 'load') c
left join raw.titles t on t.title_id = c.title_id
left join raw.users u on u.user_id = c.user_id
left join overlapping o on o.event_id = c.event_id
"""


def _ratings_context() -> str:
    return f"""
select c.file_no, c.line_no,
    'rated_at ' || strftime(c.rated_at, {_UTC}) || ' UTC is before the user first '
        || 'played the title (' || strftime(f.first_start, {_UTC}) || ' UTC)'
        as reason
from classified c
join (
    select v.user_id, v.title_id, min(v.started_at) as first_start from raw.views v
    semi join (select distinct user_id, title_id from classified where status = 'load') k
        on k.user_id = v.user_id and k.title_id = v.title_id
    group by v.user_id, v.title_id
) f on f.user_id = c.user_id and f.title_id = c.title_id
where c.status = 'load' and c.rated_at < f.first_start
"""


def _subscriptions_context() -> str:
    # Events of one user at one instant are ordered as a lifecycle would have them.
    rank = (
        "case event when 'signup' then 0 when 'reactivate' then 1 "
        "when 'plan_change' then 2 else 3 end"
    )
    own_ok = _order_ok("event", "prev_state", "prior_events = 0")
    next_ok = _order_ok("next_event", "event", "false")
    return f"""
with new as ({_new_rows(SUBSCRIPTIONS_ENTITY, ("user_id", "event", "occurred_at"))}
), merged as (
    select user_id, event, occurred_at, false as is_new
    from raw.subscriptions where user_id in (select user_id from new)
    union all
    select user_id, event, occurred_at, true from new
), sequenced as (
    select *,
        count(*) over earlier as prior_events,
        last_value(case when event <> 'plan_change' then event end ignore nulls) over earlier
            as prev_state,
        lead(event) over w as next_event,
        lead(is_new) over w as next_is_new
    from merged
    window w as (partition by user_id order by occurred_at, {rank}),
           earlier as (partition by user_id order by occurred_at, {rank}
                       rows between unbounded preceding and 1 preceding)
), judged as (
    select user_id, event, occurred_at,
        case
            when not {own_ok} then
                event || ' at ' || strftime(occurred_at, {_UTC}) || ' UTC is out of '
                || 'order: ' || case
                    when event = 'signup' then 'the user has earlier subscription events'
                    when prev_state is null then 'no signup before it'
                    else 'it follows ' || prev_state end
            when event <> 'plan_change' and not next_is_new and not {next_ok} then
                event || ' at ' || strftime(occurred_at, {_UTC}) || ' UTC is out of '
                || 'order: the loaded ' || next_event || ' after it would follow ' || event
        end as reason
    from sequenced where is_new
)
select c.file_no, c.line_no, j.reason
from classified c
join judged j on j.user_id = c.user_id and j.event = c.event and j.occurred_at = c.occurred_at
where c.status = 'load' and j.reason is not null
"""


def context_faults_sql(entity: Entity, rules: TimeRules) -> str | None:
    """SQL selecting ``(file_no, line_no, reason)`` of rows in ``classified`` that passed every
    row check but are implausible next to what is known, or None when the entity has no such
    rule. The rules:

    * views: started (local date) before the title's release_date or the user's signup_date;
      overlapping another session of the same user on the same device by more than
      ``session_overlap_tolerance_s`` (the later-starting one is blamed, unless the earlier is
      new and the later already loaded: a loaded row is never taken back);
    * ratings: rated before the user first played the title (a rating with no view of the
      title at all loads: the viewing may predate the export);
    * subscriptions: out of lifecycle order (signup first and once; cancel and plan_change
      only while subscribed; reactivate only after a cancel), against the user's loaded events
      and the rest of the batch; a new event is also blamed when it would put the next loaded
      event out of order.

    The dimensions are known here: a row with an unknown user or title failed its reference
    check and waits instead. Views and subscriptions are judged against `raw` plus the whole
    chunk, so rows of one batch are judged together whatever their file order.
    """
    if entity.name == "views":
        return f"select * from ({_views_context(rules)}) where reason is not null"
    if entity.name == "ratings":
        return _ratings_context()
    if entity.name == "subscriptions":
        return _subscriptions_context()
    return None


VIEWS_ENTITY = ENTITIES["views"]
SUBSCRIPTIONS_ENTITY = ENTITIES["subscriptions"]


def apply_context_sql() -> str:
    """Quarantine the rows found by :func:`context_faults_sql` (materialized as
    ``context_faults``)."""
    return """
update classified c set status = 'quarantine', _valid = false, reason = f.reason
from context_faults f
where c.file_no = f.file_no and c.line_no = f.line_no
"""


def readmit_update_sql() -> str:
    """Record in ``raw.quarantine`` what a retry made of each waiting row of one file.

    Loaded: ``readmitted_at``/``readmitted_batch_id`` set (``waiting_for`` kept: what it
    waited for). Still only missing a dimension: its reason and ``waiting_for`` refreshed.
    A real fault now visible (e.g. a view before the user's signup, which could not be judged
    without the user): that reason, and it waits no more. Identical to a row already loaded:
    settled as a duplicate. ``retried_at`` is set on every row tried.
    Parameters: ``$file_no``, ``$file``, ``$batch``, ``$now``, ``$entity``, ``$first_batch``.
    """
    return """
update raw.quarantine q set
    retried_at = $now,
    readmitted_at = case when c.status = 'load' then $now end,
    readmitted_batch_id = case when c.status = 'load' then $batch end,
    waiting_for = case when c.status = 'load' then q.waiting_for
                       when c.status = 'quarantine' then c._waiting end,
    reason = case when c.status = 'quarantine' then c.reason
                  when c.status = 'duplicate' then 'already loaded when re-admitted (was: '
                       || q.reason || ')'
                  else q.reason end
from classified c
where c.file_no = $file_no and q.entity = $entity and q.batch_id = $first_batch
    and q.source_file = $file and q.source_line = c.line_no
"""
