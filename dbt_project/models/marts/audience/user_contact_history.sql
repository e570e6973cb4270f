-- One row per user: how often and how recently they were contacted, and which channels they
-- opted out of, as of the snapshot (facts strictly before snapshot_at). The re-engagement
-- policy's fatigue rules and opt-out filter read it.
--
--   contacts_7d / contacts_30d  logged nudges with an action other than 'none' sent in
--                               [snapshot_at - 7 / 30 days, snapshot_at)
--   email_opt_out / push_opt_out  the user may not be contacted on that channel: an opt-out of
--                               that channel OR of 'all' before snapshot_at
--   all_opt_out                 an opt-out of every channel before snapshot_at

with

as_of as (

    select snapshot_at from {{ ref('int_snapshot_date') }}

),

users as (

    select user_id from {{ ref('stg_raw__users') }}

),

contacts as (

    select
        nudges.user_id,
        sum(case when nudges.sent_at >= {{ dbt.dateadd('day', -7, 'as_of.snapshot_at') }} then 1 else 0 end)
            as contacts_7d,
        sum(case when nudges.sent_at >= {{ dbt.dateadd('day', -30, 'as_of.snapshot_at') }} then 1 else 0 end)
            as contacts_30d,
        max(nudges.sent_at) as last_contact_at
    from {{ ref('stg_raw__nudges') }} as nudges
    cross join as_of
    where nudges.action <> 'none'
        and nudges.sent_at < as_of.snapshot_at
    group by nudges.user_id

),

opt_outs as (

    select
        opt_outs.user_id,
        max(case when opt_outs.channel in ('email', 'all') then 1 else 0 end) as email_opt_out,
        max(case when opt_outs.channel in ('push', 'all') then 1 else 0 end) as push_opt_out,
        max(case when opt_outs.channel = 'all' then 1 else 0 end) as all_opt_out
    from {{ ref('stg_raw__opt_outs') }} as opt_outs
    cross join as_of
    where opt_outs.opted_out_at < as_of.snapshot_at
    group by opt_outs.user_id

),

final as (

    select
        cast(users.user_id as {{ dbt.type_string() }}) as user_id,
        cast(coalesce(contacts.contacts_7d, 0) as {{ dbt.type_bigint() }}) as contacts_7d,
        cast(coalesce(contacts.contacts_30d, 0) as {{ dbt.type_bigint() }}) as contacts_30d,
        cast(contacts.last_contact_at as {{ dbt.type_timestamp() }}) as last_contact_at,
        coalesce(opt_outs.email_opt_out, 0) = 1 as email_opt_out,
        coalesce(opt_outs.push_opt_out, 0) = 1 as push_opt_out,
        coalesce(opt_outs.all_opt_out, 0) = 1 as all_opt_out
    from users
    left join contacts
        on users.user_id = contacts.user_id
    left join opt_outs
        on users.user_id = opt_outs.user_id

)

select * from final
