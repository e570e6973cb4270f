-- The user_features columns, once per cut-off of feature_set 'user_features' in
-- int_feature_cutoffs: the as-of cut-off (user_features, all history) and the drift windows
-- (user_feature_windows). One row per cutoff_id, i.e. per (cutoff_kind, window_name, user).
--
-- Per row: activity, taste and habit features from the user's facts inside
-- [window_start_at, cutoff_at) (views by ended_at, ratings by rated_at; window_start_at null =
-- all history); `_28d` columns from the last 28 days before cutoff_at; state columns (plan,
-- is_active, tenure_days) as of cutoff_at; snapshot_date = window_end = cutoff_date. Users
-- without views in the window: counts 0, shares 0, rates and means null (see user_features).
-- A window covering all history therefore reproduces user_features row for row
-- (tests/monitoring/test_feature_windows.py checks it).
--
-- Ephemeral like its spine: the drift windows follow the vars of the run that builds the mart.

{{ config(materialized='ephemeral') }}

{%- set genres = genre_slugs() %}
{%- set device_list = devices() %}
{%- set bucket_list = hour_buckets() %}

with

cutoffs as (

    select cutoff_id, cutoff_kind, window_name, user_id, window_start, window_start_at, cutoff_date, cutoff_at
    from {{ ref('int_feature_cutoffs') }}
    where feature_set = 'user_features'

),

users as (

    select
        cutoffs.*,
        users.signup_date,
        users.signup_plan,
        users.country,
        users.age_band
    from cutoffs
    inner join {{ ref('stg_raw__users') }} as users
        on cutoffs.user_id = users.user_id

),

views as (

    select
        cutoffs.cutoff_id,
        views.*,
        views.ended_at >= {{ dbt.dateadd('day', -28, 'cutoffs.cutoff_at') }} as is_in_28d
    from {{ ref('int_views_enriched') }} as views
    inner join cutoffs
        on views.user_id = cutoffs.user_id
        and views.ended_at < cutoffs.cutoff_at
        and (cutoffs.window_start_at is null or views.ended_at >= cutoffs.window_start_at)

),

ratings as (

    select cutoffs.cutoff_id, ratings.rating
    from {{ ref('stg_raw__ratings') }} as ratings
    inner join cutoffs
        on ratings.user_id = cutoffs.user_id
        and ratings.rated_at < cutoffs.cutoff_at
        and (cutoffs.window_start_at is null or ratings.rated_at >= cutoffs.window_start_at)

),

-- states (plan, subscribed) look at the whole history before the cut-off, not just the window
subscription_events as (

    select cutoffs.cutoff_id, subscriptions.plan, subscriptions.occurred_at
    from {{ ref('stg_raw__subscriptions') }} as subscriptions
    inner join cutoffs
        on subscriptions.user_id = cutoffs.user_id
        and subscriptions.occurred_at < cutoffs.cutoff_at

),

spells as (

    select cutoffs.cutoff_id, cutoffs.cutoff_at, spells.ended_at
    from {{ ref('int_subscription_spells') }} as spells
    inner join cutoffs
        on spells.user_id = cutoffs.user_id
        and spells.started_at < cutoffs.cutoff_at

),

title_genres as (

    select title_id, genre_slug, genre_weight from {{ ref('int_title_genres') }}

),

view_stats as (

    select
        cutoff_id,
        count(*) as views_total,
        sum(watch_seconds) as watch_seconds,
        sum(case when is_in_28d then watch_seconds else 0 end) as watch_seconds_28d,
        sum(case when is_in_28d then 1 else 0 end) as sessions_28d,
        count(distinct case when is_in_28d then local_date end) as active_days_28d,
        count(distinct local_date) as active_days_total,
        count(distinct title_id) as n_titles,
        sum(case when not is_trivial then 1 else 0 end) as n_sessions_nontrivial,
        sum(case when is_abandoned then 1 else 0 end) as n_abandoned,
        avg(case when not is_trivial then completion end) as mean_completion,
        sum(case when is_series and not is_trivial then 1 else 0 end) as n_series_episodes,
        sum(case when is_binge then 1 else 0 end) as n_binge_episodes,
        avg(duration_seconds) / 60.0 as mean_episode_minutes,
        sum(case when is_series then watch_seconds else 0 end) as series_seconds,
        sum(case when is_weekend then watch_seconds else 0 end) as weekend_seconds,
        {%- for device in device_list %}
        sum(case when device = '{{ device }}' then watch_seconds else 0 end) as seconds_{{ device }},
        {%- endfor %}
        {%- for bucket in bucket_list %}
        sum(case when hour_bucket = '{{ bucket }}' then watch_seconds else 0 end) as seconds_{{ bucket }},
        {%- endfor %}
        max(ended_at) as last_view_ended_at
    from views
    group by cutoff_id

),

