-- One row per user who signed up before the as-of date (int_snapshot_date.snapshot_date), with
-- features from everything known strictly before snapshot_at (views by ended_at).
--
-- Shares (genre_/device_/hour_share_*, weekend_share, series_share) are shares of WATCH SECONDS;
-- a multi-genre title's seconds are split equally over its genres. Each family sums to 1 for a
-- user with watch time; a user without any (no views, or only zero-second plays) gets 0 in every
-- share. Rates and means over sessions (abandonment_rate, mean_completion, binge_ratio) use
-- non-trivial sessions only and are null when there are none; mean_episode_minutes,
-- days_since_last_view and mean_rating are null without views / ratings. Counts and hours are 0.

-- The features are computed by int_user_features_windowed at the spine's `as_of` cut-off (one
-- window covering all history before the as-of date, int_feature_cutoffs), the same model that
-- computes the drift monitor's user_feature_windows, so both marts compute every column the same way.

with

features as (

    select * from {{ ref('int_user_features_windowed') }}
    where cutoff_kind = 'as_of'

),

final as (

    select {{ select_columns('features', user_feature_columns()) }}
    from features

)

select * from final
