-- Churn scoring rows: one per user subscribed at the as-of snapshot (int_snapshot_date), with
-- exactly the feature columns of churn_training_set (same names, types and definitions: both
-- read int_churn_features_snapshotted) and no label, so a model trained on the training set
-- scores these rows directly. Point in time: only facts strictly before snapshot_at feed the
-- features. The rows are the `churn_scoring` cut-offs of int_feature_cutoffs: "subscribed at the
-- snapshot" is the training spine's rule (a subscription spell that started before snapshot_at
-- and had not ended before it).

with

features as (

    select * from {{ ref('int_churn_features_snapshotted') }}
    where cutoff_kind = 'churn_scoring'

),

final as (

    select
        features.user_id,
        features.snapshot_date,
        features.features_max_event_at,
        {{- select_columns('features', churn_feature_columns()) }}
    from features

)

select * from final
