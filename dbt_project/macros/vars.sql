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
