"""The pure logic behind the audience flows (ml.audience.tables, .gates, .reengagement),
called directly: segment tables, stable ids and migration, the stability gate, re-engagement
rows without contact history. No Prefect run, no warehouse."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows.segments import SegmentsParams
from ml.audience.gates import fit_segmenter, save_segmenter
from ml.audience.policy import PolicyConfig
from ml.audience.reengagement import ReengagementInputs, plan_actions
from ml.audience.segments import Stability
from ml.audience.tables import (
    AudienceDataError,
    SegmentInputs,
    adopt_ids,
    align_to_previous,
    check_user_features,
    churn_inputs,
    migration_summary,
    migration_table,
    segment_ids,
    segment_tables,
)
from ml.registry import ModelRegistry
from tests.audience.helpers import churn_scores, planted_users


def _params(**kw):
    return SegmentsParams(**{"k_min": 4, "k_max": 4, "n_init": 3, **kw})


def test_empty_segment_and_constant_feature_give_rows_not_crashes() -> None:

    users, _ = planted_users(n_per=40)  # genre_share_other is 0 for everyone
    seg = fit_segmenter(users, _params())
    first = users[seg.labels_ == 0]["user_id"]
    rest = users[~users["user_id"].isin(first)].reset_index(drop=True)
    tables = segment_tables(seg, rest, pd.Timestamp("2026-05-01").date())
    prof = tables.profiles.set_index("segment_id")
    assert prof.loc[0, "size"] == 0 and "no members" in prof.loc[0, "segment_name"]
    assert prof["size"].sum() == len(rest)
    assert "genre_share_other" not in " ".join(prof["top_features"])  # constant: no signal
    assert not tables.long_profiles["z"].isna().any()
    assert tables.assignments["segment_id"].ne(0).all()


def test_too_new_users_are_a_named_group_with_no_distance() -> None:

    users, _ = planted_users(n_per=30)
    users.loc[:4, "views_total"] = 1
    seg = fit_segmenter(users, _params())
    tables = segment_tables(seg, users, pd.Timestamp("2026-05-01").date())
    new = tables.assignments[tables.assignments["segment_id"] == -1]
    assert len(new) == 5 and new["distance_to_center"].isna().all()
    assert new["segment_name"].eq("Too new to tell").all()


def test_ids_follow_the_previous_model_and_migration_counts_everyone() -> None:

    users, _ = planted_users(n_per=40)
    old = fit_segmenter(users, _params(random_state=1))
    old.segment_ids_ = np.array([10, 11, 12, 13])  # ids an earlier alignment handed out
    new = fit_segmenter(users, _params(random_state=7))
    new.segment_ids_ = np.array(
        [align_to_previous(new, old)[r] for r in range(new.kmeans_.n_clusters)]
    )
    assert set(segment_ids(new).values()) == {10, 11, 12, 13}
    adopted = adopt_ids(fit_segmenter(users, _params(random_state=7)), old)
    assert adopted.segment_ids_.tolist() == new.segment_ids_.tolist()
    assert adopt_ids(fit_segmenter(users, _params()), None).segment_ids_.tolist() == [0, 1, 2, 3]
    day = pd.Timestamp("2026-05-01").date()
    before = segment_tables(old, users, day).assignments.assign(model_version="segmenter:a")
    after = segment_tables(new, users.iloc[5:], day).assignments
    assert (before["segment_id"].to_numpy()[5:] == after["segment_id"].to_numpy()).all()
    moves = migration_table(before, after, "segmenter:b")
    assert moves["users"].sum() == len(users)
    assert moves.loc[moves["to_segment"] == -2, "users"].sum() == 5  # left
    assert set(moves["from_model_version"]) == {"segmenter:a"}
    assert migration_table(None, after, "segmenter:b") is None


def test_k_range_must_be_ordered() -> None:

    users, _ = planted_users(n_per=10)
    with pytest.raises(ValueError, match="k_max"):
        fit_segmenter(users, _params(k_min=5, k_max=4))


def test_segmenter_gate_refuses_an_unstable_candidate(tmp_path: Path) -> None:

    users, _ = planted_users(n_per=25)
    seg = fit_segmenter(users, _params())
    inputs = SegmentInputs(users, pd.Timestamp("2026-05-01").date(), None)
    registry = ModelRegistry(tmp_path / "artifacts")
    params = _params(min_bootstrap_ari=0.6, stability_tolerance=0.05)

    def save(ari: float):
        return save_segmenter(
            registry, seg, Stability(ari, 0.0, (ari,)), 0.4, inputs, params,
            run_id="r", manifest=None,
        )  # fmt: skip

    first, decision = save(0.95)
    assert decision.promoted and registry.champion_version("segmenter") == first.version
    _, low = save(0.4)  # below the floor
    assert not low.promoted and "below the floor" in low.reason
    _, worse = save(0.85)  # above the floor, but 0.10 less stable than the champion
    assert not worse.promoted
    assert registry.champion_version("segmenter") == first.version
    better, ok = save(0.93)  # within the tolerance
    assert ok.promoted and registry.champion_version("segmenter") == better.version
    evaluation = json.loads(
        (registry.version_dir("segmenter", better.version) / "evaluation.json").read_text()
    )
    assert [r["k"] for r in evaluation["k_scores"]] == [4]


def test_without_contact_history_nobody_is_contacted() -> None:
    unknown = ReengagementInputs(None, None, None, None, None)
    plan = plan_actions(churn_scores(dt.date(2026, 4, 1)), unknown, PolicyConfig())
    assert len(plan) == 3 and plan["action"].eq("none").all()
    assert plan["reason"].str.contains("user_contact_history not built").all()


def test_user_features_checks_name_the_column_and_the_duplicate() -> None:
    users, _ = planted_users(n_per=5)
    users["snapshot_date"] = pd.Timestamp("2026-05-01")
    shuffled = users.sample(frac=1, random_state=0)
    inputs = check_user_features(shuffled)
    assert inputs.users["user_id"].is_monotonic_increasing
    assert inputs.snapshot_date == dt.date(2026, 5, 1) and inputs.previous is None
    with pytest.raises(AudienceDataError, match="'user_features' lacks the column 'user_id'"):
        check_user_features(users.drop(columns=["user_id"]))
    with pytest.raises(AudienceDataError, match="lacks the column 'snapshot_date'"):
        check_user_features(users.drop(columns=["snapshot_date"]))
    twice = pd.concat([users, users.iloc[[3]]])
    with pytest.raises(AudienceDataError, match="holds user_id 'u000003' more than once"):
        check_user_features(twice)


def _training() -> pd.DataFrame:
    days = pd.to_datetime(["2026-01-01", "2026-01-15", "2026-01-29"])
    return pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u1", "u2", "u1", "u3"],
            "snapshot_date": days.repeat(2),
            "views_28d": [3, 4, 5, 6, 7, 8],
            "churned_30d": [0, 1, 0, 0, 1, 0],
        }
    )


def test_churn_inputs_score_the_scoring_mart_else_the_latest_labelled_snapshot() -> None:
    training = _training()
    fallback = churn_inputs(training, None)
    assert fallback.scoring_source.startswith("churn_training_set")
    assert set(fallback.scoring["user_id"]) == {"u1", "u3"}
    assert "churned_30d" not in fallback.scoring.columns
    assert "does not exist" in fallback.notes[0] and "2026-01-29" in fallback.notes[0]
    empty = churn_inputs(training, training.iloc[:0].drop(columns=["churned_30d"]))
    assert "is empty" in empty.notes[0]
    scoring = pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u9"],
            "snapshot_date": pd.to_datetime(["2026-03-01", "2026-03-01", "2026-02-15"]),
            "views_28d": [1, 2, 3],
        }
    )
    inputs = churn_inputs(training, scoring)
    assert inputs.scoring_source == "churn_scoring_set" and inputs.notes == []
    assert inputs.scoring["user_id"].tolist() == ["u1", "u2"]  # its latest snapshot only
    with pytest.raises(AudienceDataError, match=r"lacks the feature columns \['views_28d'\]"):
        churn_inputs(training, scoring.drop(columns=["views_28d"]))
    with pytest.raises(AudienceDataError, match="'churn_training_set' lacks the column"):
        churn_inputs(training.drop(columns=["churned_30d"]), None)


def test_migration_summary_counts_stayed_moved_arrived_left() -> None:
    day = dt.date(2026, 5, 1)
    before = pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "d"],
            "segment_id": [0, 0, 1, 1],
            "segment_name": ["A", "A", "B", "B"],
            "model_version": "segmenter:v1",
        }
    )
    after = pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "e"],
            "snapshot_date": day,
            "segment_id": [0, 1, 1, 0],
            "segment_name": ["A", "B", "B", "A"],
        }
    )
    moves = migration_table(before, after, "segmenter:v2")
    summary = migration_summary(moves)
    assert summary == {
        "from_model_version": "segmenter:v1",
        "stayed": 2,
        "moved": 1,
        "arrived": 1,
        "left": 1,
    }
    assert migration_summary(None) is None
    names = moves.set_index(["from_segment", "to_segment"])
    assert names.loc[(0, 1), "from_name"] == "A" and names.loc[(0, 1), "to_name"] == "B"
    assert names.loc[(-2, 0), "from_name"] == "(absent)"
