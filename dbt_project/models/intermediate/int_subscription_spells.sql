-- One row per subscription spell: an interval during which a user was subscribed. A spell starts
-- at a signup or a reactivate and ends at the first cancel after it (ended_at is null while the
-- spell is still open). A user is active at instant T when one of their spells has
-- started_at < T and (ended_at is null or ended_at >= T).
-- Events before a user's first signup/reactivate (never in valid data) belong to no spell.

with

events as (

    select
        user_id,
        event_type,
        occurred_at,
        plan,
        monthly_price,
        -- deterministic order for events at the same instant
        case event_type
            when 'signup' then 1
            when 'reactivate' then 2
            when 'plan_change' then 3
            when 'cancel' then 4
            else 5
        end as event_rank
    from {{ ref('stg_raw__subscriptions') }}

),

numbered as (

    select
        events.*,
        sum(case when event_type in ('signup', 'reactivate') then 1 else 0 end) over (
            partition by user_id
            order by occurred_at, event_rank
            rows between unbounded preceding and current row
        ) as spell_number
    from events

),

bounds as (

    select
        user_id,
        spell_number,
        min(case when event_type in ('signup', 'reactivate') then occurred_at end) as started_at,
        min(case when event_type = 'cancel' then occurred_at end) as ended_at
    from numbered
    where spell_number > 0
    group by user_id, spell_number

),

in_spell as (

    -- the events of each spell up to and including its end
    select
        numbered.*,
        row_number() over (
            partition by numbered.user_id, numbered.spell_number
            order by numbered.occurred_at, numbered.event_rank
        ) as nth_event,
        row_number() over (
            partition by numbered.user_id, numbered.spell_number
            order by numbered.occurred_at desc, numbered.event_rank desc
        ) as nth_event_from_end
    from numbered
    inner join bounds
        on numbered.user_id = bounds.user_id
        and numbered.spell_number = bounds.spell_number
    where bounds.ended_at is null or numbered.occurred_at <= bounds.ended_at

),

summarised as (

    select
        user_id,
        spell_number,
        max(case when nth_event = 1 then event_type end) as start_event,
        max(case when nth_event = 1 then plan end) as start_plan,
        max(case when nth_event_from_end = 1 then plan end) as end_plan,
        max(case when nth_event_from_end = 1 then monthly_price end) as end_monthly_price,
        sum(case when event_type = 'plan_change' then 1 else 0 end) as n_plan_changes
    from in_spell
    group by user_id, spell_number

),

final as (

    select
        {{ surrogate_key(['bounds.user_id', 'bounds.spell_number']) }} as spell_id,
        bounds.user_id,
        cast(bounds.spell_number as {{ dbt.type_int() }}) as spell_number,
        summarised.start_event,
        bounds.started_at,
        bounds.ended_at,
        bounds.ended_at is null as is_open,
        summarised.start_plan,
        summarised.end_plan,
        summarised.end_monthly_price,
        cast(summarised.n_plan_changes as {{ dbt.type_int() }}) as n_plan_changes,
        {{ dbt.datediff('bounds.started_at', 'bounds.ended_at', 'day') }} as spell_days
    from bounds
    inner join summarised
        on bounds.user_id = summarised.user_id
        and bounds.spell_number = summarised.spell_number

)

select * from final