genre_stats as (

    select
        views.cutoff_id,
        {%- for slug in genres %}
        sum(case when title_genres.genre_slug = '{{ slug }}'
            then views.watch_seconds * title_genres.genre_weight else 0 end) as seconds_{{ slug }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from views
    inner join title_genres
        on views.title_id = title_genres.title_id
    group by views.cutoff_id

),

rating_stats as (

    select
        cutoff_id,
        count(*) as n_ratings,
        avg(rating) as mean_rating
    from ratings
    group by cutoff_id

),

latest_plan as (

    select cutoff_id, plan
    from (
        select
            cutoff_id,
            plan,
            row_number() over (partition by cutoff_id order by occurred_at desc) as nth_latest
        from subscription_events
        where plan is not null
    ) as ordered
    where nth_latest = 1

),

active_at_cutoff as (

    select distinct cutoff_id
    from spells
    where ended_at is null or ended_at >= cutoff_at

),

final as (

    select
        users.cutoff_id,
        users.cutoff_kind,
        users.window_name,
        users.window_start,
        users.cutoff_date as window_end,
        users.user_id,
        users.cutoff_date as snapshot_date,
        cast(coalesce(latest_plan.plan, users.signup_plan) as {{ dbt.type_string() }}) as plan,
        users.country,
        users.age_band,
        users.signup_date,
        cast({{ dbt.datediff('users.signup_date', 'users.cutoff_date', 'day') }} as {{ dbt.type_int() }})
            as tenure_days,
        active_at_cutoff.cutoff_id is not null as is_active,

        -- activity
        cast(coalesce(view_stats.views_total, 0) as {{ dbt.type_bigint() }}) as views_total,
        cast(coalesce(view_stats.watch_seconds, 0) / 3600.0 as {{ type_double() }}) as watch_hours,
        cast(coalesce(view_stats.watch_seconds_28d, 0) / 3600.0 as {{ type_double() }}) as watch_hours_28d,
        cast(coalesce(view_stats.sessions_28d, 0) as {{ dbt.type_bigint() }}) as sessions_28d,
        cast(coalesce(view_stats.active_days_28d, 0) as {{ dbt.type_bigint() }}) as active_days_28d,
        cast(coalesce(view_stats.active_days_total, 0) as {{ dbt.type_bigint() }}) as active_days_total,
        cast({{ dbt.datediff('view_stats.last_view_ended_at', 'users.cutoff_at', 'day') }}
            as {{ dbt.type_int() }}) as days_since_last_view,
        cast(coalesce(view_stats.n_titles, 0) as {{ dbt.type_bigint() }}) as n_titles,

        -- taste: shares of watch seconds (0 without watch time)
        {%- for slug in genres %}
        cast(coalesce({{ safe_divide('genre_stats.seconds_' ~ slug, 'view_stats.watch_seconds') }}, 0)
            as {{ type_double() }}) as genre_share_{{ slug }},
        {%- endfor %}
        {%- for device in device_list %}
        cast(coalesce({{ safe_divide('view_stats.seconds_' ~ device, 'view_stats.watch_seconds') }}, 0)
            as {{ type_double() }}) as device_share_{{ device }},
        {%- endfor %}
        {%- for bucket in bucket_list %}
        cast(coalesce({{ safe_divide('view_stats.seconds_' ~ bucket, 'view_stats.watch_seconds') }}, 0)
            as {{ type_double() }}) as hour_share_{{ bucket }},
        {%- endfor %}
        cast(coalesce({{ safe_divide('view_stats.weekend_seconds', 'view_stats.watch_seconds') }}, 0)
            as {{ type_double() }}) as weekend_share,
        cast(coalesce({{ safe_divide('view_stats.series_seconds', 'view_stats.watch_seconds') }}, 0)
            as {{ type_double() }}) as series_share,

        -- habits: rates and means over non-trivial sessions (null without any)
        cast({{ safe_divide('view_stats.n_binge_episodes', 'view_stats.n_series_episodes') }}
            as {{ type_double() }}) as binge_ratio,
        cast({{ safe_divide('view_stats.n_abandoned', 'view_stats.n_sessions_nontrivial') }}
            as {{ type_double() }}) as abandonment_rate,
        cast(view_stats.mean_completion as {{ type_double() }}) as mean_completion,
        cast(view_stats.mean_episode_minutes as {{ type_double() }}) as mean_episode_minutes,

        -- explicit feedback
        cast(coalesce(rating_stats.n_ratings, 0) as {{ dbt.type_bigint() }}) as n_ratings,
        cast(rating_stats.mean_rating as {{ type_double() }}) as mean_rating

    from users
    left join view_stats
        on users.cutoff_id = view_stats.cutoff_id
    left join genre_stats
        on users.cutoff_id = genre_stats.cutoff_id
    left join rating_stats
        on users.cutoff_id = rating_stats.cutoff_id
    left join latest_plan
        on users.cutoff_id = latest_plan.cutoff_id
    left join active_at_cutoff
        on users.cutoff_id = active_at_cutoff.cutoff_id

)

select * from final
