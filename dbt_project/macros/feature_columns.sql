{#
    The column lists of the two feature families, in mart order, so each mart that reads a
    feature model (int_user_features_windowed, int_churn_features_snapshotted) selects the same
    columns without repeating the list. The expressions live in those models; the share columns
    follow the vocabularies (macros/vocabularies.sql).
#}

{# user_features, and user_feature_windows after its window columns #}
{% macro user_feature_columns() -%}
    {%- set columns = [
        'user_id', 'snapshot_date', 'plan', 'country', 'age_band', 'signup_date', 'tenure_days',
        'is_active', 'views_total', 'watch_hours', 'watch_hours_28d', 'sessions_28d',
        'active_days_28d', 'active_days_total', 'days_since_last_view', 'n_titles',
    ] -%}
    {%- for slug in genre_slugs() %}{% do columns.append('genre_share_' ~ slug) %}{% endfor -%}
    {%- for device in devices() %}{% do columns.append('device_share_' ~ device) %}{% endfor -%}
    {%- for bucket in hour_buckets() %}{% do columns.append('hour_share_' ~ bucket) %}{% endfor -%}
    {%- do columns.extend([
        'weekend_share', 'series_share', 'binge_ratio', 'abandonment_rate', 'mean_completion',
        'mean_episode_minutes', 'n_ratings', 'mean_rating',
    ]) -%}
    {{ return(columns) }}
{%- endmacro %}

{# The churn features: churn_training_set's and churn_scoring_set's after their keys, nudge_outcomes' after its outcomes #}
{% macro churn_feature_columns() -%}
    {{ return([
        'plan', 'monthly_price', 'tenure_days', 'n_plan_changes', 'n_past_cancels', 'has_reactivated',
        'country', 'age_band', 'views_total', 'views_7d', 'views_28d', 'views_prior_28d',
        'watch_hours_7d', 'watch_hours_28d', 'watch_hours_prior_28d', 'active_days_7d',
        'active_days_28d', 'active_days_prior_28d', 'distinct_titles_28d', 'binge_views_28d',
        'ratings_28d', 'is_prior_window_observed', 'engagement_trend', 'watch_hours_trend',
        'abandonment_rate_28d', 'mean_completion_28d', 'days_since_last_view', 'top_device_share_28d',
    ]) }}
{%- endmacro %}

{# `alias.col1,\n alias.col2, ...` for a select list #}
{% macro select_columns(alias, columns) -%}
    {%- for column in columns %}
        {{ alias }}.{{ column }}{% if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}
