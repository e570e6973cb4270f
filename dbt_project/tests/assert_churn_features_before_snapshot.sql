-- Leakage guard for churn_training_set: returns (fails on) every training row that used a fact
-- known at or after its snapshot.
--
-- 1. features_max_event_at (the latest fact the row's features saw) must be < snapshot_at.
-- 2. The features are re-derived here from the base models with an independent, strictly-before
--    cut-off (views by int_views_enriched.ended_at, ratings by rated_at, subscription events by
--    occurred_at), NOT from int_user_events / the mart's own point-in-time join. Any difference in
--    the latest fact, the session counts, the 28-day watch time, the ratings or the plan changes
--    means the mart's cut-off drifted (e.g. `<=`, a day added, started_at used for a session that
--    was still running at the snapshot).

with

training as (

    select
        user_id,
        snapshot_date,
        {{ start_of_day('snapshot_date') }} as snapshot_at,
        features_max_event_at,
        views_total,
        views_28d,
        watch_hours_28d,
        ratings_28d,
        n_plan_changes
    from {{ ref('churn_training_set') }}

),

facts as (

    select user_id, ended_at as known_at, 'view' as fact, watch_seconds
    from {{ ref('int_views_enriched') }}

    union all

    select user_id, rated_at as known_at, 'rating' as fact, 0 as watch_seconds
    from {{ ref('stg_raw__ratings') }}

    union all

    select user_id, occurred_at as known_at, event_type as fact, 0 as watch_seconds
    from {{ ref('stg_raw__subscriptions') }}

),

rederived as (

    select
        training.user_id,
        training.snapshot_date,
        max(facts.known_at) as max_known_at,
        sum(case when facts.fact = 'view' then 1 else 0 end) as views_total,
        sum(case when facts.fact = 'view'
            and facts.known_at >= {{ dbt.dateadd('day', -28, 'training.snapshot_at') }}
            then 1 else 0 end) as views_28d,
        sum(case when facts.fact = 'view'
            and facts.known_at >= {{ dbt.dateadd('day', -28, 'training.snapshot_at') }}
            then facts.watch_seconds else 0 end) / 3600.0 as watch_hours_28d,
        sum(case when facts.fact = 'rating'
            and facts.known_at >= {{ dbt.dateadd('day', -28, 'training.snapshot_at') }}
            then 1 else 0 end) as ratings_28d,
        sum(case when facts.fact = 'plan_change' then 1 else 0 end) as n_plan_changes
    from training
    left join facts
        on facts.user_id = training.user_id
        and facts.known_at < training.snapshot_at
    group by training.user_id, training.snapshot_date

),

violations as (

    select
        training.user_id,
        training.snapshot_date,
        'features_max_event_at is on or after the snapshot' as reason
    from training
    where training.features_max_event_at >= training.snapshot_at

    union all

    select
        training.user_id,
        training.snapshot_date,
        'features differ from a strictly-before re-derivation' as reason
    from training
    inner join rederived
        on training.user_id = rederived.user_id
        and training.snapshot_date = rederived.snapshot_date
    where not (
        training.features_max_event_at = rederived.max_known_at
        and training.views_total = rederived.views_total
        and training.views_28d = rederived.views_28d
        and abs(training.watch_hours_28d - rederived.watch_hours_28d) < 0.000001
        and training.ratings_28d = rederived.ratings_28d
        and training.n_plan_changes = rederived.n_plan_changes
    )
    -- a null comparison (a fact missing on one side) is a violation too
    or training.features_max_event_at is null
    or rederived.max_known_at is null

)

select * from violations
