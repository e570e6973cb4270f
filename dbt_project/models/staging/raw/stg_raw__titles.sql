with

source as (

    select * from {{ source('raw', 'titles') }}

),

renamed as (

    select

        ----------  ids
        title_id,

        ----------  strings
        trim(title) as title_name,
        lower(trim(kind)) as kind,
        -- pipe-separated display names as landed; exploded in int_title_genres
        nullif(trim(genres), '') as genres,
        nullif(trim(maturity_rating), '') as maturity_rating,
        upper(nullif(trim(country), '')) as country,
        lower(nullif(trim(language), '')) as language,
        nullif(trim(director), '') as director,
        nullif(trim({{ adapter.quote('cast') }}), '') as cast_names,
        synopsis,

        ----------  numerics
        runtime_minutes,
        -- seasons only mean something for series
        case when lower(trim(kind)) = 'series' then seasons end as seasons,

        ----------  dates
        release_date

    from source

)

select * from renamed
