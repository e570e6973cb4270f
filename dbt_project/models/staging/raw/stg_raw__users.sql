with

source as (

    select * from {{ source('raw', 'users') }}

),

renamed as (

    select

        ----------  ids
        user_id,

        ----------  strings
        upper(nullif(trim(country), '')) as country,
        lower(nullif(trim(plan), '')) as signup_plan,
        nullif(trim(age_band), '') as age_band,

        ----------  dates
        signup_date

    from source

)

select * from renamed
