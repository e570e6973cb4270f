-- Churn training rows: one per (user, snapshot_date) for users subscribed at the snapshot (see
-- int_churn_snapshots for the spine). The features are int_churn_features_snapshotted's rows at
-- the `churn_snapshot` cut-offs of int_feature_cutoffs (the model shared with churn_scoring_set
-- and nudge_outcomes): every feature comes from int_user_events rows with event_at STRICTLY
-- BEFORE snapshot_at; see that model for the windows and the censoring of the prior 28 days.
-- The label churned_30d comes from int_churn_labels (a cancel in [snapshot_at, snapshot_at +
-- 30 days)). features_max_event_at is the latest event that fed the features; the singular test
-- tests/assert_churn_features_before_snapshot.sql checks it and re-derives the counts.

with

features as (

    select * from {{ ref('int_churn_features_snapshotted') }}
    where cutoff_kind = 'churn_snapshot'

),

labels as (

    select user_id, snapshot_date, churned_30d from {{ ref('int_churn_labels') }}

),

final as (

    select
        features.user_id,
        features.snapshot_date,
        features.features_max_event_at,
        {{- select_columns('features', churn_feature_columns()) }},

        -- label
        labels.churned_30d
    from features
    inner join labels
        on features.user_id = labels.user_id
        and features.snapshot_date = labels.snapshot_date

)

select * from final
