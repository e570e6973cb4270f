-- One row per title in the catalog: attributes, release status as of the snapshot, and audience
-- figures from views known strictly before snapshot_at (ended_at) and ratings before it.
-- trend = ln((viewers_28d + 1) / (viewers_prior_28d + 1)): 0 = flat, > 0 growing, < 0 fading;
-- the +1 keeps it finite for new and dormant titles. Counts are 0 and means null without views.

with

as_of as (

    select snapshot_date, snapshot_at from {{ ref('int_snapshot_date') }}

),

titles as (

    select * from {{ ref('stg_raw__titles') }}

),

primary_genres as (

    select title_id, genre_slug as primary_genre_slug, n_genres
    from {{ ref('int_title_genres') }}
    where is_primary_genre

),

views as (

    select
        views.*,
        views.ended_at >= {{ dbt.dateadd('day', -28, 'as_of.snapshot_at') }} as is_in_28d,
        (
            views.ended_at < {{ dbt.dateadd('day', -28, 'as_of.snapshot_at') }}
            and views.ended_at >= {{ dbt.dateadd('day', -56, 'as_of.snapshot_at') }}
        ) as is_in_prior_28d
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

view_stats as (

    select
        title_id,
        count(distinct user_id) as viewers,
        count(*) as views,
        sum(watch_seconds) as watch_seconds,
        avg(case when not is_trivial then completion end) as mean_completion,
        {{ safe_divide('sum(case when is_abandoned then 1 else 0 end)',
                       'sum(case when not is_trivial then 1 else 0 end)') }} as abandonment_rate,
        count(distinct case when is_in_28d then user_id end) as viewers_28d,
        count(distinct case when is_in_prior_28d then user_id end) as viewers_prior_28d,
        sum(case when is_in_28d then 1 else 0 end) as views_28d
    from views
    group by title_id

),

rating_stats as (

    select
        title_id,
        count(*) as n_ratings,
        avg(rating) as mean_rating
    from ratings
    group by title_id

),

final as (

    select
        titles.title_id,
        as_of.snapshot_date,
        titles.title_name,
        titles.kind,
        titles.genres,
        cast(primary_genres.primary_genre_slug as {{ dbt.type_string() }}) as primary_genre,
        cast(primary_genres.n_genres as {{ dbt.type_int() }}) as n_genres,
        titles.release_date,
        cast(titles.runtime_minutes as {{ dbt.type_int() }}) as runtime_minutes,
        cast(titles.seasons as {{ dbt.type_int() }}) as seasons,
        titles.maturity_rating,
        titles.country,
        titles.language,
        coalesce(titles.release_date <= as_of.snapshot_date, false) as is_released,
        cast({{ dbt.datediff('titles.release_date', 'as_of.snapshot_date', 'day') }}
            as {{ dbt.type_int() }}) as days_since_release,
        cast(coalesce(view_stats.viewers, 0) as {{ dbt.type_bigint() }}) as viewers,
        cast(coalesce(view_stats.views, 0) as {{ dbt.type_bigint() }}) as views,
        cast(coalesce(view_stats.watch_seconds, 0) / 3600.0 as {{ type_double() }}) as watch_hours,
        cast(view_stats.mean_completion as {{ type_double() }}) as mean_completion,
        cast(view_stats.abandonment_rate as {{ type_double() }}) as abandonment_rate,
        cast(coalesce(view_stats.viewers_28d, 0) as {{ dbt.type_bigint() }}) as viewers_28d,
        cast(coalesce(view_stats.viewers_prior_28d, 0) as {{ dbt.type_bigint() }}) as viewers_prior_28d,
        cast(coalesce(view_stats.views_28d, 0) as {{ dbt.type_bigint() }}) as views_28d,
        cast(ln(
            (coalesce(view_stats.viewers_28d, 0) + 1.0) / (coalesce(view_stats.viewers_prior_28d, 0) + 1.0)
        ) as {{ type_double() }}) as trend,
        cast(coalesce(rating_stats.n_ratings, 0) as {{ dbt.type_bigint() }}) as n_ratings,
        cast(rating_stats.mean_rating as {{ type_double() }}) as mean_rating
    from titles
    cross join as_of
    left join primary_genres
        on titles.title_id = primary_genres.title_id
    left join view_stats
        on titles.title_id = view_stats.title_id
    left join rating_stats
        on titles.title_id = rating_stats.title_id

)

select * from final
