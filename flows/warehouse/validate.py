"""SQL that turns a file's physical lines into classified rows, generated from the entity spec.

Every row of a file is parsed, typed and classified in a few set-based DuckDB statements (no
Python per row):

1. ``parsed``: one row per record with its first physical line, the record text, a
   ``parse_error`` (malformed JSON, not an object, wrong CSV field count, bad quoting) and every
   contract field as trimmed text ``v_<field>`` (empty text is NULL).
2. ``classified``: typed columns plus ``status`` (``load`` | ``duplicate`` | ``quarantine``) and
   the ``reason`` of the first failing check, in this order: parse error, missing required field,
   wrong type (fields in contract order), value not in its vocabulary, entity checks (ranges),
   unknown references, duplicate key with different content.

The caller registers the file's lines as ``landing_lines(line_no, line)`` and runs the statements
inside the file's transaction.
"""

from __future__ import annotations

from flows.warehouse.spec import ENTITIES, Entity, Field, show

#: ISO-8601 date-time with an optional zone; a missing zone is detected (and rejected) separately.
TS_PATTERN = r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)\s*([Zz]|[+-]\d{2}(?::?[0-5]\d)?)?$"
#: One CSV field followed by its comma (the record gets a trailing comma appended), RFC 4180 quotes.
CSV_FIELD_PATTERN = r'("(?:[^"]|"")*"|[^,"]*),'
#: Blank lines (spaces, tabs, a lone CR) are not records in either format.
_BLANK = "trim(line, ' ' || chr(9) || chr(13)) = ''"
#: Largest UTC offset in use anywhere (+14:00, Kiribati).
MAX_OFFSET_HOURS = 14


def q(name: str) -> str:
    """A quoted SQL identifier (``cast`` is a keyword; quote everything generated)."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _v(f: Field) -> str:
    return q(f"v_{f.name}")


# --------------------------------------------------------------------------------------------
# parsing: lines -> parsed
# --------------------------------------------------------------------------------------------


def jsonl_parsed_sql(entity: Entity) -> str:
    """``parsed`` from JSON Lines: one record per non-blank physical line."""
    paths = "[" + ", ".join(lit(f"$.{f.name}") for f in entity.fields) + "]"
    values = ",\n    ".join(
        f"nullif(trim(v[{i}]), '') as {_v(f)}" for i, f in enumerate(entity.fields, start=1)
    )
    return f"""
create or replace temp table parsed as
select line_no, record,
    case when not ok then 'malformed JSON'
         when jtype <> 'OBJECT' then 'JSON line is not an object (got ' || lower(jtype) || ')'
    end as parse_error,
    {values}
from (
    select line_no, record, ok, jtype,
        case when jtype = 'OBJECT' then json_extract_string(record, {paths}) end as v
    from (
        select line_no, record, ok, case when ok then json_type(record) end as jtype
        from (
            select line_no, rtrim(line, chr(13)) as record, json_valid(line) as ok
            from landing_lines where not ({_BLANK})
        )
    )
)
"""


JSONL_STATS_SQL = """
select count(*) as n,
       count(*) filter (where parse_error is not null) as bad,
       arg_max(parse_error is not null, line_no) as last_bad,
       arg_max(line_no, line_no) as last_line
from parsed
"""


def jsonl_field_counts_sql(entity: Entity) -> str:
    """How many object lines carry each required field (0 = the file lacks that field)."""
    counts = ", ".join(f"count({_v(entity_field)})" for entity_field in _required(entity))
    return f"select {counts} from parsed where parse_error is null"


def _required(entity: Entity) -> list[Field]:
    return [f for f in entity.fields if f.required]


def csv_records_sql(has_quotes: bool) -> str:
    """``csv_records(line_no, record, open_quote)``: physical lines joined into CSV records.

    A quoted field may span lines, so a line starts a new record only when the quotes before it
    are balanced (an even count of ``"``: RFC 4180 escapes a quote by doubling it, which keeps the
    parity). ``line_no`` is the record's first physical line. Without any quote in the file every
    line is a record and the window pass is skipped.
    """
    if not has_quotes:
        return """
