-- When each user watches: one row per (user, local hour 0..23) for every user with at least one
-- session known before the snapshot (ended_at < snapshot_at, as in user_features), zeros included,
-- so the 24 shares of a user sum to 1. Hours are the viewer's wall clock at the session start.
-- The re-engagement policy derives quiet hours (never nudge while the user is usually asleep)
-- from it. Every session counts, accidental taps too: they still show when the user is awake.

with

as_of as (

    select snapshot_at from {{ ref('int_snapshot_date') }}

),

sessions as (

    select views.user_id, views.local_hour
    from {{ ref('int_views_enriched') }} as views
    cross join as_of
    where views.ended_at < as_of.snapshot_at

),

per_hour as (

    select user_id, local_hour, count(*) as views
    from sessions
    group by user_id, local_hour

),

totals as (

    select user_id, sum(views) as total_views
    from per_hour
    group by user_id

),

hours as (

    select cast(generated_number - 1 as {{ dbt.type_int() }}) as hour_of_day
    from ({{ dbt.generate_series(24) }}) as steps

),

final as (

    select
        cast(totals.user_id as {{ dbt.type_string() }}) as user_id,
        hours.hour_of_day,
        cast(coalesce(per_hour.views, 0) as {{ dbt.type_bigint() }}) as views,
        cast({{ safe_divide('coalesce(per_hour.views, 0)', 'totals.total_views') }}
            as {{ type_double() }}) as share
    from totals
    cross join hours
    left join per_hour
        on per_hour.user_id = totals.user_id
        and per_hour.local_hour = hours.hour_of_day

)

select * from final
