-- One row per title of the catalog with the text and attributes that describe it, for the content
-- model ("More like this", New for You) and homepage cards. Descriptive only: no snapshot, no
-- audience figures (those are title_features'), so the mart does not change between snapshots.
-- Names follow staging: `cast` is a reserved word in SQL, so the cast list is `cast_names`.

with

titles as (

    select * from {{ ref('stg_raw__titles') }}

),

final as (

    select
        title_id,
        title_name,
        kind,
        genres,
        synopsis,
        cast_names,
        director,
        release_date,
        cast(runtime_minutes as {{ dbt.type_int() }}) as runtime_minutes,
        cast(seasons as {{ dbt.type_int() }}) as seasons,
        maturity_rating,
        country,
        language
    from titles

)

select * from final
