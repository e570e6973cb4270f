-- The as-of date is trusted (docs/data-contract.md, "Time you can trust"): returns (fails on)
--   * the snapshot itself when snapshot_at lies after the latest ingest time of any view plus
--     var('future_tolerance_hours'): nothing landed can be known after that, so such a snapshot
--     was moved by a bad row or a bad var;
--   * every row of an as-of mart that holds an event at or after the snapshot it was cut at.
-- Marts without an as-of date (experiments, title_catalog) describe everything landed and are
-- not checked here.

with

as_of as (

    select snapshot_date, snapshot_at, ingest_horizon_at from {{ ref('int_snapshot_date') }}

),

violations as (

    select
        'int_snapshot_date' as model,
        cast(snapshot_date as {{ dbt.type_string() }}) as row_key,
        'snapshot_at is after the latest ingest time plus future_tolerance_hours' as reason
    from as_of
    where snapshot_at > ingest_horizon_at

    union all

    select
        'user_title_interactions',
        cast(uti.user_id as {{ dbt.type_string() }}) || '/' || cast(uti.title_id as {{ dbt.type_string() }}),
        'watched or rated at or after snapshot_at'
    from {{ ref('user_title_interactions') }} uti
    cross join as_of
    where uti.last_watched_at >= as_of.snapshot_at or uti.rated_at >= as_of.snapshot_at

    union all

    select
        'churn_training_set',
        cast(user_id as {{ dbt.type_string() }}) || '/' || cast(snapshot_date as {{ dbt.type_string() }}),
        'features_max_event_at at or after its snapshot'
    from {{ ref('churn_training_set') }}
    where features_max_event_at >= {{ start_of_day('snapshot_date') }}

    union all

    select
        'churn_scoring_set',
        cast(user_id as {{ dbt.type_string() }}) || '/' || cast(snapshot_date as {{ dbt.type_string() }}),
        'features_max_event_at at or after its snapshot'
    from {{ ref('churn_scoring_set') }}
    where features_max_event_at >= {{ start_of_day('snapshot_date') }}

    union all

    select
        'nudge_outcomes',
        cast(n.event_id as {{ dbt.type_string() }}),
        'sent at or after snapshot_at'
    from {{ ref('nudge_outcomes') }} n
    cross join as_of
    where n.sent_at >= as_of.snapshot_at

    union all

    select
        'user_feature_windows',
        cast(w.user_id as {{ dbt.type_string() }}) || '/' || cast(w.window_end as {{ dbt.type_string() }}),
        'window ends after snapshot_date'
    from {{ ref('user_feature_windows') }} w
    cross join as_of
    where w.window_end > as_of.snapshot_date

)

select * from violations
