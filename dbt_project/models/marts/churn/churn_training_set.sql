-- Churn training rows: one per (user, snapshot_date) for users subscribed at the snapshot (see
-- int_churn_snapshots for the spine). The features are computed by the macro churn_feature_ctes
-- (macros/churn_features.sql), shared with churn_scoring_set. Every feature comes from int_user_events rows with
-- event_at STRICTLY BEFORE snapshot_at (the single point-in-time cut-off below); the label
-- churned_30d comes from int_churn_labels (a cancel in [snapshot_at, snapshot_at + 30 days)).
-- features_max_event_at is the latest event that fed the features; the singular test
-- tests/assert_churn_features_before_snapshot.sql checks it and re-derives the counts.
--
-- Windows, relative to snapshot_at: 7d = [-7d, 0), 28d = [-28d, 0), prior_28d = [-56d, -28d).
-- engagement_trend = (views_28d + 1) / (views_prior_28d + 1) and
-- watch_hours_trend = (watch_hours_28d + 1) / (watch_hours_prior_28d + 1): below 1 = declining.
-- The data start at observed_from: for a user who signed up before it, a prior_28d window that
-- reaches before observed_from is censored, not empty, so the prior_28d columns and the trends
-- are null there (is_prior_window_observed = false) instead of faking a surge in engagement.

{%- set snapshots_sql -%}
    select churn_snapshot_id, user_id, snapshot_date, snapshot_at from {{ ref('int_churn_snapshots') }}
{%- endset -%}
{%- set labels_sql -%}
    select churn_snapshot_id, churned_30d from {{ ref('int_churn_labels') }}
{%- endset %}

with

{{ churn_feature_ctes(snapshots_sql, labels_sql) }}

select * from churn_features
