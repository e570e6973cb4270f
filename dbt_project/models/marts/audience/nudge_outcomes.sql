-- One row per logged re-engagement decision sent before the as-of snapshot (controls with action
-- 'none' included), with its outcomes, for inverse-propensity estimates of nudge policies:
--
--   returned_7d      a view started in (sent_at, sent_at + 7 days]
--   cancelled_30d    a cancel in (sent_at, sent_at + 30 days]
--   outcome_observed sent_at + 30 days <= snapshot_at: both windows lie inside the observed data.
--                    When false the outcomes are censored (computed only from what was known
--                    before snapshot_at) and must not be used.
--
-- Windows are left-open: a view or cancel at exactly sent_at happened before the nudge could act.
-- Point in time: only facts strictly before snapshot_at are read.
--
-- The user's churn features at the decision (the columns of churn_training_set, from
-- int_churn_features_snapshotted at the `nudge_send` cut-off of int_feature_cutoffs: only facts
-- strictly before sent_at) follow the outcomes, so a churn model trained on churn_training_set
-- scores the user's risk at the time of each logged decision (tenure_days counts to the UTC date
-- of sent_at).

with

features as (

    select * from {{ ref('int_churn_features_snapshotted') }}
    where cutoff_kind = 'nudge_send'

),

as_of as (

    select snapshot_at from {{ ref('int_snapshot_date') }}

),

nudges as (

    select
        nudges.nudge_id,
        nudges.user_id,
        nudges.campaign_id,
        nudges.sent_at,
        nudges.action,
        nudges.propensity,
        nudges.title_id,
        as_of.snapshot_at,
        {{ dbt.dateadd('day', 7, 'nudges.sent_at') }} as return_window_end_at,
        {{ dbt.dateadd('day', 30, 'nudges.sent_at') }} as cancel_window_end_at
    from {{ ref('stg_raw__nudges') }} as nudges
    cross join as_of
    where nudges.sent_at < as_of.snapshot_at

),

views as (

    select user_id, started_at from {{ ref('stg_raw__views') }}

),

cancels as (

    select user_id, occurred_at
    from {{ ref('stg_raw__subscriptions') }}
    where event_type = 'cancel'

),

returned as (

    select distinct nudges.nudge_id
    from nudges
    inner join views
        on views.user_id = nudges.user_id
        and views.started_at > nudges.sent_at
        and views.started_at <= nudges.return_window_end_at
        and views.started_at < nudges.snapshot_at

),

cancelled as (

    select distinct nudges.nudge_id
    from nudges
    inner join cancels
        on cancels.user_id = nudges.user_id
        and cancels.occurred_at > nudges.sent_at
        and cancels.occurred_at <= nudges.cancel_window_end_at
        and cancels.occurred_at < nudges.snapshot_at

),

final as (

    select
        cast(nudges.nudge_id as {{ dbt.type_string() }}) as event_id,
        cast(nudges.user_id as {{ dbt.type_string() }}) as user_id,
        cast(nudges.campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(nudges.sent_at as {{ dbt.type_timestamp() }}) as sent_at,
        cast(nudges.action as {{ dbt.type_string() }}) as action,
        cast(nudges.propensity as {{ type_double() }}) as propensity,
        cast(nudges.title_id as {{ dbt.type_string() }}) as title_id,
        returned.nudge_id is not null as returned_7d,
        cancelled.nudge_id is not null as cancelled_30d,
        nudges.cancel_window_end_at <= nudges.snapshot_at as outcome_observed,
        {{- select_columns('features', churn_feature_columns()) }}
    from nudges
    left join features
        on nudges.user_id = features.user_id
        and nudges.sent_at = features.snapshot_at
    left join returned
        on nudges.nudge_id = returned.nudge_id
    left join cancelled
        on nudges.nudge_id = cancelled.nudge_id

)

select * from final
