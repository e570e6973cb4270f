{#
    Fails on every row whose value lies outside [min_value, max_value] (bounds optional,
    inclusive by default). Nulls pass: pair with not_null where a value is required; restrict rows
    with dbt's `config: where:`.
    Used for shares and rates in [0, 1], hours 0..23, ratings 0.5..5, non-negative counts.
#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
    {%- if min_value is none and max_value is none -%}
        {{ exceptions.raise_compiler_error("accepted_range needs min_value or max_value") }}
    {%- endif -%}
    select *
    from {{ model }}
    where {{ column_name }} is not null
      and (
        1 = 0
        {%- if min_value is not none %}
        or {{ column_name }} {{ '<' if inclusive else '<=' }} {{ min_value }}
        {%- endif %}
        {%- if max_value is not none %}
        or {{ column_name }} {{ '>' if inclusive else '>=' }} {{ max_value }}
        {%- endif %}
      )
{% endtest %}
