-- One row per (title, genre slug): the pipe-separated `genres` exploded, mapped to slugs through
-- the genres seed (unknown names -> 'other'), deduplicated, ranked by their position in the list
-- (position 1 = primary genre) and weighted 1/n so that a title's weights sum to 1.
-- Titles without any genre get a single 'other' row. The explode uses a number spine
-- (dbt.generate_series) and split_part_at (dbt.split_part, with a Spark dispatch), not an
-- engine-specific unnest/explode.

with

titles as (

    select title_id, genres from {{ ref('stg_raw__titles') }}

),

genre_lookup as (

    select lower(genre_name) as genre_key, genre_name, genre_slug from {{ ref('genres') }}

),

positions as (

    {{ dbt.generate_series(var('max_genres_per_title')) }}

),

exploded as (

    select
        titles.title_id,
        positions.generated_number as list_position,
        trim({{ split_part_at('titles.genres', "'|'", 'positions.generated_number') }}) as landed_name
    from titles
    cross join positions
    where titles.genres is not null

),

mapped as (

    select
        exploded.title_id,
        exploded.list_position,
        coalesce(genre_lookup.genre_slug, 'other') as genre_slug,
        coalesce(genre_lookup.genre_name, 'Other') as genre_name
    from exploded
    left join genre_lookup
        on lower(exploded.landed_name) = genre_lookup.genre_key
    where exploded.landed_name is not null
      and exploded.landed_name <> ''

),

deduplicated as (

    select
        title_id,
        genre_slug,
        genre_name,
        min(list_position) as list_position
    from mapped
    group by title_id, genre_slug, genre_name

),

without_genres as (

    select
        titles.title_id,
        'other' as genre_slug,
        'Other' as genre_name,
        1 as list_position
    from titles
    where not exists (
        select 1 from deduplicated where deduplicated.title_id = titles.title_id
    )

),

all_genres as (

    select * from deduplicated
    union all
    select * from without_genres

),

ranked as (

    select
        title_id,
        genre_slug,
        genre_name,
        cast(row_number() over (
            partition by title_id order by list_position
        ) as {{ dbt.type_int() }}) as genre_position,
        cast(count(*) over (partition by title_id) as {{ dbt.type_int() }}) as n_genres
    from all_genres

),

final as (

    select
        title_id,
        genre_slug,
        genre_name,
        genre_position,
        genre_position = 1 as is_primary_genre,
        n_genres,
        cast(1 as {{ type_double() }}) / n_genres as genre_weight
    from ranked

)

select * from final
