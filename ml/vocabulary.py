"""The vocabularies of the data contract, declared once: every layer derives from here.

The landing contract (`warehouse/spec.py`) accepts these values, the synthetic world draws
from them, the models name columns and rows after them, and the dbt project pivots on them
(its seeds and `macros/vocabularies.sql` are checked against this module by
`tests/dbt/test_dbt_vocabularies.py`, which fails when a copy differs). Feature columns are
named from the slugs: `genre_share_<slug>`, `device_share_<device>`, `hour_share_<bucket>`.
Changing an entry here is a contract change for every layer.
"""

from __future__ import annotations

from typing import Final

# (display name as landed in titles.genres, slug used in dbt column names)
GENRES: Final[tuple[tuple[str, str], ...]] = (
    ("Action", "action"),
    ("Comedy", "comedy"),
    ("Drama", "drama"),
    ("Crime", "crime"),
    ("Thriller", "thriller"),
    ("Horror", "horror"),
    ("Romance", "romance"),
    ("Sci-Fi", "sci_fi"),
    ("Fantasy", "fantasy"),
    ("Documentary", "documentary"),
    ("Animation", "animation"),
    ("Family", "family"),
    ("Reality", "reality"),
    ("Anime", "anime"),
)
GENRE_NAMES: Final[tuple[str, ...]] = tuple(name for name, _ in GENRES)
GENRE_SLUGS: Final[tuple[str, ...]] = tuple(slug for _, slug in GENRES)
GENRE_INDEX: Final[dict[str, int]] = {slug: i for i, slug in enumerate(GENRE_SLUGS)}

DEVICES: Final[tuple[str, ...]] = ("tv", "mobile", "tablet", "web")

# Local hour-of-day buckets used downstream: (bucket, hours it covers).
HOUR_BUCKETS: Final[tuple[tuple[str, tuple[int, ...]], ...]] = (
    ("late_night", (22, 23, 0, 1, 2, 3, 4, 5)),
    ("morning", (6, 7, 8, 9, 10)),
    ("midday", (11, 12, 13, 14)),
    ("afternoon", (15, 16, 17)),
    ("evening", (18, 19, 20, 21)),
)


def hour_bucket(hour: int) -> str:
    """The bucket of a local hour (0..23); one definition shared by generator and tests."""
    for name, hours in HOUR_BUCKETS:
        if hour in hours:
            return name
    raise ValueError(f"hour must be in 0..23, got {hour}")


KINDS: Final[tuple[str, ...]] = ("movie", "series")
PLANS: Final[tuple[str, ...]] = ("basic", "standard", "premium")
AGE_BANDS: Final[tuple[str, ...]] = ("18-24", "25-34", "35-44", "45-54", "55+")
MOVIE_RATINGS: Final[tuple[str, ...]] = ("G", "PG", "PG-13", "R")
SERIES_RATINGS: Final[tuple[str, ...]] = ("TV-Y", "TV-PG", "TV-14", "TV-MA")
SUBSCRIPTION_EVENTS: Final[tuple[str, ...]] = ("signup", "cancel", "reactivate", "plan_change")

#: What a genre outside the list pivots to in the marts (`genre_share_other`).
OTHER_GENRE: Final = "other"

#: Re-engagement actions as landed in `nudges.action` and planned by the policy: `none` is a
#: logged control (nothing sent).
NUDGE_ACTIONS: Final[tuple[str, ...]] = ("none", "email", "push", "discount", "teaser")
#: Channels a contact goes out on; an opt-out names one of them or `all`.
CONTACT_CHANNELS: Final[tuple[str, ...]] = ("email", "push")
OPT_OUT_CHANNELS: Final[tuple[str, ...]] = (*CONTACT_CHANNELS, "all")
#: The channel each action is delivered on (a discount is an e-mail offer, a teaser a push
#: card); `none` sends nothing.
ACTION_CHANNEL: Final[dict[str, str | None]] = {
    "none": None,
    "email": "email",
    "push": "push",
    "discount": "email",
    "teaser": "push",
}
