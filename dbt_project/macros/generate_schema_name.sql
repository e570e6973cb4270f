{#
    Use a custom schema name as given (`staging`, `intermediate`, `lookups`) instead of dbt's
    default `<target schema>_<custom>`; models without one land in the target schema (`main` on
    DuckDB), which is where the marts go and where Python reads them by bare name.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
