{#
    Model-level test: on every row the given columns add up to `total` within `tolerance`
    (nulls count as 0). Used for the share families of user_features (genre, device, hour), which
    sum to 1 for every user with watch time: restrict rows with dbt's `config: where:`.
#}
{% test columns_sum_to(model, columns, total=1, tolerance=0.000001) %}
    select *
    from (
        select
            *,
            ({% for column in columns %}coalesce({{ column }}, 0){% if not loop.last %} + {% endif %}{% endfor %}) as _columns_total
        from {{ model }}
    ) as checked
    where abs(_columns_total - ({{ total }})) > {{ tolerance }}
{% endtest %}
