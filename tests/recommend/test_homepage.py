"""Homepage invariants on the tiny world: no duplicates, nothing played outside Continue
Watching, deterministic, personalized row order, cold-start and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.recommend.content import ContentModel
from ml.recommend.homepage import (
    ANONYMOUS_USER,
    OUTPUT_COLUMNS,
    HomepageConfig,
    HomepageError,
    build_homepages,
)
from ml.recommend.interactions import InteractionsError
from ml.recommend.training import fit_top_picks

pytestmark = pytest.mark.slow  # builds the session's tiny warehouse (dbt) once


@pytest.fixture(scope="module")
def marts(tiny_warehouse):
    from warehouse.recommend import read_marts

    return read_marts(tiny_warehouse.settings)


@pytest.fixture(scope="module")
def model(marts):
    return fit_top_picks(marts.interactions, "ease", ease_params=(200.0, 0.0))


@pytest.fixture(scope="module")
def content(marts):
    return ContentModel().fit(marts.catalog)


@pytest.fixture(scope="module")
def pages(marts, model, content) -> pd.DataFrame:
    return build_homepages(
        marts.interactions, marts.title_features, marts.user_features, model, content
    )


def test_every_user_gets_rows_with_the_published_columns(pages, marts) -> None:
    assert list(pages.columns) == list(OUTPUT_COLUMNS)
    users = set(marts.user_features["user_id"]) | {ANONYMOUS_USER}
    assert set(pages["user_id"]) == users
    assert set(pages["row_name"]) == {
        "continue_watching",
        "top_picks",
        "because_you_watched",
        "because_you_watched_2",
        "trending_now",
        "new_for_you",
        "context",
    }
    assert pages.groupby(["user_id", "row_name"])["rank"].max().le(10).all()


def test_no_title_twice_on_a_homepage(pages) -> None:
    assert not pages.duplicated(["user_id", "title_id"]).any()


def test_nothing_played_outside_continue_watching(pages, marts) -> None:
    played = marts.interactions[["user_id", "title_id", "is_finished"]]
    joined = pages.merge(played, on=["user_id", "title_id"], how="inner")
    assert set(joined["row_name"]) == {"continue_watching"}
    assert not joined["is_finished"].any()  # and Continue Watching is never finished


def test_continue_watching_is_most_recent_first(pages, marts) -> None:
    cw = pages[pages["row_name"] == "continue_watching"].merge(
        marts.interactions, on=["user_id", "title_id"]
    )
    assert len(cw)
    for _, group in cw.groupby("user_id"):
        times = group.sort_values("rank")["last_watched_at"]
        assert times.is_monotonic_decreasing


def test_rows_are_ordered_and_numbered_per_user(pages) -> None:
    heads = pages.drop_duplicates(["user_id", "row_name"])
    for _, group in heads.groupby("user_id"):
        assert group["row_position"].tolist() == list(range(1, len(group) + 1))
        assert group["row_engagement"].is_monotonic_decreasing
    ranks = pages.groupby(["user_id", "row_name"])["rank"].agg(["min", "max", "count"])
    assert (ranks["min"] == 1).all() and (ranks["max"] == ranks["count"]).all()
    # personalised: users do not all see the same row order
    orders = heads.groupby("user_id")["row_name"].agg(tuple)
    assert orders.nunique() > 5


def test_because_you_watched_names_a_finished_anchor(pages, marts) -> None:
    byw = pages[pages["row_name"].str.startswith("because_you_watched")]
    names = marts.title_features.set_index("title_id")["title_name"]
    assert (byw["row_title"] == "Because You Watched " + byw["anchor_title_id"].map(names)).all()
    anchors = byw[["user_id", "anchor_title_id"]].drop_duplicates()
    finished = marts.interactions.rename(columns={"title_id": "anchor_title_id"})
    joined = anchors.merge(finished, on=["user_id", "anchor_title_id"], how="left")
    assert joined["is_finished"].fillna(False).all()


def test_unreleased_titles_never_appear_and_new_for_you_is_cold(pages, marts) -> None:
    titles = marts.title_features.set_index("title_id")
    assert titles.loc[pages["title_id"], "is_released"].all()
    new = pages[pages["row_name"] == "new_for_you"]
    viewers = titles.loc[new["title_id"], "viewers"]
    assert viewers.max() <= max(5, titles.loc[titles["is_released"], "viewers"].quantile(0.1))


def test_context_row_follows_the_usual_device_and_hour(pages, marts) -> None:
    uf = marts.user_features.set_index("user_id")
    ctx = pages[pages["row_name"] == "context"].merge(
        marts.title_features[["title_id", "kind", "runtime_minutes"]], on="title_id"
    )
    mobile = uf.index[
        (uf["device_share_mobile"] > 0.5)
        & (uf["hour_share_late_night"] < uf[["hour_share_midday", "hour_share_morning"]].max(1))
    ]
    short = ctx[ctx["user_id"].isin(mobile)]
    assert len(short) and (short["runtime_minutes"] <= 45).all()
    assert short["row_title"].str.startswith("Quick Watches for Mobile").all()
    movie = ctx[ctx["row_title"].str.startswith("Movie Night")]
    assert len(movie) and (movie["kind"] == "movie").all()


def test_anonymous_and_historyless_users_get_cold_start_rows(pages, marts) -> None:
    anon = pages[pages["user_id"] == ANONYMOUS_USER]
    assert set(anon["row_name"]) == {"trending_now", "top_picks", "context", "new_for_you"}
    assert (anon.loc[anon["row_name"] == "top_picks", "row_title"] == "Popular on Tastemaker").all()
    assert anon.drop_duplicates("row_name")["row_name"].iloc[0] == "trending_now"


def test_fresh_partial_play_puts_continue_watching_first(marts, model, content) -> None:
    inter = marts.interactions.copy()
    user = inter["user_id"].iloc[0]
    snapshot = pd.Timestamp(marts.title_features["snapshot_date"].max())
    fresh = inter.index[inter["user_id"] == user][0]
    inter.loc[fresh, ["is_finished", "max_completion", "last_watched_at"]] = [
        False,
        0.4,
        snapshot - pd.Timedelta(hours=3),
    ]
    page = build_homepages(
        inter, marts.title_features, marts.user_features, model, content, users=[user]
    )
    assert set(page["user_id"]) == {user, ANONYMOUS_USER}
    first = page[(page["user_id"] == user) & (page["row_position"] == 1)]
    assert set(first["row_name"]) == {"continue_watching"}
    assert first.iloc[0]["title_id"] == inter.loc[fresh, "title_id"]


def test_deterministic(pages, marts, model, content) -> None:
    again = build_homepages(
        marts.interactions.sample(frac=1.0, random_state=1),  # row order must not matter
        marts.title_features.sample(frac=1.0, random_state=2),
        marts.user_features,
        model,
        content,
    )
    pd.testing.assert_frame_equal(pages, again)


def test_empty_interactions_give_cold_start_homepages(marts, model, content) -> None:
    page = build_homepages(
        marts.interactions.iloc[:0],
        marts.title_features,
        marts.user_features,
        model,
        content,
        HomepageConfig(k=5),
    )
    assert set(page["row_name"]) == {"top_picks", "context", "new_for_you"}
    assert page["user_id"].nunique() == len(marts.user_features) + 1
    assert not page.duplicated(["user_id", "title_id"]).any()


def test_bad_input_is_named(marts, model) -> None:
    with pytest.raises(HomepageError, match=r"title_features: missing column\(s\) \['kind'\]"):
        build_homepages(
            marts.interactions,
            marts.title_features.drop(columns="kind"),
            marts.user_features,
            model,
        )
    bad = marts.interactions.copy()
    bad.loc[3, "watch_seconds"] = -1
    with pytest.raises(InteractionsError, match=r"row 3 .* 'watch_seconds'=-1"):
        build_homepages(bad, marts.title_features, marts.user_features, model)


def test_champion_trained_on_an_older_catalogue_still_scores(marts, model, content) -> None:
    """A title added since the champion was fit gets −inf from it (never picked by it)."""
    from ml.recommend.interactions import confidence_matrix

    data = confidence_matrix(marts.interactions, items=[*model.items, "t_brand_new"])
    scores = model.score(data)
    assert np.isneginf(scores[:, -1]).all() and np.isfinite(scores[:, :-1]).all()