create or replace temp table csv_records as
select line_no, rtrim(line, chr(13)) as record, false as open_quote from landing_lines
"""
    return """
create or replace temp table csv_records as
with counted as (
    select line_no, rtrim(line, chr(13)) as line,
           length(line) - length(replace(line, '"', '')) as quotes
    from landing_lines
), starts as (
    select *, coalesce(sum(quotes) over (order by line_no
                        rows between unbounded preceding and 1 preceding), 0) % 2 = 0 as starts
    from counted
), numbered as (
    select *, sum(starts::integer) over (order by line_no rows unbounded preceding) as rec
    from starts
)
select min(line_no) as line_no, string_agg(line, chr(10) order by line_no) as record,
       sum(quotes) % 2 = 1 as open_quote
from numbered group by rec
"""


def csv_split_sql(source: str) -> str:
    """``(line_no, record, bad_quoting, f)`` with ``f`` the unquoted fields of each record.

    Records without a quote are split on commas; quoted ones with a regular expression. A record
    whose fields do not join back to the exact record text has a stray quote (inside an unquoted
    field, or text after a closing quote) and is flagged rather than silently mangled.
    """
    pattern = lit(CSV_FIELD_PATTERN)
    return f"""
select line_no, record,
    coalesce(quoted and array_to_string(raw, ',') <> record, false) as bad_quoting,
    case when quoted
         then list_transform(raw, lambda x: case when starts_with(x, '"')
                                             then replace(x[2:-2], '""', '"') else x end)
         else string_split(record, ',') end as f
from (
    select line_no, record, quoted,
        case when quoted then regexp_extract_all(record || ',', {pattern}, 1) end as raw
    from (select line_no, record, contains(record, '"') as quoted from ({source}))
)
"""


CSV_HEADER_SQL = f"""
select line_no, f, bad_quoting from ({
    csv_split_sql(
        "select line_no, record from csv_records where trim(record, ' ' || chr(9)) <> '' "
        "order by line_no limit 1"
    )
})
"""


def csv_parsed_sql(entity: Entity, header_line: int, columns: dict[str, int], width: int) -> str:
    """``parsed`` from CSV records after the header; ``columns`` maps a field to its 1-based index.

    Contract fields missing from the header (only optional ones get this far) are NULL.
    """
    values = ",\n    ".join(
        (f"nullif(trim(f[{columns[f.name]}]), '')" if f.name in columns else "null::varchar")
        + f" as {_v(f)}"
        for f in entity.fields
    )
    source = (
        "select line_no, record from csv_records "
        f"where line_no > {int(header_line)} and trim(record, ' ' || chr(9)) <> ''"
    )
    return f"""
create or replace temp table parsed as
select line_no, record,
    case when bad_quoting then 'malformed CSV quoting (a quote inside an unquoted field or '
                                || 'text after a closing quote)'
         when len(f) <> {width} then 'expected {width} fields as in the header, got ' || len(f)
    end as parse_error,
    {values}
