-- experiment_user_daily_metrics are the increments of experiment_user_metrics: per user row,
-- the daily rows sum to the post-period totals, start no earlier than the user's entry_day and
-- end before the experiment does. Returns (fails on) every user row where one of these breaks.

with

users as (

    select
        *,
        {{ dbt.datediff('experiment_started_on', 'experiment_ends_at', 'day') }} as experiment_days
    from {{ ref('experiment_user_metrics') }}

),

daily as (

    select
        experiment_id,
        variant,
        user_id,
        min(look_day) as first_day,
        max(look_day) as last_day,
        sum(exposures) as exposures,
        sum(clicks) as clicks,
        sum(plays) as plays,
        sum(watch_minutes) as watch_minutes,
        sum(abandons) as abandons
    from {{ ref('experiment_user_daily_metrics') }}
    group by experiment_id, variant, user_id

)

select users.experiment_id, users.variant, users.user_id, daily.first_day, daily.last_day
from users
full outer join daily
    on users.experiment_id = daily.experiment_id
    and users.variant = daily.variant
    and users.user_id = daily.user_id
where users.user_id is null
    or daily.user_id is null
    or daily.first_day < users.entry_day
    or daily.last_day >= users.experiment_days
    or daily.exposures <> users.exposures
    or daily.clicks <> users.clicks
    or daily.plays <> users.plays
    or abs(daily.watch_minutes - users.watch_minutes) > 1e-6
    or daily.abandons <> users.abandons
