-- The churn snapshot spine: one row per (user, snapshot_date) for every user subscribed at the
-- snapshot, with snapshot dates every `churn_snapshot_every_days` days from
-- observed_from + churn_min_history_days up to (last observed date - churn_label_days), so that
-- the feature history and the label window [snapshot, snapshot + churn_label_days) are both
-- fully observed. The last observed date is the earlier of observed_to and the day before the
-- as-of snapshot_date (so an explicit, earlier snapshot_date also bounds the labels).
-- Dates come from dbt.generate_series (cross-database; DuckDB uses its table function, other
-- engines a cross join of powers of two).

with

period as (

    select
        {{ add_days(var('churn_min_history_days'), 'observed_from') }} as first_snapshot_date,
        {{ add_days(- var('churn_label_days'),
                    'least(observed_to, ' ~ add_days(-1, 'snapshot_date') ~ ')') }} as last_snapshot_date
    from {{ ref('int_snapshot_date') }}

),

steps as (

    -- 1..4000 snapshots: far more than any period needs (filtered below)
    {{ dbt.generate_series(4000) }}

),

snapshot_dates as (

    select
        {{ add_days('(steps.generated_number - 1) * ' ~ var('churn_snapshot_every_days'),
                    'period.first_snapshot_date') }} as snapshot_date,
        period.last_snapshot_date
    from period
    cross join steps

),

spine as (

    select
        snapshot_date,
        {{ start_of_day('snapshot_date') }} as snapshot_at
    from snapshot_dates
    where snapshot_date <= last_snapshot_date

),

spells as (

    select user_id, started_at, ended_at from {{ ref('int_subscription_spells') }}

),

active as (

    select distinct
        spells.user_id,
        spine.snapshot_date,
        spine.snapshot_at
    from spine
    inner join spells
        on spells.started_at < spine.snapshot_at
        and (spells.ended_at is null or spells.ended_at >= spine.snapshot_at)

),

final as (

    select
        {{ surrogate_key(['user_id', 'snapshot_date']) }} as churn_snapshot_id,
        user_id,
        snapshot_date,
        snapshot_at,
        {{ dbt.dateadd('day', var('churn_label_days'), 'snapshot_at') }} as label_window_end_at
    from active

)

select * from final
