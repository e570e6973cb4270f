with

source as (

    select * from {{ source('raw', 'subscriptions') }}

),

renamed as (

    select

        ----------  ids
        {{ surrogate_key(['user_id', 'event', 'occurred_at']) }} as subscription_event_id,
        user_id,

        ----------  strings
        lower(trim(event)) as event_type,
        lower(nullif(trim(plan), '')) as plan,

        ----------  numerics
        cast(monthly_price as {{ type_double() }}) as monthly_price,

        ----------  timestamps
        occurred_at,
        occurred_at_local

    from source

)

select * from renamed
