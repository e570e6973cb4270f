-- One row per (experiment, variant): the headline figures of an experiment readout.
-- ctr = clicks / exposures (impression-level); user_click_rate = users who clicked at least once /
-- users. Users seen in more than one variant of the experiment are counted in each (and reported
-- in multi_variant_users) so the totals reconcile with the raw exposures.

with

by_user as (

    select * from {{ ref('int_exposures_by_user') }}

),

final as (

    select
        experiment_id,
        variant,
        cast(count(*) as {{ dbt.type_bigint() }}) as users,
        cast(sum(exposures) as {{ dbt.type_bigint() }}) as exposures,
        cast(sum(clicks) as {{ dbt.type_bigint() }}) as clicks,
        cast(sum(case when clicks > 0 then 1 else 0 end) as {{ dbt.type_bigint() }}) as clicking_users,
        cast({{ safe_divide('sum(clicks)', 'sum(exposures)') }} as {{ type_double() }}) as ctr,
        cast({{ safe_divide('sum(case when clicks > 0 then 1 else 0 end)', 'count(*)') }}
            as {{ type_double() }}) as user_click_rate,
        cast(sum(case when n_variants_seen > 1 then 1 else 0 end) as {{ dbt.type_bigint() }})
            as multi_variant_users,
        min(first_exposed_at) as first_exposed_at,
        max(last_exposed_at) as last_exposed_at
    from by_user
    group by experiment_id, variant

)

select * from final
