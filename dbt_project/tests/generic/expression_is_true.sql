{#
    Model-level test: fails on every row for which `expression` is not true
    (false or null). For invariants between columns, e.g. `views_28d <= views_total`.
#}
{% test expression_is_true(model, expression) %}
    select *
    from {{ model }}
    where not coalesce(({{ expression }}), false)
{% endtest %}
