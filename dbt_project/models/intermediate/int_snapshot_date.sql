-- One row: the as-of date of the feature marts and the observed period of the event stream.
--
-- snapshot_date = var('snapshot_date') when given (YYYY-MM-DD), else the day after the last view:
--   1 + the later of (the last view's local date, the UTC date its session ended), so that every
--   landed view lies strictly before the cut-off whatever the viewer's time zone.
-- snapshot_at   = midnight UTC at the start of snapshot_date: features use events known strictly
--   before it (views by ended_at, ratings by rated_at, subscription events by occurred_at).
-- observed_from = the first calendar day with views (earliest local date: the day the export
--   starts, whatever the viewer's zone); observed_to = the UTC date of the last session end.
--   Activity is recorded in between; the churn snapshot spine lives inside it.

{%- set snapshot_var = snapshot_date_var() %}

with

views as (

    select started_at, ended_at, local_date from {{ ref('int_views_enriched') }}

),

bounds as (

    select
        min(local_date) as observed_from,
        cast(max(ended_at) as date) as observed_to,
        max(local_date) as last_local_date
    from views

),

final as (

    select
        {%- if snapshot_var is none %}
        {{ add_days(1, 'greatest(last_local_date, observed_to)') }} as snapshot_date,
        false as is_snapshot_date_given,
        {%- else %}
        cast('{{ snapshot_var }}' as date) as snapshot_date,
        true as is_snapshot_date_given,
        {%- endif %}
        observed_from,
        observed_to
    from bounds

)

select
    snapshot_date,
    {{ start_of_day('snapshot_date') }} as snapshot_at,
    is_snapshot_date_given,
    observed_from,
    observed_to
from final
