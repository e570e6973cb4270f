-- The churn label of each snapshot: churned_30d = 1 when the user cancels within the label window
-- [snapshot_at, snapshot_at + churn_label_days days), 0 otherwise. Only events at or after the
-- snapshot feed the label; only events before it feed the features (churn_training_set).

with

snapshots as (

    select churn_snapshot_id, user_id, snapshot_date, snapshot_at, label_window_end_at
    from {{ ref('int_churn_snapshots') }}

),

cancels as (

    select user_id, occurred_at
    from {{ ref('stg_raw__subscriptions') }}
    where event_type = 'cancel'

),

in_window as (

    select
        snapshots.churn_snapshot_id,
        min(cancels.occurred_at) as cancelled_at
    from snapshots
    inner join cancels
        on cancels.user_id = snapshots.user_id
        and cancels.occurred_at >= snapshots.snapshot_at
        and cancels.occurred_at < snapshots.label_window_end_at
    group by snapshots.churn_snapshot_id

),

final as (

    select
        snapshots.churn_snapshot_id,
        snapshots.user_id,
        snapshots.snapshot_date,
        in_window.cancelled_at,
        cast(case when in_window.cancelled_at is not null then 1 else 0 end as {{ dbt.type_int() }})
            as churned_30d
    from snapshots
    left join in_window
        on snapshots.churn_snapshot_id = in_window.churn_snapshot_id

)

select * from final
