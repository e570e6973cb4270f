"""The planted structure is there, strong enough to learn, and recorded truthfully in truth/.

These run on the default-size world (2000 users, 180 days), generated once per session.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, roc_auc_score
from sklearn.preprocessing import StandardScaler
from world_helpers import World, activity_log_ratio, user_shares

from ml.world.archetypes import ARCHETYPES

pytestmark = pytest.mark.slow


def test_default_size(default_world: World) -> None:
    rows = default_world.summary.rows
    assert 200_000 <= rows["views"] <= 400_000


def test_archetypes_are_separable_from_simple_shares(default_world: World) -> None:
    features, archetype = user_shares(default_world, min_views=5)
    assert len(features) >= 0.85 * default_world.config.users
    z = StandardScaler().fit_transform(features)
    labels = KMeans(n_clusters=len(ARCHETYPES), n_init=10, random_state=0).fit_predict(z)
    assert adjusted_rand_score(archetype, labels) >= 0.85


def test_archetypes_differ_on_every_axis(default_world: World) -> None:
    features, archetype = user_shares(default_world)
    means = features.groupby(archetype).mean()
    assert means.loc["late_night_binger", "hour_late_night"] > 0.6
    assert means.loc["late_night_binger", "device_mobile"] > 0.5
    assert means.loc["family_weekend", "device_tv"] > 0.6
    assert means.loc["commuter_comedy", ["hour_morning", "hour_midday"]].sum() > 0.6
    assert means.loc["documentary_learner", ["device_web", "device_tablet"]].sum() > 0.6
    assert means.loc["documentary_learner", "genre_Documentary"] > 0.5
    assert means.loc["primetime_drama", "hour_evening"] > 0.6
    assert means.binge.idxmax() in {"scifi_anime_binger", "late_night_binger"}
    assert means.completion.idxmin() == "casual_dabbler"
    views_per_user = default_world.truth_users.groupby("archetype")["views"].median()
    assert views_per_user.idxmin() == "casual_dabbler"


def test_completion_depends_on_device_and_hour(default_world: World) -> None:
    """Within each archetype, mobile plays and late-night plays finish less often."""
    views = default_world.views
    archetype = default_world.truth_users.set_index("user_id").archetype
    views = views.assign(archetype=archetype.loc[views.user_id].to_numpy())
    by_device = views.pivot_table("completion", "archetype", "device", aggfunc="mean")
    assert (by_device.tv > by_device.mobile).all()
    assert (by_device.tv - by_device.mobile).mean() > 0.03
    late = views.bucket == "late_night"
    by_hour = views.pivot_table("completion", "archetype", late, aggfunc="mean")
    assert (by_hour[False] - by_hour[True]).mean() > 0.01


def test_planted_taste_is_learnable(default_world: World) -> None:
    """Users watch titles whose latent factors match theirs more than chance would give."""
    views = default_world.views
    taste = default_world.truth_users.set_index("user_id").filter(like="taste_")
    factors = default_world.truth_titles.set_index("title_id").filter(like="factor_")
    sample = views.sample(20_000, random_state=0)
    u = taste.loc[sample.user_id].to_numpy()
    watched = (u * factors.loc[sample.title_id].to_numpy()).sum(axis=1)
    random_titles = factors.sample(len(sample), replace=True, random_state=1).to_numpy()
    baseline = (u * random_titles).sum(axis=1)
    assert watched.mean() > baseline.mean() + 0.2


def test_popularity_is_concentrated_and_upcoming_titles_unseen(default_world: World) -> None:
    counts = default_world.truth_titles.set_index("title_id")["views"].sort_values(ascending=False)
    top_decile = counts.head(len(counts) // 10).sum() / counts.sum()
    assert top_decile > 0.35
    titles = default_world.titles
    upcoming = titles[titles.release_date > default_world.config.end_date.isoformat()]
    assert 0.02 <= len(upcoming) / len(titles) <= 0.09
    assert counts.loc[upcoming.title_id].sum() == 0
    # Views follow latent appeal.
    truth = default_world.truth_titles.set_index("title_id")
    released = truth.drop(upcoming.title_id)
    assert np.corrcoef(released.appeal, np.log1p(released["views"]))[0, 1] > 0.4


def test_new_releases_get_a_recency_boost(default_world: World) -> None:
    titles = default_world.titles.set_index("title_id")
    start = default_world.config.start_date.isoformat()
    during = titles[(titles.release_date >= start) & (titles.release_date <= "2026-04-30")]
    assert len(during) >= 10
    views = default_world.views[default_world.views.title_id.isin(during.index)]
    age = (
        pd.to_datetime(views.local_date)
        - pd.to_datetime(titles.release_date.loc[views.title_id]).to_numpy()
    ).dt.days
    first_weeks = (age < 21).sum() / 21
    later = ((age >= 42) & (age < 84)).sum() / 42
    assert first_weeks > 1.5 * later


def test_ratings_track_affinity_and_quality(default_world: World) -> None:
    ratings = default_world.ratings.assign(rating=lambda r: r.rating.astype(float))
    views = default_world.views
    substantial = (views.completion >= 0.5).sum()
    assert 0.03 <= len(ratings) / substantial <= 0.10
    quality = default_world.truth_titles.set_index("title_id").quality
    assert np.corrcoef(ratings.rating, quality.loc[ratings.title_id])[0, 1] > 0.15
    # Ratings of a user's favourite genre beat ratings of other genres.
    prefs = default_world.truth_users.set_index("user_id").filter(like="genre_pref_")
    favourite = prefs.idxmax(axis=1).str.removeprefix("genre_pref_")
    titles = default_world.titles.set_index("title_id")
    slugs = titles.genres.str.lower().str.replace("-", "_")
    fav = [
        favourite[u] in slugs[t].split("|")
        for u, t in zip(ratings.user_id, ratings.title_id, strict=True)
    ]
    fav = np.array(fav)
    assert ratings.rating[fav].mean() > ratings.rating[~fav].mean() + 0.2


def test_churn_probability_is_a_function_of_behaviour(default_world: World) -> None:
    churn = default_world.churn
    assert 0.01 <= churn.cancelled.mean() <= 0.08
    assert roc_auc_score(churn.cancelled, churn.churn_probability) > 0.75
    later = churn[churn.activity_log_ratio.notna()]
    declined = later.activity_log_ratio < -0.5
    assert later.churn_probability[declined].mean() > 2 * later.churn_probability[~declined].mean()
    assert np.corrcoef(later.abandon_rate, later.churn_probability)[0, 1] > 0.2
    by_arch = churn.merge(default_world.truth_users[["user_id", "archetype"]], on="user_id")
    assert by_arch.groupby("archetype").cancelled.mean().idxmax() == "casual_dabbler"


def test_churners_activity_declines_before_cancel(default_world: World) -> None:
    subs = default_world.subscriptions
    start = pd.Timestamp(default_world.config.start_date, tz="UTC")
    cancels = subs[(subs.event == "cancel") & (subs.ts >= start + pd.Timedelta(days=60))]
    anchors = pd.DataFrame({"user_id": cancels.user_id, "anchor": cancels.ts})
    assert len(anchors) >= 100
    churners = activity_log_ratio(default_world.views, anchors)
    # Reference: users who never cancel, at random dates in the same range.
    rng = np.random.default_rng(0)
    stayers = sorted(set(default_world.users.user_id) - set(subs[subs.event == "cancel"].user_id))
    reference = pd.DataFrame(
        {
            "user_id": rng.choice(stayers, size=1000),
            "anchor": start + pd.to_timedelta(rng.integers(60, 180, size=1000), unit="D"),
        }
    ).drop_duplicates()
    stayers_ratio = activity_log_ratio(default_world.views, reference)
    assert churners.mean() < stayers_ratio.mean() - 0.25
    assert np.median(churners) < 0


def test_experiment_lift_matches_truth(default_world: World) -> None:
    exposures = default_world.exposures
    truth = {e["experiment_id"]: e for e in default_world.json("experiments.json")["experiments"]}
    ctr = exposures.groupby(["experiment_id", "variant"]).clicked.mean()
    warm = truth["artwork_warm_tones"]
    assert 0.02 <= warm["true_absolute_lift"] <= 0.04
    observed = ctr["artwork_warm_tones", "treatment"] - ctr["artwork_warm_tones", "control"]
    assert abs(observed - warm["true_absolute_lift"]) < 0.012
    assert abs(ctr["artwork_warm_tones", "control"] - warm["true_ctr"]["control"]) < 0.008
    font = truth["artwork_title_font"]
    assert font["true_absolute_lift"] == 0
    observed = ctr["artwork_title_font", "treatment"] - ctr["artwork_title_font", "control"]
    assert abs(observed) < 0.012
    # Heterogeneous effect: large for families, none or negative for late-night bingers.
    by_arch = warm["by_archetype"]
    assert by_arch["family_weekend"]["true_absolute_lift"] >= 0.05
    assert by_arch["late_night_binger"]["true_absolute_lift"] <= 0
    archetype = default_world.truth_users.set_index("user_id").archetype
    warm_rows = exposures[exposures.experiment_id == "artwork_warm_tones"]
    per = warm_rows.groupby([archetype.loc[warm_rows.user_id].to_numpy(), "variant"]).clicked.mean()
    family = per["family_weekend", "treatment"] - per["family_weekend", "control"]
    late = per["late_night_binger", "treatment"] - per["late_night_binger", "control"]
    assert family > late + 0.04


def test_assignment_is_balanced(default_world: World) -> None:
    pairs = default_world.exposures.drop_duplicates(["experiment_id", "user_id"])
    share = pairs.groupby("experiment_id").variant.apply(lambda v: (v == "treatment").mean())
    assert share.between(0.45, 0.55).all()


def _mobile_shift(world: World) -> float:
    views = world.views
    cutoff = world.json("drift.json")["window_start_date"]
    late = views.local_date >= cutoff
    mobile = views.device == "mobile"
    return mobile[late].mean() - mobile[~late].mean()


def test_drift_world_moves_the_expected_features(drift_world: World, default_world: World) -> None:
    assert _mobile_shift(drift_world) > 0.06
    assert abs(_mobile_shift(default_world)) < 0.03
    truth = drift_world.json("drift.json")
    observed = truth["observed_view_shares"]
    for feature, direction in truth["planted"].items():
        change = observed["after"][feature] - observed["before"][feature]
        assert change > 0.03 if direction == "up" else change < -0.03, feature
    assert set(truth["planted"]) <= set(truth["expected_drifted_features"])
    # Without drift, nothing moves as much as the planted shifts do.
    calm = default_world.json("drift.json")["observed_view_shares"]
    assert max(abs(calm["after"][k] - calm["before"][k]) for k in calm["before"]) < 0.05


def test_drift_world_is_the_same_world_before_the_drift(
    drift_world: World, default_world: World
) -> None:
    cutoff = drift_world.json("drift.json")["drift_start_date"]
    before = default_world.views[default_world.views.local_date < cutoff]
    drifted = drift_world.views[drift_world.views.local_date < cutoff]
    # The day files before the drift start are byte-identical; only the last days differ.
    assert len(before) == len(drifted)
    assert (before.event_id.to_numpy() == drifted.event_id.to_numpy()).all()
