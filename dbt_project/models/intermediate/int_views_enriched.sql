-- One row per playback session with everything features need: title attributes, completion,
-- abandonment, local hour bucket and weekend flag, and binge sittings.
--
-- Time: `started_at`/`ended_at` are UTC and drive ordering, windows and as-of cut-offs; a session
-- is known when it ENDS (its watch_seconds is only final then), so point-in-time logic compares
-- `ended_at`. Hour of day, weekday and calendar day come from the viewer's wall clock
-- (`started_at_local`).
--
-- Definitions (thresholds are project vars):
--   completion    = least(watch_seconds / duration_seconds, 1)
--   is_trivial    = watch_seconds < min_session_seconds (an accidental tap)
--   is_abandoned  = not is_trivial and completion < abandon_below_completion
--   binge sitting = >= binge_min_episodes non-trivial episodes of one series, one user, one local day

with

views as (

    select * from {{ ref('stg_raw__views') }}

),

titles as (

    select title_id, kind from {{ ref('stg_raw__titles') }}

),

primary_genres as (

    select title_id, genre_slug as primary_genre_slug
    from {{ ref('int_title_genres') }}
    where is_primary_genre

),

hour_buckets as (

    select local_hour, hour_bucket from {{ ref('hour_buckets') }}

),

joined as (

    select
        views.view_id,
        views.user_id,
        views.title_id,
        views.device,
        titles.kind as title_kind,
        coalesce(titles.kind = 'series', false) as is_series,
        primary_genres.primary_genre_slug,
        views.started_at,
        {{ dbt.dateadd('second', 'views.watch_seconds', 'views.started_at') }} as ended_at,
        views.started_at_local,
        cast(views.started_at_local as date) as local_date,
        {{ hour_of('views.started_at_local') }} as local_hour,
        views.watch_seconds,
        views.duration_seconds,
        least(
            {{ safe_divide('views.watch_seconds', 'views.duration_seconds') }},
            1.0
        ) as completion
    from views
    left join titles
        on views.title_id = titles.title_id
    left join primary_genres
        on views.title_id = primary_genres.title_id

),

flagged as (

    select
        joined.*,
        hour_buckets.hour_bucket,
        {{ iso_day_of_week('joined.local_date') }} >= 6 as is_weekend,
        joined.watch_seconds < {{ var('min_session_seconds') }} as is_trivial,
        (
            joined.watch_seconds >= {{ var('min_session_seconds') }}
            and coalesce(joined.completion, 0) < {{ var('abandon_below_completion') }}
        ) as is_abandoned
    from joined
    left join hour_buckets
        on joined.local_hour = hour_buckets.local_hour

),

binge as (

    select
        flagged.*,
        cast(case
            when is_series then sum(case when is_series and not is_trivial then 1 else 0 end) over (
                partition by user_id, title_id, local_date
            )
            else 0
        end as {{ dbt.type_int() }}) as series_episodes_that_day
    from flagged

),

final as (

    select
        view_id,
        user_id,
        title_id,
        device,
        title_kind,
        is_series,
        primary_genre_slug,
        started_at,
        ended_at,
        started_at_local,
        local_date,
        local_hour,
        hour_bucket,
        is_weekend,
        watch_seconds,
        duration_seconds,
        completion,
        is_trivial,
        is_abandoned,
        series_episodes_that_day,
        (
            is_series
            and not is_trivial
            and series_episodes_that_day >= {{ var('binge_min_episodes') }}
        ) as is_binge
    from binge

)

select * from final
