-- The cut-off spine of every feature mart: one row per (cutoff_kind, window_name, user_id,
-- cutoff_at). A feature row is computed once per spine row, from facts known strictly before
-- cutoff_at (and, for a drift window, at or after window_start_at); the marts pick their kind.
--
-- feature_set       cutoff_kind     window_name          rows (mart)
-- user_features     as_of           all                  every user who signed up before the as-of
--                                                        snapshot_date (user_features)
-- user_features     drift_window    current, reference   every user who signed up before the
--                                                        window's end (user_feature_windows)
-- churn_features    churn_snapshot  all                  the churn spine, int_churn_snapshots
--                                                        (churn_training_set)
-- churn_features    churn_scoring   all                  users subscribed at the as-of snapshot
--                                                        (churn_scoring_set)
-- churn_features    nudge_send      all                  each (user, sent_at) of a logged nudge
--                                                        sent before the as-of snapshot (nudge_outcomes)
--
-- Drift windows: current = [end - w, end), reference = [end - 2w, end - w), w = var
-- drift_window_days (default 28), end = var drift_current_end or, when null, the as-of
-- snapshot_date. With vars drift_reference_start / drift_reference_end (the monitor's stable
-- reference: the champion's training window or a pinned period) the reference is instead that
-- period cut into consecutive windows of w days, one row per (window, user) in each. With var
-- drift_backfill_ends (a list of ISO dates: `tastemaker drift --backfill`) the drift windows are
-- instead one window of w days ending at each listed date, all named 'backfill': one dbt run
-- computes every window a day-by-day back-fill compares. cutoff_date is the date the features are "as of" (the mart's snapshot_date /
-- window_end); cutoff_at is midnight UTC of it, except for nudges: the send instant itself.
--
-- Ephemeral on purpose: the drift windows depend on vars, and the monitoring flow rebuilds only
-- user_feature_windows with other vars on a scratch copy (`dbt run --select user_feature_windows`).
-- Compiled into each reader, the spine always carries the vars of the run that reads it.

{{ config(materialized='ephemeral') }}

{%- set window_days = monitoring_window_days_var() %}
{%- set current_end = monitoring_current_end_var() %}
{%- set reference_windows = monitoring_reference_windows_var(window_days) %}
{%- set backfill_ends = monitoring_backfill_ends_var() %}

with

as_of as (

    select snapshot_date, snapshot_at from {{ ref('int_snapshot_date') }}

),

users as (

    select user_id, signup_date from {{ ref('stg_raw__users') }}

),

drift_end as (

    select
        {%- if current_end is none %}
        snapshot_date as current_end
        {%- else %}
        cast('{{ current_end }}' as date) as current_end
        {%- endif %}
    from as_of

),

drift_windows as (
    {%- if backfill_ends is not none %}
    {#- the back-fill: one window of w days ending at each listed date, every one named
        'backfill'; the monitor picks each day's current and reference windows by their ends #}
    {%- for w_end in backfill_ends %}
    {%- if not loop.first %}

    union all
    {%- endif %}

    select
        cast('backfill' as {{ dbt.type_string() }}) as window_name,
        {{ add_days(-window_days, "cast('" ~ w_end ~ "' as date)") }} as window_start,
        cast('{{ w_end }}' as date) as window_end
    {%- endfor %}
    {%- else %}

    select
        cast('current' as {{ dbt.type_string() }}) as window_name,
        {{ add_days(-window_days, 'current_end') }} as window_start,
        current_end as window_end
    from drift_end

    {%- if reference_windows is none %}

    union all

    select
        cast('reference' as {{ dbt.type_string() }}) as window_name,
        {{ add_days(-2 * window_days, 'current_end') }} as window_start,
        {{ add_days(-window_days, 'current_end') }} as window_end
    from drift_end
    {%- else %}
    {%- for w_start, w_end in reference_windows %}

    union all

    select
        cast('reference' as {{ dbt.type_string() }}) as window_name,
        cast('{{ w_start }}' as date) as window_start,
        cast('{{ w_end }}' as date) as window_end
    {%- endfor %}
    {%- endif %}
    {%- endif %}

),

as_of_users as (

    select
        'user_features' as feature_set,
        'as_of' as cutoff_kind,
        'all' as window_name,
        users.user_id,
        cast(null as date) as window_start,
        cast(null as {{ dbt.type_timestamp() }}) as window_start_at,
        as_of.snapshot_date as cutoff_date,
        as_of.snapshot_at as cutoff_at
    from users
    inner join as_of
        on users.signup_date < as_of.snapshot_date

),

drift_window_users as (

    select
        'user_features' as feature_set,
        'drift_window' as cutoff_kind,
        drift_windows.window_name,
        users.user_id,
        drift_windows.window_start,
        {{ start_of_day('drift_windows.window_start') }} as window_start_at,
        drift_windows.window_end as cutoff_date,
        {{ start_of_day('drift_windows.window_end') }} as cutoff_at
    from users
    inner join drift_windows
        on users.signup_date < drift_windows.window_end

),

churn_snapshots as (

    select
        'churn_features' as feature_set,
        'churn_snapshot' as cutoff_kind,
        'all' as window_name,
        user_id,
        cast(null as date) as window_start,
        cast(null as {{ dbt.type_timestamp() }}) as window_start_at,
        snapshot_date as cutoff_date,
        snapshot_at as cutoff_at
    from {{ ref('int_churn_snapshots') }}

),

-- "Subscribed at the snapshot" is the training spine's rule: a subscription spell that started
-- before snapshot_at and had not ended before it.
churn_scoring as (

    select distinct
        'churn_features' as feature_set,
        'churn_scoring' as cutoff_kind,
        'all' as window_name,
        spells.user_id,
        cast(null as date) as window_start,
        cast(null as {{ dbt.type_timestamp() }}) as window_start_at,
        as_of.snapshot_date as cutoff_date,
        as_of.snapshot_at as cutoff_at
    from as_of
    inner join {{ ref('int_subscription_spells') }} as spells
        on spells.started_at < as_of.snapshot_at
        and (spells.ended_at is null or spells.ended_at >= as_of.snapshot_at)

),

-- tenure_days of a nudge's features counts to the UTC date of sent_at
nudge_sends as (

    select distinct
        'churn_features' as feature_set,
        'nudge_send' as cutoff_kind,
        'all' as window_name,
        nudges.user_id,
        cast(null as date) as window_start,
        cast(null as {{ dbt.type_timestamp() }}) as window_start_at,
        cast(nudges.sent_at as date) as cutoff_date,
        nudges.sent_at as cutoff_at
    from {{ ref('stg_raw__nudges') }} as nudges
    inner join as_of
        on nudges.sent_at < as_of.snapshot_at

),

cutoffs as (

    select * from as_of_users
    union all
    select * from drift_window_users
    union all
    select * from churn_snapshots
    union all
    select * from churn_scoring
    union all
    select * from nudge_sends

),

final as (

    select
        {{ surrogate_key(['cutoff_kind', 'window_name', 'user_id', 'cutoff_at']) }} as cutoff_id,
        cast(feature_set as {{ dbt.type_string() }}) as feature_set,
        cast(cutoff_kind as {{ dbt.type_string() }}) as cutoff_kind,
        cast(window_name as {{ dbt.type_string() }}) as window_name,
        user_id,
        window_start,
        window_start_at,
        cutoff_date,
        cutoff_at
    from cutoffs

)

select * from final
