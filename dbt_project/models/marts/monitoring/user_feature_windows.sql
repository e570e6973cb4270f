-- The user_features columns over two equal, adjacent windows, for data drift monitoring:
--   reference = [current_end - 2w, current_end - w), current = [current_end - w, current_end),
-- w = var('drift_window_days', 28), current_end = var('drift_current_end') or, when null, the
-- project's as-of date (int_snapshot_date: the snapshot_date var or the day after the last view).
-- One row per (window_name, user who signed up before the window's end): the `drift_window`
-- cut-offs of int_feature_cutoffs. Features come from the facts inside each window
-- (int_user_features_windowed, the model behind user_features), so a shift confined to the
-- current window is not diluted by months of history as it is in the cumulative user_features.
-- The spine and the feature model are ephemeral, so `dbt run --select user_feature_windows
-- --vars {drift_window_days: ..}` (the monitoring flow's scratch rebuild) recomputes the windows.

with

features as (

    select * from {{ ref('int_user_features_windowed') }}
    where cutoff_kind = 'drift_window'

),

final as (

    select
        features.window_name,
        features.window_start,
        features.window_end,
        {{- select_columns('features', user_feature_columns()) }}
    from features

)

select * from final
