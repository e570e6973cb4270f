-- One row per event that counts towards an experiment user's metrics: the user's impressions
-- and playback sessions in the pre-period (`period = 'pre'`) and post-period (`'post'`) of
-- int_experiment_user_windows, with the experiment day (`look_day`, 0 = the experiment's first
-- UTC day) the event falls on.
--
-- Post-period impressions are this experiment's, in this variant. Pre-period impressions are
-- the home-page impressions logged by any other experiment (the only impression log; before
-- the first exposure this experiment has none). Sessions are placed by `started_at` (UTC), the
-- same clock as `shown_at`. plays = non-trivial sessions, abandons = abandoned sessions (both
-- as int_views_enriched defines them); watch time counts every session.

with

windows as (

    select * from {{ ref('int_experiment_user_windows') }}

),

exposures as (

    select * from {{ ref('stg_raw__exposures') }}

),

views as (

    select * from {{ ref('int_views_enriched') }}

),

post_exposures as (

    select
        windows.experiment_id,
        windows.variant,
        windows.user_id,
        windows.experiment_started_on,
        'post' as period,
        exposures.shown_at as event_at,
        1 as exposures,
        case when exposures.is_clicked then 1 else 0 end as clicks,
        0 as plays,
        0 as watch_seconds,
        0 as abandons
    from windows
    inner join exposures
        on windows.experiment_id = exposures.experiment_id
        and windows.variant = exposures.variant
        and windows.user_id = exposures.user_id

),

pre_exposures as (

    select
        windows.experiment_id,
        windows.variant,
        windows.user_id,
        windows.experiment_started_on,
        'pre' as period,
        exposures.shown_at as event_at,
        1 as exposures,
        case when exposures.is_clicked then 1 else 0 end as clicks,
        0 as plays,
        0 as watch_seconds,
        0 as abandons
    from windows
    inner join exposures
        on windows.user_id = exposures.user_id
        and exposures.shown_at >= windows.pre_starts_at
        and exposures.shown_at < windows.first_exposed_at

),

sessions as (

    select
        windows.experiment_id,
        windows.variant,
        windows.user_id,
        windows.experiment_started_on,
        case when views.started_at < windows.first_exposed_at then 'pre' else 'post' end
            as period,
        views.started_at as event_at,
        0 as exposures,
        0 as clicks,
        case when views.is_trivial then 0 else 1 end as plays,
        views.watch_seconds,
        case when views.is_abandoned then 1 else 0 end as abandons
    from windows
    inner join views
        on windows.user_id = views.user_id
        and views.started_at >= windows.pre_starts_at
        and views.started_at < windows.experiment_ends_at

),

unioned as (

    select * from post_exposures
    union all
    select * from pre_exposures
    union all
    select * from sessions

),

final as (

    select
        experiment_id,
        variant,
        user_id,
        period,
        event_at,
        cast({{ dbt.datediff('experiment_started_on', 'cast(event_at as date)', 'day') }}
            as {{ dbt.type_int() }}) as look_day,
        exposures,
        clicks,
        plays,
        watch_seconds,
        abandons
    from unioned

)

select * from final
