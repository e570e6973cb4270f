"""The landing files follow the contract (docs/data-contract.md); the world is consistent."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, timedelta

import pandas as pd
import pytest
from world_helpers import TINY, World, utc

from ml.world.archetypes import ARCHETYPE_NAMES
from ml.world.vocab import (
    AGE_BANDS,
    COUNTRIES,
    DEVICES,
    GENRE_NAMES,
    GENRES,
    MOVIE_RATINGS,
    PLAN_PRICES,
    SERIES_RATINGS,
)

STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
OFFSET = {code: offset for code, offset, *_ in COUNTRIES}


def _header(path) -> list[str]:
    return path.read_text().splitlines()[0].split(",")


def test_genre_vocabulary_is_the_fixed_one() -> None:
    assert GENRES == (
        ("Action", "action"), ("Comedy", "comedy"), ("Drama", "drama"), ("Crime", "crime"),
        ("Thriller", "thriller"), ("Horror", "horror"), ("Romance", "romance"),
        ("Sci-Fi", "sci_fi"), ("Fantasy", "fantasy"), ("Documentary", "documentary"),
        ("Animation", "animation"), ("Family", "family"), ("Reality", "reality"),
        ("Anime", "anime"),
    )  # fmt: skip


def test_folder_layout(tiny_world: World) -> None:
    landing = tiny_world.landing
    assert sorted(p.name for p in landing.iterdir()) == [
        "exposures", "nudges", "opt_outs", "ratings", "subscriptions", "titles", "users", "views",
    ]  # fmt: skip
    assert [p.name for p in (landing / "titles").iterdir()] == ["titles.csv"]
    assert [p.name for p in (landing / "opt_outs").iterdir()] == ["opt_outs.csv"]
    assert {p.stem for p in (landing / "nudges").glob("*.csv")} <= set(
        (TINY.start_date + timedelta(days=d)).isoformat() for d in range(TINY.days)
    )
    assert [p.name for p in (landing / "users").iterdir()] == ["users.csv"]
    days = [(TINY.start_date + timedelta(days=d)).isoformat() for d in range(TINY.days)]
    assert sorted(p.stem for p in (landing / "views").glob("*.jsonl")) == days
    assert {p.stem for p in (landing / "exposures").glob("*.jsonl")} <= set(days)
    for entity in ("ratings", "subscriptions"):
        for p in (landing / entity).iterdir():
            assert re.fullmatch(r"\d{4}-\d{2}\.csv", p.name)


def test_csv_headers(tiny_world: World) -> None:
    landing = tiny_world.landing
    assert _header(landing / "titles" / "titles.csv") == [
        "title_id", "title", "kind", "genres", "release_date", "runtime_minutes", "seasons",
        "maturity_rating", "country", "language", "director", "cast", "synopsis",
    ]  # fmt: skip
    assert _header(landing / "users" / "users.csv") == [
        "user_id", "signup_date", "country", "plan", "age_band",
    ]  # fmt: skip
    for p in (landing / "ratings").iterdir():
        assert _header(p) == ["user_id", "title_id", "rated_at", "rating"]
    for p in (landing / "subscriptions").iterdir():
        assert _header(p) == ["user_id", "event", "occurred_at", "plan", "monthly_price"]


def test_jsonl_fields_and_types(tiny_world: World) -> None:
    day = TINY.start_date.isoformat()
    view = json.loads((tiny_world.landing / "views" / f"{day}.jsonl").read_text().splitlines()[0])
    assert list(view) == [
        "event_id", "user_id", "title_id", "device", "started_at", "watch_seconds",
        "duration_seconds",
    ]  # fmt: skip
    assert isinstance(view["watch_seconds"], int)
    assert isinstance(view["duration_seconds"], int)
    first_exposure = sorted((tiny_world.landing / "exposures").glob("*.jsonl"))[0]
    exposure = json.loads(first_exposure.read_text().splitlines()[0])
    assert list(exposure) == [
        "event_id", "experiment_id", "variant", "user_id", "title_id", "shown_at", "clicked",
    ]  # fmt: skip
    assert isinstance(exposure["clicked"], bool)


def test_titles(tiny_world: World) -> None:
    titles = tiny_world.titles
    assert titles.title_id.is_unique
    assert titles.title_id.str.fullmatch(r"t\d{5}").all()
    assert set(titles.kind) == {"movie", "series"}
    for names in titles.genres:
        genres = names.split("|")
        assert 1 <= len(genres) <= 3
        assert set(genres) <= set(GENRE_NAMES)
        assert len(set(genres)) == len(genres)
    # Every genre is present (the generator guarantees one title per genre).
    assert set("|".join(titles.genres).split("|")) == set(GENRE_NAMES)
    movies, series = titles[titles.kind == "movie"], titles[titles.kind == "series"]
    assert (movies.seasons == "").all()
    assert series.seasons.astype(int).between(1, 10).all()
    assert set(movies.maturity_rating) <= set(MOVIE_RATINGS)
    assert set(series.maturity_rating) <= set(SERIES_RATINGS)
    assert titles.runtime_minutes.astype(int).gt(0).all()
    assert series.runtime_minutes.astype(int).le(60).all()
    pd.to_datetime(titles.release_date, format="%Y-%m-%d")
    assert (titles.cast.str.count(r"\|") >= 2).all()
    assert (titles.synopsis.str.len() > 40).all()
    assert (titles.director != "").all()


def test_users(tiny_world: World) -> None:
    users = tiny_world.users
    assert users.user_id.is_unique
    assert users.user_id.str.fullmatch(r"u\d{6}").all()
    assert set(users.country) <= set(OFFSET)
    assert set(users.plan) <= set(PLAN_PRICES)
    assert set(users.age_band) <= set(AGE_BANDS)
    signup = pd.to_datetime(users.signup_date, format="%Y-%m-%d").dt.date
    assert (signup <= TINY.end_date).all()
    assert (signup < TINY.start_date).any() and (signup >= TINY.start_date).any()


def test_timestamps_carry_the_users_fixed_offset(tiny_world: World) -> None:
    offset_of = tiny_world.users.set_index("user_id").country.map(OFFSET)
    for frame, column in (
        (tiny_world.views, "started_at"),
        (tiny_world.ratings, "rated_at"),
        (tiny_world.subscriptions, "occurred_at"),
        (tiny_world.exposures, "shown_at"),
    ):
        stamps = frame[column]
        assert stamps.str.match(STAMP).all(), column
        assert (stamps.str[-6:] == offset_of.loc[frame.user_id].to_numpy()).all(), column


def test_views(tiny_world: World) -> None:
    views = tiny_world.views
    assert views.event_id.is_unique
    assert views.event_id.str.fullmatch(r"v\d{10}").all()
    assert set(views.device) <= set(DEVICES)
    assert (views.watch_seconds >= 0).all()
    assert (views.duration_seconds > 0).all()
    assert (views.watch_seconds <= views.duration_seconds).all()
    assert set(views.user_id) <= set(tiny_world.users.user_id)
    assert set(views.title_id) <= set(tiny_world.titles.title_id)
    # Each day's file holds the sittings that began on that local date (a binge may run past
    # midnight), so a view's local date is the file's date or the day after.
    assert views.local_date.min() == TINY.start_date.isoformat()
    assert views.local_date.max() <= (TINY.end_date + timedelta(days=1)).isoformat()


def test_movie_duration_is_the_runtime(tiny_world: World) -> None:
    titles = tiny_world.titles.set_index("title_id")
    views = tiny_world.views
    kind = titles.kind.loc[views.title_id].to_numpy()
    runtime = titles.runtime_minutes.astype(int).loc[views.title_id].to_numpy() * 60
    movies = kind == "movie"
    assert (views.duration_seconds[movies] == runtime[movies]).all()
    ratio = views.duration_seconds[~movies] / runtime[~movies]
    assert ratio.between(0.89, 1.11).all()


def test_no_view_before_release_and_no_upcoming_title_viewed(tiny_world: World) -> None:
    release = tiny_world.titles.set_index("title_id").release_date
    views = tiny_world.views
    assert (views.local_date >= release.loc[views.title_id].to_numpy()).all()
    upcoming = set(release[release > TINY.end_date.isoformat()].index)
    assert upcoming, "some titles are announced for after the period"
    assert not upcoming & set(views.title_id)
    assert not upcoming & set(tiny_world.exposures.title_id)


def test_every_user_signs_up_once_at_signup_date(tiny_world: World) -> None:
    subs = tiny_world.subscriptions
    signups = subs[subs.event == "signup"].set_index("user_id")
    assert signups.index.is_unique
    assert set(signups.index) == set(tiny_world.users.user_id)
    users = tiny_world.users.set_index("user_id")
    assert (signups.occurred_at.str[:10] == users.signup_date.loc[signups.index]).all()
    assert (signups.plan == users.plan.loc[signups.index]).all()


def test_subscription_lifecycle_is_consistent(tiny_world: World) -> None:
    subs = tiny_world.subscriptions
    assert not subs.duplicated(["user_id", "event", "occurred_at"]).any()
    assert set(subs.event) == {"signup", "cancel", "reactivate", "plan_change"}
    assert (subs.monthly_price.astype(float) == subs.plan.map(PLAN_PRICES)).all()
    for user, events in subs.sort_values("ts").groupby("user_id"):
        active, plan = False, None
        for event, new_plan in zip(events.event, events.plan, strict=True):
            if event == "signup":
                assert plan is None, user
                active = True
            elif event == "cancel":
                assert active, user
                assert new_plan == plan, user
                active = False
            elif event == "reactivate":
                assert not active and plan is not None, user
                active = True
            else:
                assert active and new_plan != plan, user
            plan = new_plan


def _active_intervals(world: World) -> pd.DataFrame:
    """(user_id, start, end) of each subscribed stretch, end = cancel time or far future."""
    subs = world.subscriptions.sort_values(["user_id", "ts"])
    starts = subs[subs.event.isin(["signup", "reactivate"])][["user_id", "ts"]]
    ends = subs[subs.event == "cancel"][["user_id", "ts"]]
    starts = starts.assign(k=starts.groupby("user_id").cumcount())
    ends = ends.assign(k=ends.groupby("user_id").cumcount())
    merged = starts.merge(ends, on=["user_id", "k"], how="left", suffixes=("_start", "_end"))
    merged["ts_end"] = merged.ts_end.fillna(pd.Timestamp("2100-01-01", tz="UTC"))
    return merged.rename(columns={"ts_start": "start", "ts_end": "end"})


@pytest.mark.parametrize("entity", ["views", "exposures", "ratings"])
def test_no_activity_outside_a_subscription(tiny_world: World, entity: str) -> None:
    frame = getattr(tiny_world, entity).copy()
    column = {"views": "started_at", "exposures": "shown_at", "ratings": "rated_at"}[entity]
    frame["begin"] = utc(frame[column])
    frame["finish"] = frame.begin
    if entity == "views":
        frame["finish"] = frame.begin + pd.to_timedelta(frame.watch_seconds, unit="s")
    frame["row"] = range(len(frame))
    merged = frame[["row", "user_id", "begin", "finish"]].merge(
        _active_intervals(tiny_world), on="user_id"
    )
    inside = (merged.begin >= merged.start) & (merged.finish <= merged.end)
    covered = merged[inside].row.unique()
    assert len(covered) == len(frame), f"{len(frame) - len(covered)} {entity} while not subscribed"


def test_some_users_cancel_and_some_come_back(tiny_world: World) -> None:
    events = tiny_world.subscriptions.event.value_counts()
    assert events["cancel"] > 0
    assert events["reactivate"] > 0
    assert events["plan_change"] > 0


def test_ratings(tiny_world: World) -> None:
    ratings = tiny_world.ratings
    stars = ratings.rating.astype(float)
    assert stars.between(1, 5).all()
    assert ((stars * 2) % 1 == 0).all()
    assert not ratings.duplicated(["user_id", "title_id"]).any()
    assert set(ratings.title_id) <= set(tiny_world.titles.title_id)
    # A rating follows a substantial view of the title by the same user.
    views = tiny_world.views
    watched = set(zip(views.user_id, views.title_id, strict=True))
    assert all(pair in watched for pair in zip(ratings.user_id, ratings.title_id, strict=True))


def test_exposures(tiny_world: World) -> None:
    exposures = tiny_world.exposures
    assert exposures.event_id.is_unique
    assert exposures.event_id.str.fullmatch(r"x\d{10}").all()
    assert set(exposures.experiment_id) == {"artwork_warm_tones", "artwork_title_font"}
    assert set(exposures.variant) == {"control", "treatment"}
    assert set(exposures.user_id) <= set(tiny_world.users.user_id)
    assert set(exposures.title_id) <= set(tiny_world.titles.title_id)
    # One stable variant per user and experiment: the documented hash.
    pairs = exposures.drop_duplicates(["experiment_id", "user_id", "variant"])
    assert not pairs.duplicated(["experiment_id", "user_id"]).any()
    for exp, user, variant in pairs[["experiment_id", "user_id", "variant"]].itertuples(
        index=False
    ):
        digest = hashlib.sha256(f"{exp}:{user}".encode()).hexdigest()
        assert variant == ("control", "treatment")[int(digest[:16], 16) % 2]


def test_exposures_fall_in_the_experiment_window(tiny_world: World) -> None:
    experiments = {
        e["experiment_id"]: e for e in tiny_world.json("experiments.json")["experiments"]
    }
    exposures = tiny_world.exposures
    local_date = exposures.shown_at.str[:10]
    for exp_id, rows in local_date.groupby(exposures.experiment_id):
        start = date.fromisoformat(experiments[exp_id]["start_date"])
        end = date.fromisoformat(experiments[exp_id]["end_date"])
        # Impressions precede their sitting by at most minutes, so one may fall just before
        # midnight of the first day.
        assert rows.min() >= (start - timedelta(days=1)).isoformat()
        assert rows.max() <= (end + timedelta(days=1)).isoformat()


def test_truth_files(tiny_world: World) -> None:
    truth = tiny_world.truth
    assert sorted(p.name for p in truth.iterdir()) == [
        "churn.csv", "drift.json", "experiments.json", "nudges.json", "titles.csv", "users.csv",
        "world.json",
    ]  # fmt: skip
    users = tiny_world.truth_users
    assert list(users.user_id) == list(tiny_world.users.user_id)
    assert set(users.archetype) <= set(ARCHETYPE_NAMES)
    assert {"engagement", "taste_0", "genre_pref_sci_fi", "device_pref_mobile"} <= set(users)
    titles = tiny_world.truth_titles
    assert list(titles.title_id) == list(tiny_world.titles.title_id)
    assert {"quality", "appeal", "popularity", "tone", "factor_0"} <= set(titles)
    churn = tiny_world.churn
    assert list(churn.columns[:4]) == ["user_id", "month", "churn_probability", "cancelled"]
    assert churn.churn_probability.between(0, 1).all()
    assert set(churn.cancelled) <= {0, 1}
    assert not churn.duplicated(["user_id", "month"]).any()
    world = tiny_world.json("world.json")
    assert world["config"]["seed"] == TINY.seed
    assert world["date_range"] == {
        "start": TINY.start_date.isoformat(),
        "end": TINY.end_date.isoformat(),
    }
    assert len(world["archetypes"]) >= 7
    assert all(a["description"].endswith(".") for a in world["archetypes"])


def test_churn_truth_matches_the_cancel_events(tiny_world: World) -> None:
    churn = tiny_world.churn
    subs = tiny_world.subscriptions
    cancels = subs[subs.event == "cancel"]
    cancelled = churn[churn.cancelled == 1]
    assert len(cancelled) == len(cancels)
    assert sorted(zip(cancelled.user_id, cancelled.cancel_date, strict=True)) == sorted(
        zip(cancels.user_id, cancels.occurred_at.str[:10], strict=True)
    )


def test_drift_truth_without_drift(tiny_world: World) -> None:
    drift = tiny_world.json("drift.json")
    assert drift["drift"] is False
    assert drift["drift_start_date"] is None
    assert drift["expected_drifted_features"] == []


def test_drift_truth_with_drift(tiny_drift_world: World) -> None:
    drift = tiny_drift_world.json("drift.json")
    assert drift["drift"] is True
    start = date.fromisoformat(drift["drift_start_date"])
    assert start == TINY.start_date + timedelta(days=TINY.days - round(TINY.days * 0.25))
    expected = drift["expected_drifted_features"]
    assert {"device_share_mobile", "genre_share_anime", "genre_share_drama"} <= set(expected)
    pattern = r"(device_share_(tv|mobile|tablet|web)|genre_share_[a-z_]+|hour_share_[a-z_]+)"
    assert all(re.fullmatch(pattern, name) for name in expected)


def test_mid_month_start_across_a_year_end(tmp_path) -> None:
    from ml.world import WorldConfig, generate_world

    cfg = WorldConfig(users=200, titles=30, days=45, seed=3, start_date=date(2025, 12, 20))
    generate_world(cfg, out=tmp_path, progress=False)
    churn = pd.read_csv(tmp_path / "truth" / "churn.csv")
    assert set(churn.evaluated_on) == {"2025-12-20", "2026-01-01", "2026-02-01"}
    assert set(churn.month) == {"2025-12", "2026-01", "2026-02"}
    # Partial months (12 of December's 31 days, 2 of February's 28) scale the probability down.
    mean = churn.groupby("month").churn_probability.mean()
    assert mean["2026-02"] < mean["2025-12"] < mean["2026-01"]
    views = sorted(p.stem for p in (tmp_path / "landing" / "views").glob("*.jsonl"))
    assert views[0] == "2025-12-20" and views[-1] == "2026-02-02"
