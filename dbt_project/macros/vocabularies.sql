{#
    The fixed vocabularies the feature marts pivot on. They mirror the seeds (genres.csv,
    devices.csv, hour_buckets.csv) and ml/world/vocab.py; the singular test
    `assert_vocabularies_match_seeds` and tests/dbt/test_vocabularies.py keep them in step.
    Columns such as genre_share_<slug> are generated from these lists, so the marts' column sets
    never depend on what happens to be in the data.
#}

{% macro genre_slugs() -%}
    {{ return([
        'action', 'comedy', 'drama', 'crime', 'thriller', 'horror', 'romance', 'sci_fi',
        'fantasy', 'documentary', 'animation', 'family', 'reality', 'anime', 'other',
    ]) }}
{%- endmacro %}

{% macro devices() -%}
    {{ return(['tv', 'mobile', 'tablet', 'web']) }}
{%- endmacro %}

{% macro hour_buckets() -%}
    {{ return(['late_night', 'morning', 'midday', 'afternoon', 'evening']) }}
{%- endmacro %}

{% macro title_kinds() -%}
    {{ return(['movie', 'series']) }}
{%- endmacro %}

{% macro plans() -%}
    {{ return(['basic', 'standard', 'premium']) }}
{%- endmacro %}

{% macro subscription_events() -%}
    {{ return(['signup', 'cancel', 'reactivate', 'plan_change']) }}
{%- endmacro %}
