-- One row: the as-of date of the feature marts and the observed period of the event stream.
--
-- The rule (docs/data-contract.md, "Time you can trust"): one implausible row must never move the
-- snapshot. Ingest already quarantines event times after the batch's ingest time plus
-- future_tolerance_hours; this model does not trust that alone:
--   1. the horizon = the latest ingest time of any view + var('future_tolerance_hours'); views
--      starting after it are ignored here;
--   2. the observed span = the run of view days around the busiest day with no gap longer than
--      var('snapshot_max_gap_days'): a view dated months away from the rest (a device clock set
--      wrong, a default date) sits behind a gap and is left out, on either side;
--   3. snapshot_date = var('snapshot_date') when given (YYYY-MM-DD), else the day after the span:
--      1 + the later of (the last view's local date, the UTC date its session ended), so that
--      every view in the span lies strictly before the cut-off whatever the viewer's time zone,
--      clamped to the horizon's date (snapshot_at never lies after the horizon).
-- snapshot_at   = midnight UTC at the start of snapshot_date: features use events known strictly
--   before it (views by ended_at, ratings by rated_at, subscription events by occurred_at).
-- observed_from = the first calendar day of the span (earliest local date: the day the export
--   starts, whatever the viewer's zone); observed_to = the UTC date of the last session end in
--   the span. Activity is recorded in between; the churn snapshot spine lives inside it.
-- latest_ingested_at / ingest_horizon_at: what the clamp used; assert_snapshot_is_trusted fails
--   the build when the snapshot lies after the horizon or a mart holds an event after it.

{%- set snapshot_var = snapshot_date_var() %}
{%- set tolerance_s = (var('future_tolerance_hours') * 3600) | int %}

with

views as (

    select started_at, ended_at, local_date from {{ ref('int_views_enriched') }}

),

ingest as (

    select
        max(ingested_at) as latest_ingested_at,
        {{ dbt.dateadd('second', tolerance_s, 'max(ingested_at)') }} as ingest_horizon_at
    from {{ ref('stg_raw__views') }}

),

plausible as (

    select views.*
    from views
    cross join ingest
    where views.started_at <= ingest.ingest_horizon_at

),

days as (

    select local_date, count(*) as n_views
    from plausible
    group by local_date

),

busiest as (

    -- the bulk of the data lies around its busiest day (latest on a tie)
    select local_date as busiest_date
    from (
        select local_date, row_number() over (order by n_views desc, local_date desc) as nth
        from days
    ) ranked
    where nth = 1

),

linked as (

    select
        local_date,
        lag(local_date) over (order by local_date) as prev_date,
        lead(local_date) over (order by local_date) as next_date
    from days

),

span as (

    -- the first day after a long gap before the busiest day, the last day before one after it
    select
        max(case
            when linked.local_date <= busiest.busiest_date
                and (linked.prev_date is null
                     or {{ dbt.datediff('linked.prev_date', 'linked.local_date', 'day') }}
                        > {{ var('snapshot_max_gap_days') }})
            then linked.local_date
        end) as first_date,
        min(case
            when linked.local_date >= busiest.busiest_date
                and (linked.next_date is null
                     or {{ dbt.datediff('linked.local_date', 'linked.next_date', 'day') }}
                        > {{ var('snapshot_max_gap_days') }})
            then linked.local_date
        end) as last_date
    from linked
    cross join busiest

),

bounds as (

    select
        min(plausible.local_date) as observed_from,
        cast(max(plausible.ended_at) as date) as observed_to,
        max(plausible.local_date) as last_local_date
    from plausible
    cross join span
    where plausible.local_date between span.first_date and span.last_date

),

final as (

    select
        {%- if snapshot_var is none %}
        least(
            {{ add_days(1, 'greatest(bounds.last_local_date, bounds.observed_to)') }},
            cast(ingest.ingest_horizon_at as date)
        ) as snapshot_date,
        false as is_snapshot_date_given,
        {%- else %}
        cast('{{ snapshot_var }}' as date) as snapshot_date,
        true as is_snapshot_date_given,
        {%- endif %}
        bounds.observed_from,
        bounds.observed_to,
        ingest.latest_ingested_at,
        ingest.ingest_horizon_at
    from bounds
    cross join ingest

)

select
    snapshot_date,
    {{ start_of_day('snapshot_date') }} as snapshot_at,
    is_snapshot_date_given,
    observed_from,
    observed_to,
    latest_ingested_at,
    ingest_horizon_at
from final
