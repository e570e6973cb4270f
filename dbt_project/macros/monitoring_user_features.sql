{#
    The user_features columns computed per window, for drift monitoring.

    Why a macro: data drift compares how people watch in two equal, adjacent windows. The
    `user_features` mart is cumulative (everything before its as-of date), so a shift confined to
    the last weeks is diluted by months of history. This macro holds the feature logic once,
    parameterised by a set of windows, so the windowed mart and the cumulative mart compute the
    same columns the same way (tests/monitoring/test_feature_windows.py checks that a window
    covering all history reproduces user_features row for row). `user_features.sql` can call it
    with a single window whose start is null, and does (window_columns=false: the mart has no
    window columns).

    windows_sql: a query with one row per window and the columns
        window_name (string), window_start (date, null = all history), window_end (date, exclusive),
        window_start_at, window_end_at (timestamps: midnight UTC of those dates; start may be null).

    Per (window, user who signed up before window_end): activity, taste and habit features from
    the facts inside [window_start_at, window_end_at) (views by ended_at, ratings by rated_at);
    `_28d` columns from the last 28 days of the window; state columns (plan, is_active,
    tenure_days) as of window_end_at; snapshot_date = window_end. Conventions for users without
    views in a window are those of user_features (counts 0, shares 0, rates/means null).
#}
{% macro windowed_user_features(windows_sql, window_columns=true) -%}
{%- set genres = genre_slugs() %}
{%- set device_list = devices() %}
{%- set bucket_list = hour_buckets() %}

with

windows as (

    {{ windows_sql }}

),

users as (

    select
        windows.window_name,
        windows.window_start,
        windows.window_end,
        windows.window_end_at,
        users.*
    from {{ ref('stg_raw__users') }} as users
    inner join windows
        on users.signup_date < windows.window_end

),

views as (

    select
        windows.window_name,
        views.*,
        views.ended_at >= {{ dbt.dateadd('day', -28, 'windows.window_end_at') }} as is_in_28d
    from {{ ref('int_views_enriched') }} as views
    inner join windows
        on views.ended_at < windows.window_end_at
        and (windows.window_start_at is null or views.ended_at >= windows.window_start_at)

),

ratings as (

    select windows.window_name, ratings.*
    from {{ ref('stg_raw__ratings') }} as ratings
    inner join windows
        on ratings.rated_at < windows.window_end_at
        and (windows.window_start_at is null or ratings.rated_at >= windows.window_start_at)

),

subscription_events as (

    select windows.window_name, subscriptions.*
    from {{ ref('stg_raw__subscriptions') }} as subscriptions
    inner join windows
        on subscriptions.occurred_at < windows.window_end_at

),

spells as (

    select windows.window_name, windows.window_end_at, spells.*
    from {{ ref('int_subscription_spells') }} as spells
    inner join windows
        on spells.started_at < windows.window_end_at

),

title_genres as (

    select title_id, genre_slug, genre_weight from {{ ref('int_title_genres') }}

),

view_stats as (

    select
        window_name,
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
    group by window_name, user_id

),

genre_stats as (

    select
        views.window_name,
        views.user_id,
        {%- for slug in genres %}
        sum(case when title_genres.genre_slug = '{{ slug }}'
            then views.watch_seconds * title_genres.genre_weight else 0 end) as seconds_{{ slug }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from views
    inner join title_genres
        on views.title_id = title_genres.title_id
    group by views.window_name, views.user_id

),

rating_stats as (

    select
        window_name,
        user_id,
        count(*) as n_ratings,
        avg(rating) as mean_rating
    from ratings
    group by window_name, user_id

),

latest_plan as (

    select window_name, user_id, plan
    from (
        select
            window_name,
            user_id,
            plan,
            row_number() over (
                partition by window_name, user_id order by occurred_at desc
            ) as nth_latest
        from subscription_events
        where plan is not null
    ) as ordered
    where nth_latest = 1

),

active_at_end as (

    select distinct window_name, user_id
    from spells
    where ended_at is null or ended_at >= window_end_at

),

final as (

    select
        {%- if window_columns %}
        users.window_name,
        users.window_start,
        users.window_end,
        {%- endif %}
        users.user_id,
        users.window_end as snapshot_date,
        cast(coalesce(latest_plan.plan, users.signup_plan) as {{ dbt.type_string() }}) as plan,
        users.country,
        users.age_band,
        users.signup_date,
        cast({{ dbt.datediff('users.signup_date', 'users.window_end', 'day') }} as {{ dbt.type_int() }})
            as tenure_days,
        active_at_end.user_id is not null as is_active,

        -- activity
        cast(coalesce(view_stats.views_total, 0) as {{ dbt.type_bigint() }}) as views_total,
        cast(coalesce(view_stats.watch_seconds, 0) / 3600.0 as {{ type_double() }}) as watch_hours,
        cast(coalesce(view_stats.watch_seconds_28d, 0) / 3600.0 as {{ type_double() }}) as watch_hours_28d,
        cast(coalesce(view_stats.sessions_28d, 0) as {{ dbt.type_bigint() }}) as sessions_28d,
        cast(coalesce(view_stats.active_days_28d, 0) as {{ dbt.type_bigint() }}) as active_days_28d,
        cast(coalesce(view_stats.active_days_total, 0) as {{ dbt.type_bigint() }}) as active_days_total,
        cast({{ dbt.datediff('view_stats.last_view_ended_at', 'users.window_end_at', 'day') }}
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
        on users.window_name = view_stats.window_name
        and users.user_id = view_stats.user_id
    left join genre_stats
        on users.window_name = genre_stats.window_name
        and users.user_id = genre_stats.user_id
    left join rating_stats
        on users.window_name = rating_stats.window_name
        and users.user_id = rating_stats.user_id
    left join latest_plan
        on users.window_name = latest_plan.window_name
        and users.user_id = latest_plan.user_id
    left join active_at_end
        on users.window_name = active_at_end.window_name
        and users.user_id = active_at_end.user_id

)

select * from final
{%- endmacro %}


{#
    Validated monitoring vars (inline defaults: dbt_project.yml need not declare them).
    drift_window_days: a positive whole number of days (default 28).
    drift_current_end: an ISO date (YYYY-MM-DD) or null (default: int_snapshot_date's date).
    Anything else stops the compile with a message naming the var and the value.
#}
{% macro monitoring_window_days_var() -%}
    {%- set value = var('drift_window_days', 28) -%}
    {%- set text = value | string | trim -%}
    {%- if not modules.re.match('^[0-9]+$', text) or (text | int) < 1 -%}
        {{ exceptions.raise_compiler_error(
            "var drift_window_days must be a whole number of days >= 1, got '" ~ text ~ "'") }}
    {%- endif -%}
    {{ return(text | int) }}
{%- endmacro %}

{% macro monitoring_current_end_var() -%}
    {{ return(iso_date_var('drift_current_end')) }}
{%- endmacro %}
