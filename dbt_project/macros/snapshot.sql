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
