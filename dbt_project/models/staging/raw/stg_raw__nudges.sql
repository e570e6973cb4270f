with

source as (

    select * from {{ source('raw', 'nudges') }}

),

renamed as (

    select

        ----------  ids
        event_id as nudge_id,
        user_id,
        campaign_id,
        nullif(trim(title_id), '') as title_id,

        ----------  strings
        lower(trim(action)) as action,

        ----------  numerics
        cast(propensity as {{ type_double() }}) as propensity,

        ----------  timestamps
        sent_at,
        sent_at_local

    from source

)

select * from renamed
