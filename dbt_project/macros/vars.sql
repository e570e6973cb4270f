{#
    The `snapshot_date` var, validated at compile time: none (use the default computed in
    int_snapshot_date) or an ISO date string. Anything else stops the run with a clear message.
#}
{% macro snapshot_date_var() -%}
    {{ return(iso_date_var('snapshot_date')) }}
{%- endmacro %}

{#
    A date var, validated at compile time: none / '' / 'null' (use the model's default) or an ISO
    date string, returned as text. Anything else stops the run naming the var and the value.
#}
{% macro iso_date_var(name) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none or (value | string | trim) in ('', 'none', 'None', 'null') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = value | string | trim -%}
    {%- if not modules.re.match('^\d{4}-\d{2}-\d{2}$', text) -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ name ~ " must be an ISO date (YYYY-MM-DD) or null, got '" ~ text ~ "'") }}
    {%- endif -%}
    {{ return(text) }}
{%- endmacro %}

{#
    Validated drift-window vars (inline defaults: dbt_project.yml need not declare them), read by
    int_feature_cutoffs.
    drift_window_days: a positive whole number of days (default 28).
    drift_current_end: an ISO date (YYYY-MM-DD) or null (default: int_snapshot_date's date).
    Anything else stops the compile with a message naming the var and the value.
#}
{% macro monitoring_window_days_var() -%}
    {%- set value = var('drift_window_days', 28) -%}
    {%- set text = value | string | trim -%}
    {%- if not modules.re.match('^[0-9]+$', text) or (text | int) < 1 -%}
        {{ exceptions.raise_compiler_error(
            "var drift_window_days must be a whole number of days >= 1, got '" ~ text ~ "'") }}
    {%- endif -%}
    {{ return(text | int) }}
{%- endmacro %}

{% macro monitoring_current_end_var() -%}
    {{ return(iso_date_var('drift_current_end')) }}
{%- endmacro %}

{#
    The stable drift reference: drift_reference_start and drift_reference_end, ISO dates or null.
    With both set, the reference is that period cut into consecutive windows of drift_window_days
    days, ending at drift_reference_end (a remainder shorter than one window at the start is left
    out), instead of the one window before the current one. Equal lengths keep every per-user
    feature comparable with the current window's (a share over 6 months spreads less than one over
    28 days, and a test would flag the length, not the behaviour). Returns a list of
    (start, end) ISO date pairs, newest first, or none when the vars are unset. A period shorter
    than one window, or set by half, stops the compile naming the vars.
#}
{% macro monitoring_reference_windows_var(window_days) -%}
    {%- set start = iso_date_var('drift_reference_start') -%}
    {%- set end = iso_date_var('drift_reference_end') -%}
    {%- if start is none and end is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if start is none or end is none -%}
        {{ exceptions.raise_compiler_error(
            "vars drift_reference_start and drift_reference_end go together, got '"
            ~ start ~ "' and '" ~ end ~ "'") }}
    {%- endif -%}
    {%- set d0 = modules.datetime.date.fromisoformat(start) -%}
    {%- set d1 = modules.datetime.date.fromisoformat(end) -%}
    {%- set count = ((d1 - d0).days // window_days) -%}
    {%- if count < 1 -%}
        {{ exceptions.raise_compiler_error(
            "the drift reference [" ~ start ~ ", " ~ end ~ ") is shorter than one window of "
            ~ window_days ~ " days") }}
    {%- endif -%}
    {%- set windows = [] -%}
    {%- for k in range(count) -%}
        {%- set w_end = d1 - modules.datetime.timedelta(days=k * window_days) -%}
        {%- set w_start = w_end - modules.datetime.timedelta(days=window_days) -%}
        {%- do windows.append((w_start.isoformat(), w_end.isoformat())) -%}
    {%- endfor -%}
    {{ return(windows) }}
{%- endmacro %}

{#
    The back-fill's window ends: drift_backfill_ends, a list of ISO dates (or null: no back-fill,
    the usual current and reference windows). With it, the drift windows are one window of
    drift_window_days ending at each date. Returns the sorted distinct dates, or none. Anything
    but a non-empty list of ISO dates stops the compile naming the var and the value.
#}
{% macro monitoring_backfill_ends_var() -%}
    {%- set value = var('drift_backfill_ends', none) -%}
    {%- if value is none or (value is string and (value | trim) in ('', 'none', 'None', 'null')) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if value is string or value is mapping or value is not iterable or (value | length) == 0 -%}
        {{ exceptions.raise_compiler_error(
            "var drift_backfill_ends must be a non-empty list of ISO dates (YYYY-MM-DD), got '"
            ~ value ~ "'") }}
    {%- endif -%}
    {%- set ends = [] -%}
    {%- for item in value -%}
        {%- set text = item | string | trim -%}
        {%- if not modules.re.match('^\d{4}-\d{2}-\d{2}$', text) -%}
            {{ exceptions.raise_compiler_error(
                "var drift_backfill_ends must hold ISO dates (YYYY-MM-DD), got '" ~ text ~ "'") }}
        {%- endif -%}
        {%- if text not in ends -%}
            {%- do ends.append(text) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(ends | sort) }}
{%- endmacro %}