from ({csv_split_sql(source)})
"""


# --------------------------------------------------------------------------------------------
# classification: parsed -> classified
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


def _reason_cases(entity: Entity) -> list[tuple[str, str]]:
    cases: list[tuple[str, str]] = [("parse_error is not null", "parse_error")]
    cases += [
        (f"{_v(f)} is null", lit(f"missing required field {f.name}"))
        for f in entity.fields
        if f.required
    ]
    for f in entity.fields:
        cases += _type_checks(f)
    for f in entity.fields:
        if f.choices:
            allowed = ", ".join(lit(c) for c in f.choices)
            cases.append(
                (
                    f"{q(f.name)} not in ({allowed})",
                    f"'{f.name} ' || {show(q(f.name))} || ' is not one of "
                    + "|".join(f.choices).replace("'", "''")
                    + "'",
                )
            )
    cases += [(c.bad, c.reason) for c in entity.checks]
    for column, target in entity.refs:
        key = ENTITIES[target].key[0]
        cases.append(
            (
                f"{q(column)} not in (select {q(key)} from raw.{q(target)})",
                f"'unknown {column} ' || {show(q(column))} || ' (not in raw.{target})'",
            )
        )
    return cases


def _conflict_message(entity: Entity, source_file: str) -> str:
    first = (
        f"'first seen in file ' || coalesce(_db_file, {lit(source_file)}) "
        "|| ' line ' || coalesce(_db_line, _first_line)"
    )
    if entity.dimension:
        (key,) = entity.key
        return (
            f"'conflicting {key} ' || {show(q(key))} || ': attributes differ from the row ' || "
            f"{first} || ' (dimension updates are not supported yet)'"
        )
    if len(entity.key) == 1:
        (key,) = entity.key
        return (
            f"'duplicate {key} ' || {show(q(key))} || ' with different content (' || {first} || ')'"
        )
    shown = " || ', ' || ".join(f"'{k}=' || cast({q(k)} as varchar)" for k in entity.key)
    return (
        f"'duplicate {entity.key_label} (' || {shown} || ') with different content (' || "
        f"{first} || ')'"
    )


def classify_sql(entity: Entity, source_file: str) -> str:
    """``classified``: every parsed row with typed columns, ``status`` and ``reason``."""
    ts_fields = [f for f in entity.fields if f.kind == "timestamp"]
    ts_structs = "".join(
        f",\n        regexp_extract({_v(f)}, {lit(TS_PATTERN)}, ['local', 'zone']) "
        f"as {q('_ts_' + f.name)}"
        for f in ts_fields
    )
    ts_parts = "".join(",\n        " + part for f in ts_fields for part in _ts_parts(f))
    typed = ",\n        ".join(expr for f in entity.fields for expr in _typed(f))
    reason = "\n        ".join(f"when {cond} then {msg}" for cond, msg in _reason_cases(entity))
    cols = entity.columns()
    col_list = ", ".join(q(c) for c in cols)
    content = "struct_pack(" + ", ".join(f"{q(c)} := {q(c)}" for c in cols) + ")"
    key = ", ".join(q(k) for k in entity.key)
    key_join = " and ".join(f"v.{q(k)} = k.{q(k)}" for k in entity.key)
    db_join = " and ".join(f"v.{q(k)} = r.{q(k)}" for k in entity.key)
    db_key = ", ".join(f"r.{q(k)}" for k in entity.key)
    db_content = "struct_pack(" + ", ".join(f"{q(c)} := r.{q(c)}" for c in cols) + ")"
    return f"""
create or replace temp table classified as
with parts as (
    select *{ts_structs}
    from parsed
), local_parts as (
    select *{ts_parts}
    from parts
), typed as (
    select line_no, record, parse_error, {", ".join(_v(f) for f in entity.fields)},
        {", ".join(q("_ts_" + f.name) for f in ts_fields) + "," if ts_fields else ""}
        {", ".join(q("_tl_" + f.name) for f in ts_fields) + "," if ts_fields else ""}
        {typed}
    from local_parts
), checked as (
    select *, case
        {reason}
    end as reason
    from typed
), valid as (
    select line_no, record, {col_list}, {content} as _content,
        row_number() over w as _rn,
        first_value({content}) over w as _first_content,
        first_value(line_no) over w as _first_line
    from checked where reason is null
    window w as (partition by {key} order by line_no)
), known as (
    select {db_key}, {db_content} as _db_content,
        r._source_file as _db_file, r._source_line as _db_line
    from raw.{q(entity.name)} r
    semi join valid v on {db_join}
), decided as (
    select v.*, k._db_content, k._db_file, k._db_line,
        case when k._db_line is not null then
                 case when v._content is not distinct from k._db_content then 'duplicate'
                      else 'quarantine' end
             when v._rn = 1 then 'load'
             when v._content is not distinct from v._first_content then 'duplicate'
             else 'quarantine'
        end as status
    from valid v left join known k on {key_join}
)
select line_no, record, status,
    case when status = 'quarantine' then {_conflict_message(entity, source_file)} end as reason,
    {col_list}
from decided
union all
select line_no, record, 'quarantine' as status, reason, {col_list}
from checked where reason is not null
"""
