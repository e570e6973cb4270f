-- The vocabularies the marts pivot on (macros/vocabularies.sql) must match the lookup seeds:
-- returns every slug, device or hour bucket found on one side only.

with

{% for name, values, seed, column, extra in [
    ('genre', genre_slugs(), 'genres', 'genre_slug', ['other']),
    ('device', devices(), 'devices', 'device', []),
    ('hour_bucket', hour_buckets(), 'hour_buckets', 'hour_bucket', []),
] %}
{{ name }}_macro as (
    {%- for value in values %}
    select '{{ value }}' as value {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

{{ name }}_seed as (
    select distinct cast({{ column }} as {{ dbt.type_string() }}) as value from {{ ref(seed) }}
    {%- for value in extra %}
    union all
    select '{{ value }}' as value
    {%- endfor %}
),

{{ name }}_diff as (
    select '{{ name }}' as vocabulary, value, 'only in macro' as problem
    from {{ name }}_macro
    where value not in (select value from {{ name }}_seed)
    union all
    select '{{ name }}' as vocabulary, value, 'only in seed' as problem
    from {{ name }}_seed
    where value not in (select value from {{ name }}_macro)
),
{% endfor %}

all_diffs as (
    select * from genre_diff
    union all
    select * from device_diff
    union all
    select * from hour_bucket_diff
)

select * from all_diffs
