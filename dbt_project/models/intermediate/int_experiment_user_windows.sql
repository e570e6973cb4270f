-- One row per (experiment, variant, user): the windows an experiment readout measures a user in.
--
-- No table declares an experiment's dates, so the exposures do: the experiment runs from its
-- first impression's UTC day (`experiment_started_on`, look day 0) to the end of its last
-- impression's UTC day (`experiment_ends_at`, exclusive). A user's post-period runs from their
-- first exposure to the experiment (any variant) to `experiment_ends_at`; the pre-period has
-- the same length and ends at that first exposure, so it is pre-treatment by construction (the
-- CUPED covariates). A pre-period reaching before the data or the user's signup simply holds
-- less activity.

with

by_user as (

    select * from {{ ref('int_exposures_by_user') }}

),

experiments as (

    select
        experiment_id,
        cast(min(first_exposed_at) as date) as experiment_started_on,
        {{ dbt.dateadd('day', 1, dbt.date_trunc('day', 'max(last_exposed_at)')) }}
            as experiment_ends_at
    from by_user
    group by experiment_id

),

users as (

    -- the first exposure to the experiment in any variant: a user seen in two variants is
    -- measured from the same moment in both rows (and flagged)
    select
        experiment_id,
        user_id,
        min(first_exposed_at) as first_exposed_at
    from by_user
    group by experiment_id, user_id

),

windows as (

    select
        by_user.experiment_id,
        by_user.variant,
        by_user.user_id,
        by_user.n_variants_seen > 1 as is_multi_variant,
        experiments.experiment_started_on,
        cast(experiments.experiment_ends_at as {{ dbt.type_timestamp() }}) as experiment_ends_at,
        users.first_exposed_at,
        {{ dbt.datediff('users.first_exposed_at', 'experiments.experiment_ends_at', 'second') }}
            as post_seconds
    from by_user
    inner join experiments
        on by_user.experiment_id = experiments.experiment_id
    inner join users
        on by_user.experiment_id = users.experiment_id
        and by_user.user_id = users.user_id

),

final as (

    select
        windows.*,
        {{ dbt.dateadd('second', '-post_seconds', 'first_exposed_at') }} as pre_starts_at,
        {{ dbt.datediff('experiment_started_on', 'cast(first_exposed_at as date)', 'day') }}
            as entry_day
    from windows

)

select * from final
