-- One row per (experiment, variant, user, look_day) on which the user had post-period activity
-- (an impression or a session): that day's metrics, the increments of experiment_user_metrics.
-- A reader cumulates them per user to get the daily looks of a sequential readout (look d holds
-- the users first exposed by day d, with their activity through day d). Days without activity
-- have no row, so the table grows with activity, not with users x days.

with

events as (

    select * from {{ ref('int_experiment_user_events') }}
    where period = 'post'

),

final as (

    select
        experiment_id,
        variant,
        user_id,
        look_day,
        cast(sum(exposures) as {{ dbt.type_bigint() }}) as exposures,
        cast(sum(clicks) as {{ dbt.type_bigint() }}) as clicks,
        cast(sum(plays) as {{ dbt.type_bigint() }}) as plays,
        cast(sum(watch_seconds) / 60.0 as {{ type_double() }}) as watch_minutes,
        cast(sum(abandons) as {{ dbt.type_bigint() }}) as abandons
    from events
    group by experiment_id, variant, user_id, look_day

)

select * from final
