-- The user_features columns over two equal, adjacent windows, for data drift monitoring:
--   reference = [current_end - 2w, current_end - w), current = [current_end - w, current_end),
-- w = var('drift_window_days', 28), current_end = var('drift_current_end') or, when null, the
-- project's as-of date (int_snapshot_date: the snapshot_date var or the day after the last view).
-- One row per (window_name, user who signed up before the window's end). Features come from the
-- facts inside each window (see macros/monitoring_user_features.sql), so a shift confined to the
-- current window is not diluted by months of history as it is in the cumulative user_features.

{%- set window_days = monitoring_window_days_var() %}
{%- set current_end = monitoring_current_end_var() %}

{%- set windows_sql %}
    select
        bounds.window_name,
        bounds.window_start,
        bounds.window_end,
        {{ start_of_day('bounds.window_start') }} as window_start_at,
        {{ start_of_day('bounds.window_end') }} as window_end_at
    from (
        select
            cast('current' as {{ dbt.type_string() }}) as window_name,
            {{ add_days(-window_days, 'ends.current_end') }} as window_start,
            ends.current_end as window_end
        from ends
        union all
        select
            cast('reference' as {{ dbt.type_string() }}) as window_name,
            {{ add_days(-2 * window_days, 'ends.current_end') }} as window_start,
            {{ add_days(-window_days, 'ends.current_end') }} as window_end
        from ends
    ) as bounds
{%- endset %}

with

ends as (

    select
        {%- if current_end is none %}
        snapshot_date as current_end
        {%- else %}
        cast('{{ current_end }}' as date) as current_end
        {%- endif %}
    from {{ ref('int_snapshot_date') }}

),

windowed as (

    {{ windowed_user_features(windows_sql) | indent(4) }}

)

select * from windowed
