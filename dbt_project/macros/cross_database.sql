{#
    Small portable helpers on top of dbt's cross-database macros (dbt.dateadd, dbt.datediff,
    dbt.hash, dbt.type_string, ...). Where an engine needs different SQL the macro dispatches
    (`adapter.dispatch`), with a default that is plain ANSI SQL.
#}

{# 8-byte floating point. dbt.type_float() is 4-byte `float` on DuckDB and Spark, too coarse for shares. #}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'tastemaker')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double
{%- endmacro %}

{% macro postgres__type_double() -%}
    double precision
{%- endmacro %}


{# numerator / denominator as a double; null when the denominator is 0 or null. #}
{% macro safe_divide(numerator, denominator) -%}
    (cast({{ numerator }} as {{ type_double() }}) / nullif(cast({{ denominator }} as {{ type_double() }}), 0))
{%- endmacro %}


{# A stable text key from several columns (md5 of the '|'-joined values; nulls as '∅'). #}
{% macro surrogate_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '∅')") -%}
        {%- if not loop.last -%}{%- do parts.append("'|'") -%}{%- endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}


{#
    ISO day of week (1 = Monday .. 7 = Sunday) of a date, from the day count since a known Monday
    (1900-01-01). Engines disagree on extract(dow ...) (DuckDB: 0 = Sunday; Spark: 1 = Sunday), so
    this uses only dbt.datediff, which every adapter implements.
#}
{% macro iso_day_of_week(date_expr) -%}
    (mod({{ dbt.datediff("cast('1900-01-01' as date)", date_expr, 'day') }}, 7) + 1)
{%- endmacro %}


{# The hour (0..23) of a timestamp; `extract(hour from ...)` is ANSI and works on DuckDB and Spark. #}
{% macro hour_of(timestamp_expr) -%}
    cast(extract(hour from {{ timestamp_expr }}) as {{ dbt.type_int() }})
{%- endmacro %}


{# Midnight (00:00, UTC) at the start of a date, as a timestamp. #}
{% macro start_of_day(date_expr) -%}
    cast({{ date_expr }} as {{ dbt.type_timestamp() }})
{%- endmacro %}


{# A date shifted by n days, as a date (dbt.dateadd returns a timestamp on some engines). #}
{% macro add_days(n, date_expr) -%}
    cast({{ dbt.dateadd('day', n, date_expr) }} as date)
{%- endmacro %}


{#
    The `position`-th (1-based) piece of `text` split on the one-character literal `delimiter`, or
    null past the last piece. `position` may be a column expression (dbt.split_part's Spark
    implementation needs a literal part number, hence this dispatch).
#}
{% macro split_part_at(text, delimiter, position) -%}
    {{ return(adapter.dispatch('split_part_at', 'tastemaker')(text, delimiter, position)) }}
{%- endmacro %}

{% macro default__split_part_at(text, delimiter, position) -%}
    {{ dbt.split_part(text, delimiter, position) }}
{%- endmacro %}

{% macro spark__split_part_at(text, delimiter, position) -%}
    {# Spark's split() takes a regex: quote the delimiter; [] past the end is null (non-ANSI mode). #}
    split({{ text }}, concat('\\Q', {{ delimiter }}, '\\E'))[({{ position }}) - 1]
{%- endmacro %}
