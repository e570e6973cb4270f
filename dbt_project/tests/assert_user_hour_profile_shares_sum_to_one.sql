-- user_hour_profile: every user has all 24 hours, the shares sum to 1 and the views add up to
-- the user's sessions before the snapshot. Returns (fails on) every user where one of these breaks.

with

profile as (

    select
        user_id,
        count(*) as hours,
        count(distinct hour_of_day) as distinct_hours,
        sum(share) as total_share,
        sum(views) as total_views
    from {{ ref('user_hour_profile') }}
    group by user_id

),

sessions as (

    select views.user_id, count(*) as sessions
    from {{ ref('int_views_enriched') }} as views
    cross join {{ ref('int_snapshot_date') }} as as_of
    where views.ended_at < as_of.snapshot_at
    group by views.user_id

)

select profile.*, sessions.sessions
from profile
full outer join sessions
    on profile.user_id = sessions.user_id
where profile.user_id is null
    or sessions.user_id is null
    or profile.hours <> 24
    or profile.distinct_hours <> 24
    or abs(profile.total_share - 1) > 1e-9
    or profile.total_views <> sessions.sessions
