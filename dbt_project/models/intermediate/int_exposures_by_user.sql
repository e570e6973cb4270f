-- One row per (experiment, variant, user): impressions and clicks of that user in that variant,
-- plus how many variants the user was exposed to in the experiment (more than 1 = contaminated
-- assignment, which readouts should exclude).

with

exposures as (

    select * from {{ ref('stg_raw__exposures') }}

),

by_user as (

    select
        experiment_id,
        variant,
        user_id,
        count(*) as exposures,
        sum(case when is_clicked then 1 else 0 end) as clicks,
        count(distinct title_id) as distinct_titles,
        min(shown_at) as first_exposed_at,
        max(shown_at) as last_exposed_at
    from exposures
    group by experiment_id, variant, user_id

),

final as (

    select
        by_user.*,
        count(*) over (partition by experiment_id, user_id) as n_variants_seen
    from by_user

)

select * from final
