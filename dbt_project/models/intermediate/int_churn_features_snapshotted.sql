-- The churn features (the columns of churn_training_set), once per cut-off of feature_set
-- 'churn_features' in int_feature_cutoffs: the churn snapshot spine (churn_training_set), the
-- users subscribed at the as-of snapshot (churn_scoring_set) and each nudge's send instant
-- (nudge_outcomes). One row per cutoff_id; the three marts read the same rows, so they have
-- exactly the same feature columns, computed the same way.
--
-- Point in time: every feature comes from int_user_events rows with event_at STRICTLY BEFORE
-- snapshot_at (= the spine's cutoff_at), the single cut-off below; features_max_event_at is the
-- latest event that fed the features (the singular test assert_churn_features_before_snapshot
-- checks it and re-derives the counts).
--
-- Windows, relative to snapshot_at: 7d = [-7d, 0), 28d = [-28d, 0), prior_28d = [-56d, -28d).
-- engagement_trend = (views_28d + 1) / (views_prior_28d + 1) and
-- watch_hours_trend = (watch_hours_28d + 1) / (watch_hours_prior_28d + 1): below 1 = declining.
-- The data start at observed_from: for a user who signed up before it, a prior_28d window that
-- reaches before observed_from is censored, not empty, so the prior_28d columns and the trends
-- are null there (is_prior_window_observed = false) instead of faking a surge in engagement.
--
-- A table: three marts read it, and none of its cut-offs depends on the drift-window vars.

{{ config(materialized='table') }}

with

snapshots as (

    select
        cutoff_id,
        cutoff_kind,
        user_id,
        cutoff_date as snapshot_date,
        cutoff_at as snapshot_at
    from {{ ref('int_feature_cutoffs') }}
    where feature_set = 'churn_features'

),

period as (

    select observed_from from {{ ref('int_snapshot_date') }}

),

users as (

    select user_id, country, age_band, signup_date, signup_plan from {{ ref('stg_raw__users') }}

),

events as (

    select * from {{ ref('int_user_events') }}

),

point_in_time as (

    select
        snapshots.cutoff_id,
        snapshots.snapshot_at,
        events.*,
        events.event_at >= {{ dbt.dateadd('day', -7, 'snapshots.snapshot_at') }} as is_in_7d,
        events.event_at >= {{ dbt.dateadd('day', -28, 'snapshots.snapshot_at') }} as is_in_28d,
        (
            events.event_at < {{ dbt.dateadd('day', -28, 'snapshots.snapshot_at') }}
            and events.event_at >= {{ dbt.dateadd('day', -56, 'snapshots.snapshot_at') }}
        ) as is_in_prior_28d
    from snapshots
    inner join events
        on events.user_id = snapshots.user_id
        and events.event_at < snapshots.snapshot_at  -- point-in-time cut-off

),

activity as (

    select
        cutoff_id,
        max(event_at) as features_max_event_at,
        max(case when event_source = 'view' then event_at end) as last_view_at,

        sum(case when event_source = 'view' then 1 else 0 end) as views_total,
        sum(case when event_source = 'view' and is_in_7d then 1 else 0 end) as views_7d,
        sum(case when event_source = 'view' and is_in_28d then 1 else 0 end) as views_28d,
        sum(case when event_source = 'view' and is_in_prior_28d then 1 else 0 end) as views_prior_28d,

        sum(case when event_source = 'view' and is_in_7d then watch_seconds else 0 end) as watch_seconds_7d,
        sum(case when event_source = 'view' and is_in_28d then watch_seconds else 0 end) as watch_seconds_28d,
        sum(case when event_source = 'view' and is_in_prior_28d then watch_seconds else 0 end)
            as watch_seconds_prior_28d,

        count(distinct case when event_source = 'view' and is_in_7d then local_date end) as active_days_7d,
        count(distinct case when event_source = 'view' and is_in_28d then local_date end) as active_days_28d,
        count(distinct case when event_source = 'view' and is_in_prior_28d then local_date end)
            as active_days_prior_28d,
        count(distinct case when event_source = 'view' and is_in_28d then title_id end) as distinct_titles_28d,

        sum(case when event_source = 'view' and is_in_28d and not is_trivial then 1 else 0 end)
            as sessions_nontrivial_28d,
        sum(case when event_source = 'view' and is_in_28d and is_abandoned then 1 else 0 end)
            as abandoned_28d,
        avg(case when event_source = 'view' and is_in_28d and not is_trivial then completion end)
            as mean_completion_28d,
        sum(case when event_source = 'view' and is_in_28d and is_binge then 1 else 0 end) as binge_views_28d,

        sum(case when event_source = 'rating' and is_in_28d then 1 else 0 end) as ratings_28d,

        sum(case when event_type = 'plan_change' then 1 else 0 end) as n_plan_changes,
        sum(case when event_type = 'cancel' then 1 else 0 end) as n_past_cancels,
        max(case when event_type = 'reactivate' then 1 else 0 end) as has_reactivated
    from point_in_time
    group by cutoff_id

),

device_seconds_28d as (

    select cutoff_id, device, sum(watch_seconds) as watch_seconds
    from point_in_time
    where event_source = 'view' and is_in_28d
    group by cutoff_id, device

),

device_concentration as (

    select
        cutoff_id,
        {{ safe_divide('max(watch_seconds)', 'sum(watch_seconds)') }} as top_device_share_28d
    from device_seconds_28d
    group by cutoff_id

),

current_plan as (

    select cutoff_id, plan, monthly_price
    from (
        select
            cutoff_id,
            plan,
            monthly_price,
            row_number() over (
                partition by cutoff_id order by event_at desc, event_id desc
            ) as nth_latest
        from point_in_time
        where event_source = 'subscription' and plan is not null
    ) as ordered
    where nth_latest = 1

),

observed as (

    select
        snapshots.cutoff_id,
        (
            {{ add_days(-56, 'snapshots.snapshot_date') }} >= period.observed_from
            or users.signup_date >= period.observed_from
        ) as is_prior_window_observed
    from snapshots
    cross join period
    inner join users
        on snapshots.user_id = users.user_id

),


final as (

    select
        snapshots.cutoff_id,
        snapshots.cutoff_kind,
        snapshots.user_id,
        snapshots.snapshot_date,
        snapshots.snapshot_at,
        activity.features_max_event_at,

        -- subscription
        cast(coalesce(current_plan.plan, users.signup_plan) as {{ dbt.type_string() }}) as plan,
        cast(current_plan.monthly_price as {{ type_double() }}) as monthly_price,
        cast({{ dbt.datediff('users.signup_date', 'snapshots.snapshot_date', 'day') }}
            as {{ dbt.type_int() }}) as tenure_days,
        cast(coalesce(activity.n_plan_changes, 0) as {{ dbt.type_int() }}) as n_plan_changes,
        cast(coalesce(activity.n_past_cancels, 0) as {{ dbt.type_int() }}) as n_past_cancels,
        coalesce(activity.has_reactivated, 0) = 1 as has_reactivated,
        users.country,
        users.age_band,

        -- activity
        cast(coalesce(activity.views_total, 0) as {{ dbt.type_bigint() }}) as views_total,
        cast(coalesce(activity.views_7d, 0) as {{ dbt.type_bigint() }}) as views_7d,
        cast(coalesce(activity.views_28d, 0) as {{ dbt.type_bigint() }}) as views_28d,
        case when observed.is_prior_window_observed then cast(coalesce(activity.views_prior_28d, 0) as {{ dbt.type_bigint() }}) end as views_prior_28d,
        cast(coalesce(activity.watch_seconds_7d, 0) / 3600.0 as {{ type_double() }}) as watch_hours_7d,
        cast(coalesce(activity.watch_seconds_28d, 0) / 3600.0 as {{ type_double() }}) as watch_hours_28d,
        case when observed.is_prior_window_observed
            then cast(coalesce(activity.watch_seconds_prior_28d, 0) / 3600.0 as {{ type_double() }})
        end as watch_hours_prior_28d,
        cast(coalesce(activity.active_days_7d, 0) as {{ dbt.type_bigint() }}) as active_days_7d,
        cast(coalesce(activity.active_days_28d, 0) as {{ dbt.type_bigint() }}) as active_days_28d,
        case when observed.is_prior_window_observed then cast(coalesce(activity.active_days_prior_28d, 0) as {{ dbt.type_bigint() }}) end as active_days_prior_28d,
        cast(coalesce(activity.distinct_titles_28d, 0) as {{ dbt.type_bigint() }}) as distinct_titles_28d,
        cast(coalesce(activity.binge_views_28d, 0) as {{ dbt.type_bigint() }}) as binge_views_28d,
        cast(coalesce(activity.ratings_28d, 0) as {{ dbt.type_bigint() }}) as ratings_28d,

        -- engagement decline
        observed.is_prior_window_observed,
        case when observed.is_prior_window_observed then cast(
            (coalesce(activity.views_28d, 0) + 1.0) / (coalesce(activity.views_prior_28d, 0) + 1.0)
            as {{ type_double() }}
        ) end as engagement_trend,
        case when observed.is_prior_window_observed then cast(
            (coalesce(activity.watch_seconds_28d, 0) / 3600.0 + 1.0)
                / (coalesce(activity.watch_seconds_prior_28d, 0) / 3600.0 + 1.0)
            as {{ type_double() }}
        ) end as watch_hours_trend,
        cast({{ safe_divide('activity.abandoned_28d', 'activity.sessions_nontrivial_28d') }}
            as {{ type_double() }}) as abandonment_rate_28d,
        cast(activity.mean_completion_28d as {{ type_double() }}) as mean_completion_28d,
        cast({{ dbt.datediff('activity.last_view_at', 'snapshots.snapshot_at', 'day') }}
            as {{ dbt.type_int() }}) as days_since_last_view,
        cast(device_concentration.top_device_share_28d as {{ type_double() }}) as top_device_share_28d

    from snapshots
    inner join users
        on snapshots.user_id = users.user_id
    inner join observed
        on snapshots.cutoff_id = observed.cutoff_id
    left join activity
        on snapshots.cutoff_id = activity.cutoff_id
    left join device_concentration
        on snapshots.cutoff_id = device_concentration.cutoff_id
    left join current_plan
        on snapshots.cutoff_id = current_plan.cutoff_id

)

select * from final
