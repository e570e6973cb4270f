with

source as (

    select * from {{ source('raw', 'ratings') }}

),

renamed as (

    select

        ----------  ids
        {{ surrogate_key(['user_id', 'title_id', 'rated_at']) }} as rating_id,
        user_id,
        title_id,

        ----------  numerics
        cast(rating as {{ type_double() }}) as rating,

        ----------  timestamps
        rated_at,
        rated_at_local

    from source

)

select * from renamed
