-- Churn scoring rows: one per user subscribed at the as-of snapshot (int_snapshot_date), with
-- exactly the feature columns of churn_training_set (same names, types and definitions: both come
-- from the macro churn_feature_ctes) and no label, so a model trained on the training set scores
-- these rows directly. Point in time: only facts strictly before snapshot_at feed the features.
-- "Subscribed at the snapshot" is the training spine's rule: a subscription spell that started
-- before snapshot_at and had not ended before it.

{%- set snapshots_sql -%}
    select distinct
        {{ surrogate_key(['spells.user_id', 'as_of.snapshot_date']) }} as churn_snapshot_id,
        spells.user_id,
        as_of.snapshot_date,
        as_of.snapshot_at
    from {{ ref('int_snapshot_date') }} as as_of
    inner join (
        select distinct user_id, started_at, ended_at from {{ ref('int_subscription_spells') }}
    ) as spells
        on spells.started_at < as_of.snapshot_at
        and (spells.ended_at is null or spells.ended_at >= as_of.snapshot_at)
{%- endset %}

with

{{ churn_feature_ctes(snapshots_sql) }}

select * from churn_features
