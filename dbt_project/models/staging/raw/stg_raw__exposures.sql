with

source as (

    select * from {{ source('raw', 'exposures') }}

),

renamed as (

    select

        ----------  ids
        event_id as exposure_id,
        experiment_id,
        variant,
        user_id,
        title_id,

        ----------  booleans
        clicked as is_clicked,

        ----------  timestamps
        shown_at,
        shown_at_local

    from source

)

select * from renamed
