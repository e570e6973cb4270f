"""The landing contract as data: entities, their fields, keys, checks and references.

Ingest generates its validation SQL from these specs, so a new field or rule is one line here
rather than a change in several SQL strings. Names follow ``raw_schema.sql``; the vocabularies
are the ones declared in ``ml/vocabulary.py``, which the generator and dbt share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from ml.vocabulary import (
    DEVICES,
    KINDS,
    NUDGE_ACTIONS,
    OPT_OUT_CHANNELS,
    PLANS,
    SUBSCRIPTION_EVENTS,
)

#: The value kinds a landed field can have. Each maps to one typed column in `raw`.
Kind = Literal["text", "int", "double", "bool", "date", "timestamp"]


@dataclass(frozen=True)
class Field:
    """One landed field and how it is checked.

    Attributes:
        name: the field name in the landing file and the column name in `raw`.
        kind: how the text is parsed; a ``timestamp`` becomes two columns (``name`` in UTC and
            ``name_local``, the wall clock in the offset it was landed with).
        required: a missing or empty value quarantines the row.
        choices: the allowed values (exact, case-sensitive), or empty for any value.
        event_time: when the row happened (a timestamp, or a date such as signup_date): held
            to the plausible time window at ingest (not after the batch's ingest time plus
            a tolerance, not before the earliest plausible date; see ``ingest_config.TimeRules``).
            A title's release_date is not one: catalogs announce titles ahead and list old films.
    """

    name: str
    kind: Kind = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    event_time: bool = False


@dataclass(frozen=True)
class Check:
    """A row rule beyond types: ``bad`` is a SQL condition over typed columns (true = quarantine).

    ``reason`` is a SQL expression producing the one-line reason; it may use the typed columns.
    Checks run after type checks, so every column they read is already the right type (or null).
    """

    bad: str
    reason: str


@dataclass(frozen=True)
class Entity:
    """One landing entity: its fields, its key and the rules a row must pass to be loaded.

    Attributes:
        name: the entity folder name and the `raw` table name.
        fields: the contract fields in table order.
        key: the fields that identify a row; a second row with the same key is a duplicate
            (identical content) or a conflict (different content, quarantined).
        checks: value rules after type checks; a row records every one it fails.
        refs: (field, entity) pairs: the value must exist as that entity's key in `raw`.
        key_label: how a conflict message names the key (e.g. "event_id").
        dimension: a slowly changing attribute table (titles, users): a changed re-landed row is a
            conflict, since dimension updates are out of scope for now.
    """

    name: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    checks: tuple[Check, ...] = ()
    refs: tuple[tuple[str, str], ...] = ()
    key_label: str = ""
    dimension: bool = False

    @property
    def required(self) -> tuple[str, ...]:
        """Names of the fields every row must have (and every file must provide)."""
        return tuple(f.name for f in self.fields if f.required)

    @property
    def field_names(self) -> tuple[str, ...]:
        """Names of all contract fields, in table order."""
        return tuple(f.name for f in self.fields)

    def columns(self) -> tuple[str, ...]:
        """The typed `raw` columns this entity writes (timestamps expand to UTC + local)."""
        out: list[str] = []
        for f in self.fields:
            out.append(f.name)
            if f.kind == "timestamp":
                out.append(f"{f.name}_local")
        return tuple(out)


def show(expr: str) -> str:
    """SQL rendering a value for a reason message: quoted and cut to 60 characters."""
    return f"'''' || left(cast({expr} as varchar), 60) || ''''"


TITLES = Entity(
    name="titles",
    fields=(
        Field("title_id", required=True),
        Field("title", required=True),
        Field("kind", required=True, choices=KINDS),
        Field("genres"),
        Field("release_date", "date"),
        Field("runtime_minutes", "int"),
        Field("seasons", "int"),
        Field("maturity_rating"),
        Field("country"),
        Field("language"),
        Field("director"),
        Field("cast"),
        Field("synopsis"),
    ),
    key=("title_id",),
    checks=(
        Check("runtime_minutes <= 0", "'runtime_minutes must be > 0, got ' || runtime_minutes"),
        Check("seasons <= 0", "'seasons must be > 0, got ' || seasons"),
    ),
    key_label="title_id",
    dimension=True,
)

USERS = Entity(
    name="users",
    fields=(
        Field("user_id", required=True),
        Field("signup_date", "date", required=True, event_time=True),
        Field("country"),
        Field("plan", choices=PLANS),
        Field("age_band"),
    ),
    key=("user_id",),
    key_label="user_id",
    dimension=True,
)

SUBSCRIPTIONS = Entity(
    name="subscriptions",
    fields=(
        Field("user_id", required=True),
        Field("event", required=True, choices=SUBSCRIPTION_EVENTS),
        Field("occurred_at", "timestamp", required=True, event_time=True),
        Field("plan", choices=PLANS),
        Field("monthly_price", "double"),
    ),
    key=("user_id", "event", "occurred_at"),
    checks=(Check("monthly_price < 0", "'monthly_price must be >= 0, got ' || monthly_price"),),
    refs=(("user_id", "users"),),
    key_label="subscription event",
)

RATINGS = Entity(
    name="ratings",
    fields=(
        Field("user_id", required=True),
        Field("title_id", required=True),
        Field("rated_at", "timestamp", required=True, event_time=True),
        Field("rating", "double", required=True),
    ),
    key=("user_id", "title_id", "rated_at"),
    checks=(
        Check(
            "rating < 0.5 or rating > 5",
            "'rating ' || rating || ' is outside 0.5..5'",
        ),
    ),
    refs=(("user_id", "users"), ("title_id", "titles")),
    key_label="rating",
)

#: A playback longer than this is not a session but a broken counter (3 x the length + 10 min).
WATCH_LIMIT_SQL = "3 * duration_seconds + 600"

VIEWS = Entity(
    name="views",
    fields=(
        Field("event_id", required=True),
        Field("user_id", required=True),
        Field("title_id", required=True),
        Field("device", required=True, choices=DEVICES),
        Field("started_at", "timestamp", required=True, event_time=True),
        Field("watch_seconds", "int", required=True),
        Field("duration_seconds", "int", required=True),
    ),
    key=("event_id",),
    checks=(
        Check("watch_seconds < 0", "'watch_seconds must be >= 0, got ' || watch_seconds"),
        Check(
            "duration_seconds <= 0",
            "'duration_seconds must be > 0, got ' || duration_seconds",
        ),
        Check(
            f"watch_seconds > {WATCH_LIMIT_SQL}",
            "'watch_seconds ' || watch_seconds || ' exceeds 3 x duration_seconds + 600 ("
            "duration_seconds ' || duration_seconds || ')'",
        ),
    ),
    refs=(("user_id", "users"), ("title_id", "titles")),
    key_label="event_id",
)

EXPOSURES = Entity(
    name="exposures",
    fields=(
        Field("event_id", required=True),
        Field("experiment_id", required=True),
        Field("variant", required=True),
        Field("user_id", required=True),
        Field("title_id", required=True),
        Field("shown_at", "timestamp", required=True, event_time=True),
        Field("clicked", "bool", required=True),
    ),
    key=("event_id",),
    refs=(("user_id", "users"), ("title_id", "titles")),
    key_label="event_id",
)

NUDGES = Entity(
    name="nudges",
    fields=(
        Field("event_id", required=True),
        Field("user_id", required=True),
        Field("campaign_id", required=True),
        Field("sent_at", "timestamp", required=True, event_time=True),
        Field("action", required=True, choices=NUDGE_ACTIONS),
        Field("propensity", "double", required=True),
        Field("title_id"),  # the teaser's title; empty for other actions
    ),
    key=("event_id",),
    checks=(
        Check(
            "propensity <= 0 or propensity > 1",
            "'propensity ' || propensity || ' is outside (0, 1]'",
        ),
        Check(
            "action = 'teaser' and title_id is null",
            "'a teaser needs a title_id'",
        ),
    ),
    # title_id is optional: the reference is checked only when a value is given.
    refs=(("user_id", "users"), ("title_id", "titles")),
    key_label="event_id",
)

OPT_OUTS = Entity(
    name="opt_outs",
    fields=(
        Field("user_id", required=True),
        Field("channel", required=True, choices=OPT_OUT_CHANNELS),
        Field("opted_out_at", "timestamp", required=True, event_time=True),
    ),
    key=("user_id", "channel"),
    refs=(("user_id", "users"),),
    key_label="opt-out",
)

#: Entities in dependency order: a file may only reference entities loaded before it. Views
#: come before ratings because a rating is checked against the user's first view of the title.
ENTITIES: Final[dict[str, Entity]] = {
    e.name: e for e in (TITLES, USERS, SUBSCRIPTIONS, VIEWS, RATINGS, EXPOSURES, NUDGES, OPT_OUTS)
}

#: The dimensions a fact can wait for: a row whose only fault is an unknown reference to one of
#: these is kept in quarantine as *waiting* and re-admitted once the dimension lands.
DIMENSIONS: Final = tuple(e.name for e in ENTITIES.values() if e.dimension)
