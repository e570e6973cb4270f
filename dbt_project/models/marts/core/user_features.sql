-- One row per user who signed up before the as-of date (int_snapshot_date.snapshot_date), with
-- features from everything known strictly before snapshot_at (views by ended_at).
--
-- Shares (genre_/device_/hour_share_*, weekend_share, series_share) are shares of WATCH SECONDS;
-- a multi-genre title's seconds are split equally over its genres. Each family sums to 1 for a
-- user with watch time; a user without any (no views, or only zero-second plays) gets 0 in every
-- share. Rates and means over sessions (abandonment_rate, mean_completion, binge_ratio) use
-- non-trivial sessions only and are null when there are none; mean_episode_minutes,
-- days_since_last_view and mean_rating are null without views / ratings. Counts and hours are 0.

-- The logic is the macro windowed_user_features (macros/monitoring_user_features.sql), called
-- with one window covering all history before the as-of date, so this mart and the drift
-- monitor's user_feature_windows compute every column the same way.

{%- set windows_sql %}
    select
        cast('all' as {{ dbt.type_string() }}) as window_name,
        cast(null as date) as window_start,
        as_of.snapshot_date as window_end,
        cast(null as {{ dbt.type_timestamp() }}) as window_start_at,
        as_of.snapshot_at as window_end_at
    from {{ ref('int_snapshot_date') }} as as_of
{%- endset %}

with

features as (

    {{ windowed_user_features(windows_sql, window_columns=false) | indent(4) }}

)

select * from features
