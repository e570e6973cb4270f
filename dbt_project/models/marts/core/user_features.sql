-- One row per user who signed up before the as-of date (int_snapshot_date.snapshot_date), with
-- features from everything known strictly before snapshot_at (views by ended_at).
--
-- Shares (genre_/device_/hour_share_*, weekend_share, series_share) are shares of WATCH SECONDS;
-- a multi-genre title's seconds are split equally over its genres. Each family sums to 1 for a
-- user with watch time; a user without any (no views, or only zero-second plays) gets 0 in every
-- share. Rates and means over sessions (abandonment_rate, mean_completion, binge_ratio) use
-- non-trivial sessions only and are null when there are none; mean_episode_minutes,
-- days_since_last_view and mean_rating are null without views / ratings. Counts and hours are 0.

{%- set genres = genre_slugs() %}
{%- set device_list = devices() %}
{%- set bucket_list = hour_buckets() %}

with

as_of as (

    select snapshot_date, snapshot_at from {{ ref('int_snapshot_date') }}

),

users as (

    select users.*
    from {{ ref('stg_raw__users') }} as users
    cross join as_of
    where users.signup_date < as_of.snapshot_date

),

views as (

    select
        views.*,
        views.ended_at >= {{ dbt.dateadd('day', -28, 'as_of.snapshot_at') }} as is_in_28d
    from {{ ref('int_views_enriched') }} as views
    cross join as_of
    where views.ended_at < as_of.snapshot_at

),

ratings as (

    select ratings.*
    from {{ ref('stg_raw__ratings') }} as ratings
    cross join as_of
    where ratings.rated_at < as_of.snapshot_at

),

subscription_events as (

    select subscriptions.*
    from {{ ref('stg_raw__subscriptions') }} as subscriptions
    cross join as_of
    where subscriptions.occurred_at < as_of.snapshot_at

),

spells as (

    select spells.*
    from {{ ref('int_subscription_spells') }} as spells
    cross join as_of
    where spells.started_at < as_of.snapshot_at

),

title_genres as (

    select title_id, genre_slug, genre_weight from {{ ref('int_title_genres') }}

),

view_stats as (

    select
        user_id,
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
    group by user_id

),

genre_stats as (

    select
        views.user_id,
        {%- for slug in genres %}
        sum(case when title_genres.genre_slug = '{{ slug }}'
            then views.watch_seconds * title_genres.genre_weight else 0 end) as seconds_{{ slug }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from views
    inner join title_genres
        on views.title_id = title_genres.title_id
    group by views.user_id

),

rating_stats as (

    select
        user_id,
        count(*) as n_ratings,
        avg(rating) as mean_rating
    from ratings
    group by user_id

),

latest_plan as (

    select user_id, plan
    from (
        select
            user_id,
            plan,
            row_number() over (partition by user_id order by occurred_at desc) as nth_latest
        from subscription_events
        where plan is not null
    ) as ordered
    where nth_latest = 1

),

active_at_snapshot as (

    select distinct spells.user_id
    from spells
    cross join as_of
    where spells.ended_at is null or spells.ended_at >= as_of.snapshot_at

),

final as (

    select
        users.user_id,
        as_of.snapshot_date,
        cast(coalesce(latest_plan.plan, users.signup_plan) as {{ dbt.type_string() }}) as plan,
        users.country,
        users.age_band,
        users.signup_date,
        cast({{ dbt.datediff('users.signup_date', 'as_of.snapshot_date', 'day') }} as {{ dbt.type_int() }})
            as tenure_days,
        active_at_snapshot.user_id is not null as is_active,

        -- activity
        cast(coalesce(view_stats.views_total, 0) as {{ dbt.type_bigint() }}) as views_total,
        cast(coalesce(view_stats.watch_seconds, 0) / 3600.0 as {{ type_double() }}) as watch_hours,
        cast(coalesce(view_stats.watch_seconds_28d, 0) / 3600.0 as {{ type_double() }}) as watch_hours_28d,
        cast(coalesce(view_stats.sessions_28d, 0) as {{ dbt.type_bigint() }}) as sessions_28d,
        cast(coalesce(view_stats.active_days_28d, 0) as {{ dbt.type_bigint() }}) as active_days_28d,
        cast(coalesce(view_stats.active_days_total, 0) as {{ dbt.type_bigint() }}) as active_days_total,
        cast({{ dbt.datediff('view_stats.last_view_ended_at', 'as_of.snapshot_at', 'day') }}
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
    cross join as_of
    left join view_stats
        on users.user_id = view_stats.user_id
    left join genre_stats
        on users.user_id = genre_stats.user_id
    left join rating_stats
        on users.user_id = rating_stats.user_id
    left join latest_plan
        on users.user_id = latest_plan.user_id
    left join active_at_snapshot
        on users.user_id = active_at_snapshot.user_id

)

select * from final
