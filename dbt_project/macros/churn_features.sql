{#
    The point-in-time churn features of a set of (user, snapshot) rows, shared by
    churn_training_set (the spine of past snapshots, joined to labels) and churn_scoring_set (the
    active subscribers at the as-of snapshot date), so both marts have exactly the same feature
    columns, computed the same way.

    `snapshots_sql` is a select of churn_snapshot_id, user_id, snapshot_date, snapshot_at;
    `labels_sql` (optional) a select of churn_snapshot_id, churned_30d. The macro emits CTEs (no
    leading `with`) ending in `churn_features`: the columns of the training set, with the label
    last when `labels_sql` is given (inner join) and without it otherwise; `keep_key` puts
    churn_snapshot_id first (for a caller that joins the features back to its own rows). Every feature comes
    from int_user_events rows with event_at STRICTLY BEFORE snapshot_at (see
    churn_training_set.sql for the windows).
#}
{% macro churn_feature_ctes(snapshots_sql, labels_sql=none, keep_key=false) %}
snapshots as (

    {{ snapshots_sql }}

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
        snapshots.churn_snapshot_id,
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
        churn_snapshot_id,
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
    group by churn_snapshot_id

),

device_seconds_28d as (

    select churn_snapshot_id, device, sum(watch_seconds) as watch_seconds
    from point_in_time
    where event_source = 'view' and is_in_28d
    group by churn_snapshot_id, device

),

device_concentration as (

    select
        churn_snapshot_id,
        {{ safe_divide('max(watch_seconds)', 'sum(watch_seconds)') }} as top_device_share_28d
    from device_seconds_28d
    group by churn_snapshot_id

),

current_plan as (

    select churn_snapshot_id, plan, monthly_price
    from (
        select
            churn_snapshot_id,
            plan,
            monthly_price,
            row_number() over (
                partition by churn_snapshot_id order by event_at desc, event_id desc
            ) as nth_latest
        from point_in_time
        where event_source = 'subscription' and plan is not null
    ) as ordered
    where nth_latest = 1

),

observed as (

    select
        snapshots.churn_snapshot_id,
        (
            {{ add_days(-56, 'snapshots.snapshot_date') }} >= period.observed_from
            or users.signup_date >= period.observed_from
        ) as is_prior_window_observed
    from snapshots
    cross join period
    inner join users
        on snapshots.user_id = users.user_id

),

{%- if labels_sql is not none %}

labels as (

    {{ labels_sql }}

),
{%- endif %}

churn_features as (

    select
        {%- if keep_key %}
        snapshots.churn_snapshot_id,
        {%- endif %}
        snapshots.user_id,
        snapshots.snapshot_date,
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
        {%- if labels_sql is not none %},

        -- label
        labels.churned_30d
        {%- endif %}

    from snapshots
    inner join users
        on snapshots.user_id = users.user_id
    {%- if labels_sql is not none %}
    inner join labels
        on snapshots.churn_snapshot_id = labels.churn_snapshot_id
    {%- endif %}
    inner join observed
        on snapshots.churn_snapshot_id = observed.churn_snapshot_id
    left join activity
        on snapshots.churn_snapshot_id = activity.churn_snapshot_id
    left join device_concentration
        on snapshots.churn_snapshot_id = device_concentration.churn_snapshot_id
    left join current_plan
        on snapshots.churn_snapshot_id = current_plan.churn_snapshot_id

)
{% endmacro %}
