with

source as (

    select * from {{ source('raw', 'views') }}

),

renamed as (

    select

        ----------  ids
        event_id as view_id,
        user_id,
        title_id,

        ----------  strings
        lower(trim(device)) as device,

        ----------  numerics
        watch_seconds,
        duration_seconds,

        ----------  timestamps
        started_at,
        started_at_local,

        ----------  lineage
        _ingested_at as ingested_at

    from source

)

select * from renamed
