-- One row per (user, title) the user has watched or rated before snapshot_at: the implicit
-- feedback matrix of the recommenders, plus the latest explicit rating.
--
-- confidence  = 1 + confidence_alpha * ln(1 + watch_seconds / confidence_scale_seconds)
--               (defaults alpha 2, scale 600 s: 10 min -> 2.4, 1 h -> 4.9, 10 h -> 8.2);
--               a rated-but-unwatched pair has confidence 1.
-- is_finished = movie: some session reached finished_completion (0.9);
--               series: the user's LATEST session of it reached finished_completion. Landed views
--               carry no episode number, so "watched the final episode" cannot be observed; this
--               reads as "finished the last episode they played" (caught up, not abandoned).

with

as_of as (

    select snapshot_at from {{ ref('int_snapshot_date') }}

),

views as (

    select views.*
    from {{ ref('int_views_enriched') }} as views
    cross join as_of
    where views.ended_at < as_of.snapshot_at

),

ratings as (

    select ratings.*
    from {{ ref('stg_raw__ratings') }} as ratings
    cross join as_of
    where ratings.rated_at < as_of.snapshot_at

),

titles as (

    select title_id, kind from {{ ref('stg_raw__titles') }}

),

view_pairs as (

    select
        user_id,
        title_id,
        count(*) as views,
        sum(watch_seconds) as watch_seconds,
        max(completion) as max_completion,
        sum(completion) as total_completion,
        min(started_at) as first_watched_at,
        max(started_at) as last_watched_at
    from views
    group by user_id, title_id

),

latest_views as (

    select user_id, title_id, completion as last_completion
    from (
        select
            user_id,
            title_id,
            completion,
            row_number() over (
                partition by user_id, title_id order by started_at desc, view_id desc
            ) as nth_latest
        from views
    ) as ordered
    where nth_latest = 1

),

latest_ratings as (

    select user_id, title_id, rating, rated_at
    from (
        select
            user_id,
            title_id,
            rating,
            rated_at,
            row_number() over (partition by user_id, title_id order by rated_at desc) as nth_latest
        from ratings
    ) as ordered
    where nth_latest = 1

),

pairs as (

    select user_id, title_id from view_pairs
    union
    select user_id, title_id from latest_ratings

),

final as (

    select
        pairs.user_id,
        pairs.title_id,
        titles.kind as title_kind,
        cast(coalesce(view_pairs.views, 0) as {{ dbt.type_bigint() }}) as views,
        cast(coalesce(view_pairs.watch_seconds, 0) as {{ dbt.type_bigint() }}) as watch_seconds,
        cast(coalesce(view_pairs.max_completion, 0) as {{ type_double() }}) as max_completion,
        cast(coalesce(view_pairs.total_completion, 0) as {{ type_double() }}) as total_completion,
        cast(latest_views.last_completion as {{ type_double() }}) as last_completion,
        view_pairs.first_watched_at,
        view_pairs.last_watched_at,
        cast(latest_ratings.rating as {{ type_double() }}) as rating,
        latest_ratings.rated_at,
        cast(
            1 + {{ var('confidence_alpha') }}
                * ln(1 + coalesce(view_pairs.watch_seconds, 0) / cast({{ var('confidence_scale_seconds') }} as {{ type_double() }}))
            as {{ type_double() }}
        ) as confidence,
        coalesce(case
            when titles.kind = 'series'
                then latest_views.last_completion >= {{ var('finished_completion') }}
            else view_pairs.max_completion >= {{ var('finished_completion') }}
        end, false) as is_finished
    from pairs
    left join view_pairs
        on pairs.user_id = view_pairs.user_id
        and pairs.title_id = view_pairs.title_id
    left join latest_views
        on pairs.user_id = latest_views.user_id
        and pairs.title_id = latest_views.title_id
    left join latest_ratings
        on pairs.user_id = latest_ratings.user_id
        and pairs.title_id = latest_ratings.title_id
    left join titles
        on pairs.title_id = titles.title_id

)

select * from final
