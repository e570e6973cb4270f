-- One row per (experiment, variant, user): the unit of analysis of experiment readouts
-- (user-level CTR, clicked-at-all, bootstrap / delta-method intervals). Every landed exposure
-- counts: experiment marts are not cut at the feature snapshot date.

with

by_user as (

    select * from {{ ref('int_exposures_by_user') }}

),

final as (

    select
        experiment_id,
        variant,
        user_id,
        cast(exposures as {{ dbt.type_bigint() }}) as exposures,
        cast(clicks as {{ dbt.type_bigint() }}) as clicks,
        clicks > 0 as has_clicked,
        cast({{ safe_divide('clicks', 'exposures') }} as {{ type_double() }}) as ctr,
        cast(distinct_titles as {{ dbt.type_bigint() }}) as distinct_titles,
        first_exposed_at,
        last_exposed_at,
        n_variants_seen > 1 as is_multi_variant
    from by_user

)

select * from final
