-- The point-in-time event log: every fact about a user, one row each, stamped with `event_at`,
-- the UTC instant from which the fact is known.
--   view          known when the session ended (ended_at): its watch_seconds is final only then
--   rating        rated_at
--   subscription  occurred_at (event_type signup | cancel | reactivate | plan_change)
-- Point-in-time features (churn_training_set) take exactly the rows with event_at < cut-off; the
-- leakage test re-derives them from here.

with

views as (

    select * from {{ ref('int_views_enriched') }}

),

ratings as (

    select * from {{ ref('stg_raw__ratings') }}

),

subscriptions as (

    select * from {{ ref('stg_raw__subscriptions') }}

),

view_events as (

    select
        view_id as event_id,
        user_id,
        'view' as event_source,
        'view' as event_type,
        ended_at as event_at,
        local_date,
        title_id,
        device,
        is_series,
        watch_seconds,
        completion,
        is_trivial,
        is_abandoned,
        is_binge,
        cast(null as {{ type_double() }}) as rating,
        cast(null as {{ dbt.type_string() }}) as plan,
        cast(null as {{ type_double() }}) as monthly_price
    from views

),

rating_events as (

    select
        rating_id as event_id,
        user_id,
        'rating' as event_source,
        'rating' as event_type,
        rated_at as event_at,
        cast(rated_at_local as date) as local_date,
        title_id,
        cast(null as {{ dbt.type_string() }}) as device,
        cast(null as {{ dbt.type_boolean() }}) as is_series,
        cast(null as {{ dbt.type_int() }}) as watch_seconds,
        cast(null as {{ type_double() }}) as completion,
        cast(null as {{ dbt.type_boolean() }}) as is_trivial,
        cast(null as {{ dbt.type_boolean() }}) as is_abandoned,
        cast(null as {{ dbt.type_boolean() }}) as is_binge,
        rating,
        cast(null as {{ dbt.type_string() }}) as plan,
        cast(null as {{ type_double() }}) as monthly_price
    from ratings

),

subscription_events as (

    select
        subscription_event_id as event_id,
        user_id,
        'subscription' as event_source,
        event_type,
        occurred_at as event_at,
        cast(occurred_at_local as date) as local_date,
        cast(null as {{ dbt.type_string() }}) as title_id,
        cast(null as {{ dbt.type_string() }}) as device,
        cast(null as {{ dbt.type_boolean() }}) as is_series,
        cast(null as {{ dbt.type_int() }}) as watch_seconds,
        cast(null as {{ type_double() }}) as completion,
        cast(null as {{ dbt.type_boolean() }}) as is_trivial,
        cast(null as {{ dbt.type_boolean() }}) as is_abandoned,
        cast(null as {{ dbt.type_boolean() }}) as is_binge,
        cast(null as {{ type_double() }}) as rating,
        plan,
        monthly_price
    from subscriptions

),

unioned as (

    select * from view_events
    union all
    select * from rating_events
    union all
    select * from subscription_events

)

select * from unioned
