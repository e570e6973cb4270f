with

source as (

    select * from {{ source('raw', 'opt_outs') }}

),

renamed as (

    select

        ----------  ids
        user_id,

        ----------  strings
        lower(trim(channel)) as channel,

        ----------  timestamps
        opted_out_at,
        opted_out_at_local

    from source

)

select * from renamed
