-- One row per (experiment, variant, user exposed to it): the per-user frame an experiment
-- readout reads (ml.experiments.readout). Post-period metrics count from the user's first
-- exposure to the end of the experiment, the `_pre` columns the same metrics over a pre-period
-- of equal length ending at that first exposure (the CUPED covariates; windows and event
-- definitions in int_experiment_user_windows / int_experiment_user_events). Ratio metrics keep
-- numerator and denominator: click-through = clicks / exposures, abandonment = abandons / plays.
-- Nothing here names an experiment: a new one in the exposures flows through.

with

windows as (

    select * from {{ ref('int_experiment_user_windows') }}

),

events as (

    select * from {{ ref('int_experiment_user_events') }}

),

totals as (

    select
        experiment_id,
        variant,
        user_id,
        {% for period, suffix in [('post', ''), ('pre', '_pre')] -%}
        sum(case when period = '{{ period }}' then exposures else 0 end) as exposures{{ suffix }},
        sum(case when period = '{{ period }}' then clicks else 0 end) as clicks{{ suffix }},
        sum(case when period = '{{ period }}' then plays else 0 end) as plays{{ suffix }},
        sum(case when period = '{{ period }}' then watch_seconds else 0 end)
            as watch_seconds{{ suffix }},
        sum(case when period = '{{ period }}' then abandons else 0 end) as abandons{{ suffix }}
        {%- if not loop.last %},{% endif %}
        {% endfor %}
    from events
    group by experiment_id, variant, user_id

),

final as (

    select
        windows.experiment_id,
        windows.variant,
        windows.user_id,
        windows.is_multi_variant,
        windows.experiment_started_on,
        windows.experiment_ends_at,
        windows.first_exposed_at,
        windows.pre_starts_at,
        cast(windows.entry_day as {{ dbt.type_int() }}) as entry_day,
        cast(windows.post_seconds / 86400.0 as {{ type_double() }}) as post_days,
        {% for suffix in ['', '_pre'] -%}
        cast(coalesce(totals.exposures{{ suffix }}, 0) as {{ dbt.type_bigint() }})
            as exposures{{ suffix }},
        cast(coalesce(totals.clicks{{ suffix }}, 0) as {{ dbt.type_bigint() }})
            as clicks{{ suffix }},
        cast(coalesce(totals.plays{{ suffix }}, 0) as {{ dbt.type_bigint() }})
            as plays{{ suffix }},
        cast(coalesce(totals.watch_seconds{{ suffix }}, 0) / 60.0 as {{ type_double() }})
            as watch_minutes{{ suffix }},
        cast(coalesce(totals.abandons{{ suffix }}, 0) as {{ dbt.type_bigint() }})
            as abandons{{ suffix }}
        {%- if not loop.last %},{% endif %}
        {% endfor %}
    from windows
    left join totals
        on windows.experiment_id = totals.experiment_id
        and windows.variant = totals.variant
        and windows.user_id = totals.user_id

)

select * from final
